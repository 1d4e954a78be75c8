"""AppTest: the Reports page renders every report with its chart and numbers for a book with
figures in each, a manager drills from a country into its accounts, a collector sees only their
own accounts, and a period that ends before it starts is refused."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from core import db
from core.models import Customer
from core.money import Money
from core.roles import Role
from core.services import disputes, promises, users
from tests.factories import SYSTEM, make_customer, make_invoice
from tests.ui.helpers import commit_staff, signed_in, tables_with, texts

TODAY = date.today()


@pytest.fixture(scope="module")
def staff(database):
    return commit_staff(f"rep{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def book(staff):
    """A collector's accounts: overdue invoices, one disputed, one with a promise due next week."""
    with db.transaction() as session:
        collector = users.find_active_user(session, staff[Role.COLLECTOR])
        ids = []
        for days in (5, 45, 200, 500):  # 500: overdue before the default period began, for recovery
            customer_id = make_customer(
                session, collector_id=collector.id, name=f"Report Debtor {days} {uuid.uuid4().hex[:4]}"
            )
            session.get(Customer, customer_id).collector_id = collector.id
            ids.append((customer_id, make_invoice(session, customer_id, amount="1200.00", due_in_days=-days)))
        disputes.open_dispute(session, SYSTEM, ids[0][1], category="wrong_amount")
        promises.make_promise(
            session, SYSTEM, ids[1][0], amount=Money("500.00", "PHP"), due_on=TODAY + timedelta(days=7)
        )
    return ids


def opened(username: str):
    at = signed_in(username, "reports")
    assert not at.exception, at.exception
    assert texts(at.title) == ["Reports"]
    return at


def test_every_report_renders_with_its_numbers_for_a_manager(staff, book):
    at = opened(staff[Role.MANAGER])

    assert not at.error
    assert tables_with(at, "1-30") and tables_with(at, "180+")  # aging: totals and groups
    assert tables_with(at, "dso_countback")  # DSO and CEI numbers
    assert tables_with(at, "overdue_at_start")  # recovery
    assert tables_with(at, "category")  # disputes
    assert tables_with(at, "weighted")  # the forecast: the promise due next week
    assert any(m.label.startswith("Recovered, PHP") for m in at.metric)
    assert len(at.get("vega_lite_chart")) >= 5


def test_a_manager_drills_from_a_country_into_its_accounts(staff, book):
    at = opened(staff[Role.MANAGER])

    at.segmented_control(key="reports_aging_group").set_value("country").run()
    at.selectbox(key="reports_aging_drill").set_value("PH").run()

    assert not at.exception
    names = {name for frame in tables_with(at, "label") for name in frame["label"]}
    assert any(name.startswith("Report Debtor 200") for name in names)


def test_a_collector_sees_only_their_own_accounts(staff, book):
    at = opened(staff[Role.COLLECTOR])

    assert "Your accounts only." in texts(at.caption)
    groups = tables_with(at, "label")
    labels = {name for frame in groups for name in frame["label"]}
    assert labels and all(name.startswith("Report Debtor") for name in labels)


def test_a_period_ending_before_it_starts_is_refused(staff, book):
    at = opened(staff[Role.MANAGER])

    at.date_input(key="reports_period").set_value((TODAY, TODAY - timedelta(days=3))).run()

    assert texts(at.error) == ["The period must start on or before its end."]
    assert not at.dataframe
