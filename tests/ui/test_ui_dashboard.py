"""The dashboard: per-currency balances for the committed book, never added across currencies."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core import db
from core.aging import BUCKETS
from core.roles import Role
from core.services.dashboard import book_summary, month_figures
from core.services.users import find_active_user
from tests.ui.helpers import commit_book, commit_staff, signed_in, tables_with, texts
from ui import fmt


@pytest.fixture(scope="module")
def staff(database: str) -> dict[Role, str]:
    names = commit_staff("ui_dash")
    commit_book("ui_dash")
    return names


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.VIEWER], ids=str)
def test_the_dashboard_shows_open_balance_per_currency(staff, role):
    at = signed_in(staff[role])

    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Open balance · PHP" in labels
    assert "Open balance · USD" in labels


def test_a_collector_without_accounts_sees_that_nothing_of_theirs_is_owed(staff):
    at = signed_in(staff[Role.COLLECTOR])  # the book's accounts are assigned to nobody

    assert not at.exception
    assert metrics(at)["Customers"] == "0"
    assert "None of the accounts assigned to you owes anything as of this date." in texts(at.info)


def test_the_dashboard_shows_what_the_book_summary_says(staff):
    with db.transaction() as session:
        viewer = find_active_user(session, staff[Role.VIEWER])
        assert viewer is not None
        book = book_summary(session, viewer.as_actor(), as_of=date.today())
    at = signed_in(staff[Role.VIEWER])

    shown = metrics(at)
    for summary in book.currencies:
        assert shown[f"Open balance · {summary.currency}"] == fmt.money(summary.open_balance)
    php, usd = (next(s for s in book.currencies if s.currency == c) for c in ("PHP", "USD"))
    assert php.overdue_balance.amount > 0 and usd.overdue_balance.amount > 0
    overdue_cells = [m.value for m in at.metric if m.label == "Overdue"]
    assert fmt.money(php.overdue_balance) in overdue_cells
    assert fmt.money(usd.overdue_balance) in overdue_cells
    assert shown["Customers"] == f"{book.customers:,}"


def test_the_aging_table_has_a_column_per_currency_and_a_row_per_bucket(staff):
    at = signed_in(staff[Role.MANAGER])

    (table,) = tables_with(at, "PHP")
    assert {"PHP", "USD"} <= set(table.columns)
    assert list(table.index) == list(BUCKETS)
    assert not at.exception


def test_the_aging_table_offers_csv_and_xlsx_downloads(staff):
    at = signed_in(staff[Role.VIEWER])

    assert [button.label for button in at.download_button] == ["Download CSV", "Download XLSX"]
    assert [button.key for button in at.download_button] == [
        "dashboard_aging_download_csv",
        "dashboard_aging_download_xlsx",
    ]


def test_a_date_before_any_invoice_shows_that_nothing_is_owed(staff):
    at = signed_in(staff[Role.VIEWER])

    nine_years_ago = date.today() - timedelta(days=9 * 365)  # the date input reaches back ten years
    at = at.date_input(key="dashboard_as_of").set_value(nine_years_ago).run()

    assert not at.exception
    assert any("Nothing is owed" in message for message in texts(at.info))
    assert not any("·" in m.label for m in at.metric)
    assert not at.dataframe
    assert not at.download_button


def test_the_dashboard_shows_this_months_dso_cei_and_collections_as_the_service_computes_them(staff):
    with db.transaction() as session:
        manager = find_active_user(session, staff[Role.MANAGER])
        assert manager is not None
        month = month_figures(session, manager.as_actor(), as_of=date.today())
    at = signed_in(staff[Role.MANAGER])

    shown = metrics(at)
    assert month and {f.currency for f in month} >= {"PHP", "USD"}
    for figures in month:
        assert shown[f"DSO · {figures.currency}"] == ("—" if figures.dso is None else f"{figures.dso} days")
    assert [m.value for m in at.metric if m.label == "Collected this month"] == [fmt.money(f.collected) for f in month]
    assert {"Plans current", "Plans late", "Plans broken", "Reminders since yesterday"} <= set(shown)
