"""Payment plans: managers edit plans and instalments in two grids and save them together; the
save is refused cell by cell when a rule breaks, and as a whole when another manager saved first;
collectors and viewers only read; proposals are approved here."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core import db
from core.models import PaymentPlan
from core.money import Money
from core.roles import Role
from core.services import plan_status, plans, users
from core.services.plan_grid import Grid
from core.services.plans import PlanRequest
from tests.factories import SYSTEM, make_customer, make_invoice, make_user
from tests.ui.helpers import commit_staff, signed_in, tables_with, texts
from ui import fmt

TODAY = date.today()


@pytest.fixture(scope="module")
def staff(database: str) -> dict[Role, str]:
    names = commit_staff("ui_plans")
    with db.transaction() as session:
        if users.find_active_user(session, "ui_plans_manager2") is None:
            make_user(session, Role.MANAGER, username="ui_plans_manager2")
    return names


def commit_plan(collector: str, *, by: str = "ui_plans_manager") -> tuple[int, str]:
    """A committed customer of collector owing 900.00, on a monthly plan of three payments of
    300.00 starting today: agreed by a manager, or proposed when `by` is a collector. Returns
    the plan id and the customer's name."""
    name = f"Plan Debtor {uuid.uuid4().hex[:8]}"
    with db.transaction() as session:
        owner = users.find_active_user(session, collector)
        author = users.find_active_user(session, by)
        assert owner is not None and author is not None
        customer_id = make_customer(session, collector_id=owner.id, name=name)
        make_invoice(session, customer_id, amount="900.00", due_in_days=-30)
        request = PlanRequest(currency="PHP", instalments=3, frequency="monthly", first_due_on=TODAY)
        plan_id = plans.create_plan(session, author.as_actor(), customer_id, request, today=TODAY)
    return plan_id, name


def stored(plan_id: int) -> tuple[PaymentPlan, list[tuple[date, Decimal]]]:
    """The plan as committed, and its instalments' dates and amounts in date order."""
    with db.transaction() as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        session.expunge(plan)
        views = plans.account_plans(session, SYSTEM, plan.customer_id, as_of=TODAY)
    [view] = [v for v in views if v.plan_id == plan_id]
    return plan, [(line.due_on, line.amount.amount) for line in view.instalments]


def grid(at: AppTest) -> Grid:
    return at.session_state["plans_grid"]


def editor_keys(at: AppTest) -> tuple[str, str]:
    revision = at.session_state["plans_revision"]
    return f"plans_editor_{revision}", f"plans_instalments_{revision}"


def positions(at: AppTest, plan_id: int) -> tuple[int, list[int]]:
    """Where a plan sits in the loaded grid: its plan row and its instalment rows."""
    loaded = grid(at)
    [row] = [n for n, p in enumerate(loaded.plans) if p.plan_id == plan_id]
    return row, [n for n, i in enumerate(loaded.instalments) if i.plan_id == plan_id]


def edit(
    at: AppTest,
    *,
    plan_rows: dict[int, dict[str, Any]] | None = None,
    edited: dict[int, dict[str, Any]] | None = None,
    added: list[dict[str, Any]] | None = None,
    deleted: list[int] | None = None,
) -> AppTest:
    """Leave the editors as a browser would after the user's edits: the edit state holds row
    positions and raw cell values (numbers as JSON numbers, dates as ISO strings)."""
    plans_key, instalments_key = editor_keys(at)
    at.session_state[plans_key] = {"edited_rows": plan_rows or {}, "added_rows": [], "deleted_rows": []}
    at.session_state[instalments_key] = {
        "edited_rows": edited or {},
        "added_rows": added or [],
        "deleted_rows": deleted or [],
    }
    return at


def save(at: AppTest) -> AppTest:
    return at.button(key="plans_save").click().run()


def opened_by(username: str) -> AppTest:
    at = signed_in(username, "plans")
    assert not at.exception
    assert texts(at.title) == ["Payment plans"]
    return at


