"""Keeping payment plans in step with the money: what payments have put towards each plan, its
instalments filled in date order, and its status as of a day. refresh_accounts() runs this for
every change to an account; the daily batch runs settle_plans() for the calendar."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, any_, func, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from core import plans as rules
from core.errors import ValidationError
from core.models import AccountSummary, Allocation, Customer, PaymentPlan, PlanInstalment, PlanInvoice, Setting
from core.money import Money
from core.roles import Actor, Permission
from core.services import audit
from core.services.activities import NewActivity, add_to_timeline
from core.services.settings import save_setting

SETTINGS_KEY = "payment_plans"
# Plans whose instalments still count: a proposal or a rejected or cancelled plan has none.
COUNTED = ("current", "late", "broken", "completed")


@dataclass(frozen=True)
class PlanSettings:
    broken_after_missed: int = 2
    broken_after_days_late: int = 30
    fee_percent: Decimal = Decimal(0)
    collectors_may_propose: bool = True

    @property
    def rules(self) -> rules.PlanRules:
        return rules.PlanRules(self.broken_after_missed, self.broken_after_days_late)


def among(ids: Iterable[int]) -> Any:
    """`= ANY(:ids)` with the ids as one array parameter: an import touches a hundred thousand
    customers, more than the 65,535 parameters an expanded IN (…) may have."""
    return any_(literal(list(ids), ARRAY(Integer)))


def plan_settings(session: Session) -> PlanSettings:
    row = session.get(Setting, SETTINGS_KEY)
    if row is None:
        return PlanSettings()
    value = row.value
    default = PlanSettings()
    return PlanSettings(
        broken_after_missed=int(value.get("broken_after_missed", default.broken_after_missed)),
        broken_after_days_late=int(value.get("broken_after_days_late", default.broken_after_days_late)),
        fee_percent=Decimal(str(value.get("fee_percent", default.fee_percent))),
        collectors_may_propose=bool(value.get("collectors_may_propose", default.collectors_may_propose)),
    )


def plan_settings_version(session: Session) -> int:
    return session.scalar(select(Setting.version).where(Setting.key == SETTINGS_KEY)) or 0


def save_plan_settings(session: Session, actor: Actor, new: PlanSettings, *, version: int) -> None:
    """Store the plan rules. version is what the form loaded (0: never saved); if someone saved
    since, nothing is written and the Conflict names who."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "settings.payment_plans", "setting", SETTINGS_KEY)
    if not 1 <= new.broken_after_missed <= 24:
        raise ValidationError("A plan breaks after 1 to 24 missed instalments.")
    if not 1 <= new.broken_after_days_late <= 365:
        raise ValidationError("A plan breaks after 1 to 365 days late.")
    if not 0 <= new.fee_percent <= 100 or new.fee_percent != new.fee_percent.quantize(Decimal("0.01")):
        raise ValidationError("The plan fee is a percentage from 0 to 100 with at most two decimals.")
    values = {
        "broken_after_missed": new.broken_after_missed,
        "broken_after_days_late": new.broken_after_days_late,
        "fee_percent": str(new.fee_percent),
        "collectors_may_propose": new.collectors_may_propose,
    }
    save_setting(session, actor, SETTINGS_KEY, values, version=version, what="plan settings")


def paid_towards(session: Session, plan_ids: list[int]) -> dict[int, Decimal]:
    """Money received for each plan: what payments allocated to its invoices since it was made
    (credit notes and write-offs are not payments; a reversed payment has no allocations left)."""
    if not plan_ids:
        return {}
    rows = session.execute(
        select(PaymentPlan.id, PaymentPlan.total, func.sum(Allocation.amount))
        .join(PlanInvoice, PlanInvoice.plan_id == PaymentPlan.id)
        .join(
            Allocation,
            (Allocation.invoice_id == PlanInvoice.invoice_id)
            & Allocation.payment_id.is_not(None)
            & (Allocation.created_at >= PaymentPlan.created_at),
        )
        .where(PaymentPlan.id == among(plan_ids))
        .group_by(PaymentPlan.id)
    )
    # Payments may pay more of the plan's invoices than the plan covers (a plan for part of them).
    return {plan_id: min(paid, total) for plan_id, total, paid in rows}


