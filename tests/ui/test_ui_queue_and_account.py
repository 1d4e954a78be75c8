"""AppTest: the work queue and the account page for each role, driven through their widgets."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from core import db
from core.models import Promise
from core.money import Money
from core.roles import Role
from core.services import promises, users
from tests.factories import make_customer, make_invoice
from tests.ui.helpers import commit_staff, signed_in, texts
from tests.ui.helpers import open_account as account

TODAY = date.today()


@pytest.fixture(scope="module")
def desk(database):
    prefix = f"q{uuid.uuid4().hex[:6]}"
    staff = commit_staff(prefix)
    with db.transaction() as session:
        collector = users.find_active_user(session, staff[Role.COLLECTOR])
        mine = make_customer(session, collector_id=collector.id, name=f"{prefix} Mine Trading")
        make_invoice(session, mine, amount="4000.00", due_in_days=-50, number=f"{prefix}-1")
        theirs = make_customer(session, name=f"{prefix} Unassigned Corp")
        make_invoice(session, theirs, amount="900.00", due_in_days=-20, number=f"{prefix}-2")
    return {"staff": staff, "mine": mine, "theirs": theirs, "prefix": prefix}


def test_a_collectors_queue_shows_their_account_with_its_reasons(desk):
    at = signed_in(desk["staff"][Role.COLLECTOR], "queue")

    assert not at.exception
    assert at.toggle(key="queue_mine").value is True
    markdown = " ".join(texts(at.caption))
    assert "days past due" in markdown and "Why:" in markdown
    assert f"{desk['prefix']} Unassigned Corp" not in str(at)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_can_open_the_queue_and_search_it(desk, role):
    at = signed_in(desk["staff"][role], "queue")
    at.toggle(key="queue_mine").set_value(False)
    at.text_input(key="queue_search").input(desk["prefix"]).run()

    assert not at.exception
    assert not at.error
    assert "2 accounts to work today" in " ".join(texts(at.caption))


def test_a_manager_assigns_accounts_in_bulk_from_the_queue(desk):
    at = signed_in(desk["staff"][Role.MANAGER], "queue")
    at.toggle(key="queue_mine").set_value(False)
    at.text_input(key="queue_search").input(f"{desk['prefix']} Unassigned").run()
    at.checkbox(key="queue_assign_all").check()
    with db.transaction() as session:
        manager_id = users.find_active_user(session, desk["staff"][Role.MANAGER]).id
    at.selectbox(key="queue_assign_to").set_value(manager_id)
    at.button(key="queue_assign_submit").click().run()

    assert not at.exception
    assert "1 account reassigned." in texts(at.success)


def test_the_account_page_shows_balances_invoices_and_the_timeline(desk):
    at = account(desk["staff"][Role.COLLECTOR], desk["mine"])

    assert not at.exception
    assert texts(at.title) == [f"{desk['prefix']} Mine Trading"]
    assert any("Open balance" in m.label for m in at.metric)
    assert any("Invoice" in frame.value.columns for frame in at.dataframe)


def test_a_collector_logs_a_call_with_a_promise_and_sees_it_on_the_timeline(desk):
    at = account(desk["staff"][Role.COLLECTOR], desk["mine"])
    at.selectbox(key="call_outcome").set_value("promise_made")
    at.text_input(key="call_promise_amount").input("1,500.00")
    at.date_input(key="call_promise_date").set_value(TODAY + timedelta(days=2))
    at.text_area(key="call_note").input("Pays on Friday")
    at.button(key="call_submit").click().run()

    assert not at.exception
    assert not at.error, texts(at.error)
    timeline = texts(at.markdown)
    assert any("Promised ₱1,500.00" in s for s in timeline)
    assert any("Promise made" in s and "Pays on Friday" in s for s in timeline)
    with db.transaction() as session:
        due = session.scalar(select(Promise.due_on).where(Promise.customer_id == desk["mine"]))
    assert due == TODAY + timedelta(days=2)


def test_a_bad_amount_is_a_clear_error_and_nothing_is_saved(desk):
    at = account(desk["staff"][Role.COLLECTOR], desk["mine"])
    at.text_input(key="promise_amount").input("lots")
    at.button(key="promise_submit").click().run()

    assert "'lots' is not an amount in PHP such as 1500 or 1,500.00." in texts(at.error)


def test_another_collectors_account_is_read_only_with_a_clear_message(desk):
    with db.transaction() as session:
        other = make_customer(session, name=f"{desk['prefix']} Elsewhere", collector_id=None)
    at = account(desk["staff"][Role.COLLECTOR], other)

    assert not at.exception
    assert any("you can read it, but not act" in text or "can read accounts" in text for text in texts(at.info))
    assert not [b for b in at.button if b.key == "call_submit"]


def test_a_viewer_reads_the_account_with_masked_contacts_and_no_actions(desk):
    at = account(desk["staff"][Role.VIEWER], desk["mine"])

    assert not at.exception
    assert "•" in " ".join(m.value for m in at.markdown)
    assert not [b for b in at.button if b.key == "call_submit"]


def test_an_unknown_account_id_is_a_plain_message(desk):
    at = account(desk["staff"][Role.MANAGER], 987654321)
    assert "No customer with id 987654321." in texts(at.error)


def test_home_shows_a_collectors_broken_promise_with_a_link_to_the_account(desk):
    with db.transaction() as session:
        collector = users.find_active_user(session, desk["staff"][Role.COLLECTOR])
        late = make_customer(session, collector_id=collector.id, name=f"{desk['prefix']} Late Payer")
        make_invoice(session, late, amount="700.00", due_in_days=-30)
        promises.make_promise(
            session,
            collector.as_actor(),
            late,
            amount=Money("700", "PHP"),
            due_on=TODAY - timedelta(days=1),
            today=TODAY - timedelta(days=3),
        )

    at = signed_in(desk["staff"][Role.COLLECTOR])

    assert not at.exception
    links = [link.label for link in at.get("page_link") if "Late Payer" in str(link.label)]
    assert links and "**broken**" in links[0]
