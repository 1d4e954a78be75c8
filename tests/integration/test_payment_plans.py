"""Payment plans against real PostgreSQL: agreeing one, payments filling its instalments, every
status change on a fixed clock, reversals, proposals, the queue and Home, and the grid's save."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.errors import Conflict, PermissionDenied, ValidationError
from core.models import AccountSummary, AuditEntry, PaymentPlan
from core.money import Money
from core.roles import Role
from core.services import accounts, ledger, payments, plan_grid, plans, queue, summaries
from core.services.plan_grid import GridFilter, InstalmentEdit, PlanEdit
from core.services.plans import PlanRequest
from core.services.queue import QueueFilter
from tests.factories import SYSTEM, make_customer, make_invoice, make_user

TODAY = date.today()


@pytest.fixture
def manager(session):
    return make_user(session, Role.MANAGER).as_actor()


@pytest.fixture
def collector(session):
    return make_user(session, Role.COLLECTOR)


def account(session, collector, *amounts, currency="PHP"):
    customer = make_customer(session, collector_id=collector.id)
    invoices = [make_invoice(session, customer, amount=a, currency=currency, due_in_days=-60) for a in amounts]
    return customer, invoices


def monthly(count=3, *, first=TODAY, currency="PHP", **kwargs):
    return PlanRequest(currency=currency, instalments=count, frequency="monthly", first_due_on=first, **kwargs)


def status(session, plan_id):
    session.expire_all()
    return session.get(PaymentPlan, plan_id).status


def pay(session, customer, amount, currency="PHP", ref=None):
    return ledger.record_payment(
        session,
        SYSTEM,
        customer,
        amount=Money(amount, currency),
        received_on=TODAY,
        reference=ref or f"PAY-{customer}-{amount}-{id(object())}",
    )


def test_a_plan_covers_the_open_balance_and_its_schedule_sums_to_the_total(session, manager, collector):
    customer, _ = account(session, collector, "1000.00", "500.00")
    ledger.record_payment(
        session, SYSTEM, customer, amount=Money("100", "PHP"), received_on=TODAY, reference=f"pre-{customer}"
    )

    plan_id = plans.create_plan(session, manager, customer, monthly(3, down_payment=Money("200", "PHP")))

    [view] = plans.account_plans(session, manager, customer, as_of=TODAY)
    assert view.status == "current"
    assert view.total == Money("1400", "PHP")
    assert [line.amount.amount for line in view.instalments] == [
        Decimal("200.00"),
        Decimal("400.00"),
        Decimal("400.00"),
        Decimal("400.00"),
    ]
    assert view.instalments[0].down_payment
    timeline = accounts.account_timeline(session, SYSTEM, customer, kinds=("plan",))
    assert any(f"Plan #{plan_id} agreed" in entry.summary for entry in timeline)
    assert session.get(PaymentPlan, plan_id).approved_by == manager.username


def test_a_plan_in_yen_and_in_dinar_rounds_to_the_minor_unit_with_the_rest_on_the_last(session, manager, collector):
    yen, _ = account(session, collector, "10000", currency="JPY")
    dinar, _ = account(session, collector, "100.000", currency="KWD")

    plans.create_plan(session, manager, yen, monthly(3, currency="JPY"))
    plans.create_plan(session, manager, dinar, monthly(3, currency="KWD"))

    [jpy] = plans.account_plans(session, manager, yen, as_of=TODAY)
    [kwd] = plans.account_plans(session, manager, dinar, as_of=TODAY)
    assert [i.amount.amount for i in jpy.instalments] == [Decimal(3333), Decimal(3333), Decimal(3334)]
    assert [i.amount.amount for i in kwd.instalments] == [Decimal("33.333"), Decimal("33.333"), Decimal("33.334")]


def test_payments_fill_instalments_in_order_and_a_partial_one_shows_as_partial(session, manager, collector):
    customer, _ = account(session, collector, "900.00")
    plans.create_plan(session, manager, customer, monthly(3))

    pay(session, customer, "450.00")

    [view] = plans.account_plans(session, manager, customer, as_of=TODAY)
    assert [(i.paid.amount, i.state) for i in view.instalments] == [
        (Decimal("300.00"), "paid"),
        (Decimal("150.00"), "partial"),
        (Decimal("0.00"), "due"),
    ]


def test_every_status_transition_of_a_plan_on_a_fixed_clock(session, manager, collector):
    customer, _ = account(session, collector, "900.00")
    plan_id = plans.create_plan(session, manager, customer, monthly(3))
    first, second = TODAY, TODAY + timedelta(days=31)

    summaries.settle_plans(session, as_of=first)
    assert status(session, plan_id) == "current"  # due today is not late

    summaries.settle_plans(session, as_of=first + timedelta(days=1))
    assert status(session, plan_id) == "late"
    assert session.get(AccountSummary, customer).missed_instalments == 1

    pay(session, customer, "300.00")
    summaries.settle_plans(session, as_of=first + timedelta(days=1))
    assert status(session, plan_id) == "current"
    assert session.get(AccountSummary, customer).missed_instalments == 0

    summaries.settle_plans(session, as_of=second + timedelta(days=30))  # 30 days late: broken (default rule)
    assert status(session, plan_id) == "broken"
    timeline = [e.summary for e in accounts.account_timeline(session, SYSTEM, customer, kinds=("plan",))]
    assert any("broken" in s and "back in collection" in s for s in timeline)
    assert any("late" in s for s in timeline)

    pay(session, customer, "600.00")  # a broken plan stays broken even when paid up
    assert status(session, plan_id) == "broken"


def test_a_plan_paid_in_full_is_completed_and_a_reversal_makes_it_run_again(session, manager, collector):
    customer, _ = account(session, collector, "600.00")
    plan_id = plans.create_plan(session, manager, customer, monthly(2))
    payment = pay(session, customer, "600.00")
    assert status(session, plan_id) == "completed"

    payments.reverse_payment(session, manager, payment.payment_id, reason="Cheque bounced")

    assert status(session, plan_id) == "current"
    [view] = plans.account_plans(session, manager, customer, as_of=TODAY)
    assert [i.state for i in view.instalments] == ["due", "due"]
    assert ledger.open_balance(session, plan_invoice(session, plan_id)).amount == Decimal("600.00")


def plan_invoice(session, plan_id):
    from core.models import PlanInvoice

    return session.scalar(select(PlanInvoice.invoice_id).where(PlanInvoice.plan_id == plan_id))


def test_two_missed_instalments_break_a_plan_and_lift_the_account_in_the_queue(session, manager, collector):
    customer, _ = account(session, collector, "900.00")
    other, _ = account(session, collector, "900.00")
    plan_id = plans.create_plan(session, manager, customer, monthly(3, first=TODAY))
    as_of = TODAY + timedelta(days=33)  # the first two instalments missed, each less than 30 days late

    summaries.settle_plans(session, as_of=as_of)

    assert status(session, plan_id) == "broken"
    page = queue.list_work_queue(session, collector.as_actor(), QueueFilter(mine=True), as_of=as_of, page_size=100)
    order = [row.customer_id for row in page.rows if row.customer_id in (customer, other)]
    assert order == [customer, other]
    assert "missed instalment" in page.rows[0].priority.explain()


def test_a_collector_proposes_and_a_manager_approves_or_rejects(session, manager, collector):
    customer, _ = account(session, collector, "500.00")
    plan_id = plans.create_plan(session, collector.as_actor(), customer, monthly(2))
    assert status(session, plan_id) == "proposed"
    with pytest.raises(PermissionDenied):
        plans.decide_proposal(session, collector.as_actor(), plan_id, approve=True)
    with pytest.raises(ValidationError, match="Why"):
        plans.decide_proposal(session, manager, plan_id, approve=False)

    plans.decide_proposal(session, manager, plan_id, approve=True)

    assert status(session, plan_id) == "current"
    second, _ = account(session, collector, "200.00")
    rejected = plans.create_plan(session, collector.as_actor(), second, monthly(1))
    plans.decide_proposal(session, manager, rejected, approve=False, reason="Balance too high for 1 month")
    assert status(session, rejected) == "rejected"


def test_an_invoice_cannot_be_in_two_running_plans_nor_in_dispute(session, manager, collector):
    customer, [invoice] = account(session, collector, "500.00")
    plans.create_plan(session, manager, customer, monthly(2))
    with pytest.raises(Conflict, match="already in a running or proposed plan"):
        plans.create_plan(session, manager, customer, monthly(2, invoice_ids=(invoice,)))
    with pytest.raises(ValidationError, match="in the past"):
        plans.create_plan(session, manager, customer, monthly(2, first=TODAY - timedelta(days=1)))


def test_a_payment_goes_to_the_plan_before_older_invoices_outside_it(session, manager, collector):
    customer = make_customer(session, collector_id=collector.id)
    older = make_invoice(session, customer, amount="1000.00", due_in_days=-90)
    planned = make_invoice(session, customer, amount="600.00", due_in_days=-10)
    plans.create_plan(session, manager, customer, monthly(2, invoice_ids=(planned,)))

    result = pay(session, customer, "300.00")

    assert set(result.allocated) == {planned}
    assert ledger.open_balance(session, older).amount == Decimal("1000.00")


def test_home_lists_instalments_due_today_missed_and_plans_broken_this_week(session, manager, collector):
    due_today, _ = account(session, collector, "300.00")
    plans.create_plan(session, manager, due_today, monthly(1, first=TODAY))
    missed, _ = account(session, collector, "300.00")
    plans.create_plan(session, manager, missed, monthly(3, first=TODAY))

    events = plans.plans_needing_attention(session, collector.as_actor(), as_of=TODAY)
    assert ("due today", due_today) in {(e.what, e.customer_id) for e in events}

    later = TODAY + timedelta(days=1)
    summaries.settle_plans(session, as_of=later)
    events = {
        (e.what, e.customer_id) for e in plans.plans_needing_attention(session, collector.as_actor(), as_of=later)
    }
    assert ("missed", missed) in events


def grid_of(session, actor, customer):
    grid = plan_grid.load_grid(session, actor, GridFilter(statuses=()), as_of=TODAY)
    [plan] = [p for p in grid.plans if p.customer_id == customer]
    rows = [(n, r) for n, r in enumerate(grid.instalments) if r.plan_id == plan.plan_id]
    return plan, rows


def test_the_grid_saves_edits_all_or_nothing_and_audits_before_and_after(session, manager, collector):
    customer, _ = account(session, collector, "900.00")
    plans.create_plan(session, manager, customer, monthly(3))
    plan, rows = grid_of(session, manager, customer)
    (n1, first), (n2, second), (n3, third) = rows

    with pytest.raises(plan_grid.GridInvalid) as invalid:
        plan_grid.save_grid(
            session,
            manager,
            [PlanEdit(plan.plan_id, plan.version)],
            [
                InstalmentEdit(plan.plan_id, n1, first.instalment_id, amount=Decimal("250.00")),
                InstalmentEdit(plan.plan_id, n2, second.instalment_id, due_on=TODAY - timedelta(days=5)),
                InstalmentEdit(plan.plan_id, n3, third.instalment_id, amount=Decimal("-1")),
            ],
        )
    columns = {(e.row, e.column) for e in invalid.value.errors}
    assert {(n2, "due_on"), (n3, "amount")} <= columns
    assert session.get(PaymentPlan, plan.plan_id).version == plan.version  # nothing saved

    later = TODAY + timedelta(days=45)
    plan_grid.save_grid(
        session,
        manager,
        [PlanEdit(plan.plan_id, plan.version)],
        [
            InstalmentEdit(plan.plan_id, n2, second.instalment_id, due_on=later, amount=Decimal("250.00")),
            InstalmentEdit(plan.plan_id, 99, None, due_on=later + timedelta(days=30), amount=Decimal("50.00")),
        ],
    )

    [view] = plans.account_plans(session, manager, customer, as_of=TODAY)
    assert [(i.due_on, i.amount.amount) for i in view.instalments][1:] == [
        (later, Decimal("250.00")),
        (third.due_on, Decimal("300.00")),
        (later + timedelta(days=30), Decimal("50.00")),
    ]
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "plan.edit", AuditEntry.entity_id == str(plan.plan_id))
    ).one()
    assert entry.before["instalments"][1]["amount"] == "300.0000"
    assert "moved the" in entry.after["changes"][0]


def test_a_stale_grid_is_refused_naming_who_changed_the_plan_and_a_payment_counts(session, manager, collector):
    other = make_user(session, Role.MANAGER).as_actor()
    customer, _ = account(session, collector, "900.00")
    plans.create_plan(session, manager, customer, monthly(3))
    plan, rows = grid_of(session, manager, customer)
    (n1, first), *_ = rows

    pay(session, customer, "100.00")  # arrives while the grid is open
    with pytest.raises(plan_grid.GridConflict, match="paid towards the plan"):
        plan_grid.save_grid(
            session,
            other,
            [PlanEdit(plan.plan_id, plan.version, total=Decimal("950.00"))],
            [InstalmentEdit(plan.plan_id, n1, first.instalment_id, amount=Decimal("350.00"))],
        )

    assert session.get(PaymentPlan, plan.plan_id).total == Decimal("900.00")


def test_the_grid_refuses_a_currency_change_and_a_schedule_that_does_not_sum(session, manager, collector):
    customer, _ = account(session, collector, "900.00")
    plans.create_plan(session, manager, customer, monthly(3))
    plan, rows = grid_of(session, manager, customer)
    (n1, first), *_ = rows

    with pytest.raises(plan_grid.GridInvalid) as invalid:
        plan_grid.save_grid(
            session,
            manager,
            [PlanEdit(plan.plan_id, plan.version, currency="USD")],
            [InstalmentEdit(plan.plan_id, n1, first.instalment_id, amount=Decimal("100.00"))],
        )

    messages = " ".join(e.message for e in invalid.value.errors)
    assert "currency cannot change" in messages
    assert "add up to ₱700.00" in messages or "add up to PHP" in messages or "700.00" in messages


def test_a_collector_cannot_save_the_grid(session, manager, collector):
    with pytest.raises(PermissionDenied):
        plan_grid.save_grid(session, collector.as_actor(), [], [])


def test_plan_settings_decide_the_fee_and_when_a_plan_breaks_and_a_stale_save_is_refused(session, manager, collector):
    from core.services import plan_status
    from core.services.plan_status import PlanSettings

    version = plan_status.plan_settings_version(session)
    plan_status.save_plan_settings(
        session, manager, PlanSettings(broken_after_missed=1, fee_percent=Decimal("2.5")), version=version
    )
    with pytest.raises(Conflict, match=manager.username):
        plan_status.save_plan_settings(session, manager, PlanSettings(), version=version)
    with pytest.raises(ValidationError, match="two decimals"):
        plan_status.save_plan_settings(
            session, manager, PlanSettings(fee_percent=Decimal("1.234")), version=version + 1
        )
    customer, _ = account(session, collector, "1000.00")

    plan_id = plans.create_plan(session, manager, customer, monthly(2, with_fee=True))
    summaries.settle_plans(session, as_of=TODAY + timedelta(days=1))

    plan = session.get(PaymentPlan, plan_id)
    assert (plan.fee, plan.total) == (Decimal("25.0000"), Decimal("1025.0000"))
    assert status(session, plan_id) == "broken"  # one missed instalment is enough now


def test_refreshing_more_accounts_than_a_statement_has_parameters_works(session, manager, collector):
    """An import of a large file refreshes every customer it touched in one call."""
    customer, _ = account(session, collector, "900.00")
    plan_id = plans.create_plan(session, manager, customer, monthly(3))

    summaries.refresh_accounts(session, [*range(10_000_000, 10_070_000), customer])

    assert status(session, plan_id) == "current"