def instalment_states(session: Session, plan: PaymentPlan) -> list[rules.InstalmentState]:
    dues = [
        rules.Due(i.due_on, Money(i.amount, plan.currency), i.down_payment)
        for i in session.scalars(
            select(PlanInstalment)
            .where(PlanInstalment.plan_id == plan.id)
            .order_by(PlanInstalment.due_on, PlanInstalment.id)
        )
    ]
    return rules.fill(dues, Money(plan.paid_amount, plan.currency))


_EVENTS = {
    "late": "late: an instalment is past due and not fully paid",
    "broken": "broken",
    "completed": "completed: every instalment is paid",
    "current": "back on schedule",
}


def refresh_plans(
    session: Session, customer_ids: Iterable[int] | None, *, as_of: date, actor: Actor | None = None
) -> dict[int, int]:
    """Bring the plans of these customers (None: all) up to date as of a day: paid amounts,
    then status, each change on the timeline and in the audit log with its version bumped so an
    open plan editor sees it. Returns missed instalments per customer, for the work queue."""
    actor = actor or Actor.system_process("plans")
    query = select(PaymentPlan).where(PaymentPlan.status.in_(COUNTED)).with_for_update()
    if customer_ids is not None:
        query = query.where(PaymentPlan.customer_id == among(customer_ids))
    plans = list(session.scalars(query.order_by(PaymentPlan.id)))
    paid = paid_towards(session, [p.id for p in plans])
    settings = plan_settings(session)
    missed: dict[int, int] = {}
    for plan in plans:
        new_paid = paid.get(plan.id, Decimal(0))
        changes = []
        if new_paid != plan.paid_amount:
            changes.append(
                f"paid towards the plan went from {Money(plan.paid_amount, plan.currency).format()} "
                f"to {Money(new_paid, plan.currency).format()}"
            )
            plan.paid_amount = new_paid
        states = instalment_states(session, plan)
        status = rules.status_on(plan.status, states, as_of, settings.rules)
        if status != plan.status:
            _status_changed(session, actor, plan, status, states, as_of)
            changes.append(f"status {plan.status} → {status}")
            plan.status, plan.status_since = status, as_of
        if changes:
            plan.version += 1
            plan.updated_by = actor.username
            plan.last_change = "; ".join(changes)
        if plan.status in ("late", "broken"):
            count = sum(1 for s in states if s.state(as_of) == "missed")
            missed[plan.customer_id] = missed.get(plan.customer_id, 0) + count
    session.flush()
    return missed


def _status_changed(
    session: Session, actor: Actor, plan: PaymentPlan, status: str, states: list[rules.InstalmentState], as_of: date
) -> None:
    missed = [s for s in states if s.state(as_of) == "missed"]
    overdue = sum((s.left for s in missed), Money.zero(plan.currency))
    summary = f"Plan #{plan.id} of {Money(plan.total, plan.currency).format()} {_EVENTS[status]}"
    if status == "broken":
        summary += (
            f": {len(missed)} instalment(s) missed, {overdue.format()} overdue; the account is back in collection"
        )
    add_to_timeline(
        session,
        actor,
        plan.customer_id,
        NewActivity(kind="plan", summary=summary, details={"plan_id": plan.id, "status": status}),
    )
    if status in ("late", "broken"):  # back in today's queue, whatever follow-up the plan had scheduled
        customer = session.get(Customer, plan.customer_id, with_for_update=True)
        if customer is not None and (customer.next_action_on is None or customer.next_action_on > as_of):
            customer.next_action_on = as_of
            customer.next_action_note = f"Plan #{plan.id} {status}: call the customer"
            customer.version += 1
    audit.record(
        session,
        actor,
        "plan.status",
        "payment_plan",
        plan.id,
        before={"status": plan.status},
        after={"status": status, "as_of": as_of.isoformat(), "missed": len(missed), "overdue": str(overdue.amount)},
    )


def store_missed(session: Session, customer_ids: list[int] | None, missed: dict[int, int]) -> None:
    """Write missed instalments into the work queue's summaries (after they were rebuilt)."""
    reset = update(AccountSummary).values(missed_instalments=0).where(AccountSummary.missed_instalments != 0)
    if customer_ids is not None:
        reset = reset.where(AccountSummary.customer_id == among(customer_ids))
    session.execute(reset)
    for customer_id, count in missed.items():
        session.execute(
            update(AccountSummary).where(AccountSummary.customer_id == customer_id).values(missed_instalments=count)
        )