def test_a_manager_sees_every_plan_and_saves_instalment_and_total_edits(staff):
    plan_id, name = commit_plan(staff[Role.COLLECTOR])
    at = opened_by(staff[Role.MANAGER])
    plan_row, (_, second, third) = positions(at, plan_id)
    plans_editor, instalments_editor = at.data_editor
    row = plans_editor.value.iloc[plan_row]
    assert (row["Plan"], row["Status"], row["Total"]) == (plan_id, "current", Decimal("900.00"))
    assert row["Customer"].startswith(name) and row["Scheduled"] == fmt.money(Money("900.00", "PHP"))
    assert instalments_editor.editing_mode == "dynamic"
    later = TODAY + timedelta(days=75)

    at = edit(
        at,
        plan_rows={plan_row: {"Total": 1100}},
        edited={second: {"Due": later.isoformat(), "Amount": 350.5}, third: {"Amount": 349.5}},
        added=[{"Plan": plan_id, "Due": (later + timedelta(days=30)).isoformat(), "Amount": 100}],
    )
    at = save(at)

    assert not at.exception
    assert not at.error
    (message,) = texts(at.success)
    assert message.startswith(f"Saved. Plan #{plan_id}: ")
    assert "changed the total from ₱900.00 to ₱1,100.00" in message
    plan, schedule = stored(plan_id)
    assert (plan.total, plan.version, plan.updated_by) == (Decimal("1100.00"), 2, staff[Role.MANAGER])
    assert sorted(amount for _, amount in schedule) == sorted(
        [Decimal("300.00"), Decimal("350.50"), Decimal("349.50"), Decimal("100.00")]
    )
    assert later in [due for due, _ in schedule]
    plan_row, rows = positions(at, plan_id)  # the grid was reloaded with the saved values
    assert at.data_editor[0].value.iloc[plan_row]["Total"] == Decimal("1100.00")
    assert len(rows) == 4


def test_deleting_and_adding_instalment_rows_is_saved_with_what_changed(staff):
    plan_id, _ = commit_plan(staff[Role.COLLECTOR])
    at = opened_by(staff[Role.MANAGER])
    _, (_, _, third) = positions(at, plan_id)
    later = TODAY + timedelta(days=100)

    at = edit(at, deleted=[third], added=[{"Plan": plan_id, "Due": later.isoformat(), "Amount": 300}])
    at = save(at)

    assert not at.error
    (message,) = texts(at.success)
    assert "deleted the " in message and f"added an instalment of ₱300.00 due {later:%d %b %Y}" in message
    _, schedule = stored(plan_id)
    assert len(schedule) == 3 and schedule[-1] == (later, Decimal("300.00"))


def test_instalments_that_no_longer_add_up_are_refused_cell_by_cell_and_nothing_is_saved(staff):
    plan_id, _ = commit_plan(staff[Role.COLLECTOR])
    at = opened_by(staff[Role.MANAGER])
    _, (first, second, third) = positions(at, plan_id)
    revision = at.session_state["plans_revision"]
    _, before = stored(plan_id)

    at = edit(
        at,
        edited={second: {"Amount": 250}, third: {"Due": (TODAY - timedelta(days=5)).isoformat()}},
    )
    at = save(at)

    assert not at.exception
    assert texts(at.error) == ["Nothing was saved: 2 problem(s). Your edits are kept; fix them and save."]
    (problems,) = tables_with(at, "Problem")
    cells = {(row["Plan"], row["Row"], row["Column"]): row["Problem"] for _, row in problems.iterrows()}
    loaded = grid(at).instalments
    assert set(cells) == {
        (f"#{plan_id}", "the plan", "Total"),
        (f"#{plan_id}", f"row {third + 1} (due {loaded[third].due_on:%d %b %Y})", "Due"),
    }
    assert cells[(f"#{plan_id}", "the plan", "Total")].startswith("the instalments add up to ₱850.00")
    plan, after = stored(plan_id)
    assert (plan.version, after) == (1, before)
    assert at.session_state["plans_revision"] == revision  # the same editors, still holding the edits
    assert set(at.session_state[editor_keys(at)[1]]["edited_rows"]) == {second, third}
    assert first not in at.session_state[editor_keys(at)[1]]["edited_rows"]


def test_the_second_of_two_managers_saving_the_same_plan_is_refused_naming_the_first(staff):
    plan_id, _ = commit_plan(staff[Role.COLLECTOR])
    first_manager, second_manager = staff[Role.MANAGER], "ui_plans_manager2"
    one, two = opened_by(first_manager), opened_by(second_manager)
    _, (_, second_row, _) = positions(one, plan_id)
    _, (_, second_row_two, third_row_two) = positions(two, plan_id)
    moved = TODAY + timedelta(days=50)
    one = edit(one, edited={second_row: {"Due": moved.isoformat()}})
    two = edit(two, edited={second_row_two: {"Amount": 250}, third_row_two: {"Amount": 350}})

    one = save(one)
    assert not one.error
    assert texts(one.success)[0].startswith(f"Saved. Plan #{plan_id}: moved the ")
    revision = two.session_state["plans_revision"]
    two = save(two)

    assert not two.exception
    (message,) = texts(two.error)
    assert message.startswith("Nothing was saved: someone changed these plans after you loaded the grid")
    assert f"plan #{plan_id} " in message and f"was changed by {first_manager}: moved the " in message
    plan, schedule = stored(plan_id)
    assert (plan.version, plan.updated_by) == (2, first_manager)
    assert (moved, Decimal("300.00")) in schedule
    assert [amount for _, amount in schedule] == [Decimal("300.00")] * 3
    assert two.session_state["plans_revision"] == revision + 1  # reloaded: fresh values, edits gone
    _, rows = positions(two, plan_id)
    assert moved in {grid(two).instalments[n].due_on for n in rows}
    assert not two.session_state[editor_keys(two)[1]]["edited_rows"]


def test_a_collector_reads_only_their_own_plans(staff):
    with db.transaction() as session:
        if users.find_active_user(session, "ui_plans_other") is None:
            make_user(session, Role.COLLECTOR, username="ui_plans_other")
    mine, _ = commit_plan(staff[Role.COLLECTOR])
    theirs, _ = commit_plan("ui_plans_other")

    at = opened_by(staff[Role.COLLECTOR])

    assert not at.error
    assert not at.data_editor
    assert "plans_save" not in {button.key for button in at.button}
    assert "plans_collector" not in {box.key for box in at.selectbox}
    (table,) = [t for t in tables_with(at, "Status") if "Last change" in t.columns]
    assert mine in set(table["Plan"]) and theirs not in set(table["Plan"])
    assert {i.plan_id for i in grid(at).instalments} <= set(table["Plan"])


def test_a_viewer_reads_every_plan_without_editing(staff):
    plan_id, _ = commit_plan(staff[Role.COLLECTOR])

    at = opened_by(staff[Role.VIEWER])

    assert not at.error
    assert not at.data_editor
    assert "plans_save" not in {button.key for button in at.button}
    assert plan_id in {p.plan_id for p in grid(at).plans}


def test_filters_narrow_the_grid_to_one_collector_and_status(staff):
    with db.transaction() as session:
        lone = users.find_active_user(session, "ui_plans_lone") or make_user(
            session, Role.COLLECTOR, username="ui_plans_lone"
        )
    plan_id, _ = commit_plan("ui_plans_lone")
    at = opened_by(staff[Role.MANAGER])

    at = at.selectbox(key="plans_collector").select(lone.id).run()

    assert [p.plan_id for p in grid(at).plans] == [plan_id]
    at = at.multiselect(key="plans_statuses").set_value(["broken"]).run()
    assert not grid(at).plans
    assert "No plan matches these filters." in texts(at.info)


def test_a_manager_approves_one_proposal_and_rejects_another_with_a_reason(staff):
    collector = staff[Role.COLLECTOR]
    approved, _ = commit_plan(collector, by=collector)
    rejected, _ = commit_plan(collector, by=collector)
    seen_by_collector = opened_by(collector)
    assert f"plans_approve_{approved}" not in {button.key for button in seen_by_collector.button}
    at = opened_by(staff[Role.MANAGER])

    at = at.button(key=f"plans_approve_{approved}").click().run()

    assert not at.error
    assert f"Plan #{approved} approved: it runs now." in texts(at.success)
    at = at.button(key=f"plans_reject_{rejected}").click().run()
    assert texts(at.error) and texts(at.error)[0].startswith("Why the plan is rejected")
    at = at.text_input(key=f"plans_reject_reason_{rejected}").input("Too long for this balance").run()
    at = at.button(key=f"plans_reject_{rejected}").click().run()
    assert f"Plan #{rejected} rejected." in texts(at.success)
    assert f"plans_approve_{rejected}" not in {button.key for button in at.button}
    with db.transaction() as session:
        rows = session.execute(
            select(PaymentPlan.id, PaymentPlan.status, PaymentPlan.approved_by).where(
                PaymentPlan.id.in_([approved, rejected])
            )
        )
        decided = {plan_id: (status, by) for plan_id, status, by in rows}
    assert decided == {approved: ("current", staff[Role.MANAGER]), rejected: ("rejected", None)}


def test_coming_back_to_the_page_shows_plans_made_meanwhile(staff):
    at = opened_by(staff[Role.MANAGER])
    at.switch_page("pages/queue.py").run()
    plan_id, _ = commit_plan(staff[Role.COLLECTOR])

    at.switch_page("pages/plans.py").run()

    assert plan_id in {p.plan_id for p in grid(at).plans}


def test_a_manager_saves_the_plan_rules_and_a_bad_fee_is_a_clear_error(staff):
    """Saves the rules unchanged: the database is shared with tests that rely on the defaults."""
    with db.transaction() as session:
        before = plan_status.plan_settings_version(session)
    at = signed_in(staff[Role.MANAGER], "plans")

    at.text_input(key="plan_settings_fee").input("2.555")
    at.button(key="plan_settings_submit").click().run()
    assert any("two decimals" in e for e in texts(at.error))
    with db.transaction() as session:
        assert plan_status.plan_settings_version(session) == before

    at.text_input(key="plan_settings_fee").input("0")
    at.button(key="plan_settings_submit").click().run()

    assert "Plan settings saved." in texts(at.success)
    with db.transaction() as session:
        assert plan_status.plan_settings_version(session) == before + 1
        assert plan_status.plan_settings(session) == plan_status.PlanSettings()
