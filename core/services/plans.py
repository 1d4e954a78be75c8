"""Payment plans on an account: preview and agree one (or propose it for a manager), approve or
reject a proposal, cancel a plan, and read plans with their instalments filled by payments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import plans as rules
from core.errors import Conflict, NotFound, ValidationError
from core.fields import required_text
from core.models import Allocation, Customer, Invoice, PaymentPlan, PlanInstalment, PlanInvoice, User
from core.money import Money
from core.roles import Actor, Permission
from core.services import audit
from core.services.activities import NewActivity, add_to_timeline
from core.services.customers import get_customer_row, require_work
from core.services.plan_status import instalment_states, plan_settings
from core.services.summaries import refresh_accounts

OPEN_STATUSES = ("proposed", "current", "late")  # a plan that still claims its invoices


@dataclass(frozen=True)
class PlanRequest:
    currency: str
    instalments: int
    frequency: str
    first_due_on: date
    invoice_ids: tuple[int, ...] | None = None  # None: every open, undisputed invoice in the currency
    down_payment: Money | None = None
    with_fee: bool = False
    custom_dates: tuple[date, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class PlanPreview:
    principal: Money
    fee: Money
    total: Money
    schedule: tuple[rules.Due, ...]
    invoice_numbers: tuple[str, ...]


@dataclass(frozen=True)
class InstalmentLine:
    instalment_id: int
    due_on: date
    amount: Money
    paid: Money
    state: str  # paid, partial, missed, due
    down_payment: bool


@dataclass(frozen=True)
class PlanView:
    plan_id: int
    customer_id: int
    status: str
    status_since: date
    currency: str
    principal: Money
    fee: Money
    total: Money
    paid: Money
    frequency: str
    starts_on: date
    created_by: str
    approved_by: str | None
    note: str
    version: int
    invoice_numbers: tuple[str, ...]
    instalments: tuple[InstalmentLine, ...] = field(default=())

    @property
    def left(self) -> Money:
        return self.total - self.paid


def _invoices_for(session: Session, customer_id: int, request: PlanRequest) -> list[tuple[Invoice, Money]]:
    query = (
        select(Invoice, func.coalesce(func.sum(Allocation.amount), 0))
        .outerjoin(Allocation, Allocation.invoice_id == Invoice.id)
        .where(Invoice.customer_id == customer_id, Invoice.currency == request.currency, Invoice.status == "open")
        .group_by(Invoice.id)
        .order_by(Invoice.due_date, Invoice.id)
    )
    if request.invoice_ids is not None:
        query = query.where(Invoice.id.in_(request.invoice_ids))
    rows = [(invoice, Money(invoice.amount - paid, invoice.currency)) for invoice, paid in session.execute(query)]
    if request.invoice_ids is not None:
        if len(rows) != len(set(request.invoice_ids)):
            raise ValidationError(
                f"Some of the chosen invoices are not open {request.currency} invoices of this customer."
            )
        if disputed := [invoice.number for invoice, _ in rows if invoice.disputed]:
            raise ValidationError(f"Invoices in dispute cannot go into a plan: {', '.join(disputed)}.")
    rows = [(invoice, owed) for invoice, owed in rows if not invoice.disputed and owed.amount > 0]
    if not rows:
        raise ValidationError(f"This customer owes nothing in {request.currency} that a plan could cover.")
    taken = session.scalars(
        select(Invoice.number)
        .join(PlanInvoice, PlanInvoice.invoice_id == Invoice.id)
        .join(PaymentPlan, PaymentPlan.id == PlanInvoice.plan_id)
        .where(PlanInvoice.invoice_id.in_([i.id for i, _ in rows]), PaymentPlan.status.in_(OPEN_STATUSES))
    ).all()
    if taken:
        raise Conflict(f"Invoices already in a running or proposed plan: {', '.join(taken)}. Cancel that plan first.")
    return rows


def _preview(session: Session, customer_id: int, request: PlanRequest, today: date) -> tuple[PlanPreview, list[int]]:
    if request.first_due_on < today:
        raise ValidationError(f"The first instalment date {request.first_due_on:%d %b %Y} is in the past.")
    rows = _invoices_for(session, customer_id, request)
    principal = sum((owed for _, owed in rows), Money.zero(request.currency))
    fee = (
        rules.fee_for(principal, plan_settings(session).fee_percent)
        if request.with_fee
        else Money.zero(request.currency)
    )
    terms = rules.Terms(
        total=principal + fee,
        instalments=request.instalments,
        frequency=request.frequency,
        first_due_on=request.first_due_on,
        down_payment=request.down_payment,
        down_payment_on=today if request.down_payment else None,
        custom_dates=request.custom_dates,
    )
    if request.frequency == "custom" and any(d < today for d in request.custom_dates):
        raise ValidationError("A custom schedule has a date in the past.")
    schedule = tuple(rules.schedule(terms))
    preview = PlanPreview(principal, fee, principal + fee, schedule, tuple(i.number for i, _ in rows))
    return preview, [invoice.id for invoice, _ in rows]


def preview_plan(
    session: Session, actor: Actor, customer_id: int, request: PlanRequest, *, today: date | None = None
) -> PlanPreview:
    """The schedule a request would give, without storing anything."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "plan.preview", "customer", customer_id)
    get_customer_row(session, customer_id)
    return _preview(session, customer_id, request, today or date.today())[0]


def create_plan(
    session: Session, actor: Actor, customer_id: int, request: PlanRequest, *, today: date | None = None
) -> int:
    """Agree a plan (a manager: it runs at once) or propose one (a collector, when the setting lets
    them: it waits for a manager). The account's next action becomes the day after the first
    payment is due."""
    today = today or date.today()
    customer = get_customer_row(session, customer_id, lock=True)
    if actor.may(Permission.MANAGE_ACCOUNTS):
        status = "current"
        require_work(session, actor, customer, "plan.create")
    else:
        require_work(session, actor, customer, "plan.propose")
        # A debtor on the portal may always ask; whether collectors may propose is the team's rule.
        if actor.debtor_of is None and not plan_settings(session).collectors_may_propose:
            audit.deny(
                actor,
                "Only a manager can set up a payment plan here: collectors may not propose plans.",
                "plan.propose",
                "customer",
                customer_id,
            )
        status = "proposed"
    preview, invoice_ids = _preview(session, customer_id, request, today)
    plan = PaymentPlan(
        customer_id=customer_id,
        currency=request.currency,
        principal=preview.principal.amount,
        fee=preview.fee.amount,
        total=preview.total.amount,
        frequency=request.frequency,
        starts_on=preview.schedule[0].due_on,
        status=status,
        status_since=today,
        paid_amount=0,
        note=request.note.strip()[:2000],
        created_by=actor.username,
        approved_by=actor.username if status == "current" else None,
        updated_by=actor.username,
        last_change="created",
        version=1,
    )
    session.add(plan)
    session.flush()
    session.add_all(PlanInvoice(plan_id=plan.id, invoice_id=invoice_id) for invoice_id in invoice_ids)
    session.add_all(
        PlanInstalment(plan_id=plan.id, due_on=due.due_on, amount=due.amount.amount, down_payment=due.down_payment)
        for due in preview.schedule
    )
    session.flush()
    verb = "agreed" if status == "current" else "proposed for approval"
    add_to_timeline(
        session,
        actor,
        customer_id,
        NewActivity(
            kind="plan",
            summary=(
                f"Plan #{plan.id} {verb}: {preview.total.format()} in {len(preview.schedule)} payment(s) "
                f"from {preview.schedule[0].due_on:%d %b %Y} ({request.frequency}), "
                f"invoices {', '.join(preview.invoice_numbers)}"
            ),
            details={"plan_id": plan.id, "status": status},
        ),
    )
    if status == "current":
        _schedule_follow_up(customer, preview.schedule[0])
    audit.record(
        session,
        actor,
        "plan.create",
        "payment_plan",
        plan.id,
        after={**audit.snapshot(plan), "invoices": invoice_ids, "schedule": _schedule_json(preview.schedule)},
    )
    refresh_accounts(session, [customer_id], actor=actor, as_of=today)
    return plan.id


def _schedule_follow_up(customer: Customer, first: rules.Due) -> None:
    customer.next_action_on = first.due_on + timedelta(days=1)
    customer.next_action_note = f"Check the plan payment of {first.amount.format()}"
    customer.version += 1


def _schedule_json(schedule: tuple[rules.Due, ...]) -> list[dict[str, str]]:
    return [{"due_on": d.due_on.isoformat(), "amount": str(d.amount.amount)} for d in schedule]


def _locked_plan(session: Session, plan_id: int, version: int | None) -> PaymentPlan:
    plan = session.get(PaymentPlan, plan_id, with_for_update=True)
    if plan is None:
        raise NotFound(f"No payment plan #{plan_id}.")
    if version is not None and plan.version != version:
        raise Conflict(f"Plan #{plan.id} changed since you opened it ({plan.updated_by}: {plan.last_change}); reload.")
    return plan


def decide_proposal(
    session: Session, actor: Actor, plan_id: int, *, approve: bool, reason: str = "", version: int | None = None
) -> None:
    """A manager approves a collector's proposed plan (it starts running) or rejects it, saying why."""
    action = "plan.approve" if approve else "plan.reject"
    audit.require(actor, Permission.MANAGE_ACCOUNTS, action, "payment_plan", plan_id)
    plan = _locked_plan(session, plan_id, version)
    if plan.status != "proposed":
        raise ValidationError(f"Plan #{plan.id} is {plan.status}, not awaiting approval.")
    if not approve:
        reason = required_text(reason, PaymentPlan.note, "Why the plan is rejected")
    before = audit.snapshot(plan)
    plan.status = "current" if approve else "rejected"
    plan.status_since = date.today()
    plan.approved_by = actor.username if approve else None
    plan.version += 1
    plan.updated_by = actor.username
    plan.last_change = "approved" if approve else f"rejected: {reason}"
    summary = f"Plan #{plan.id} approved by {actor.username}" if approve else f"Plan #{plan.id} rejected: {reason}"
    add_to_timeline(
        session, actor, plan.customer_id, NewActivity(kind="plan", summary=summary, details={"plan_id": plan.id})
    )
    if approve:
        customer = get_customer_row(session, plan.customer_id, lock=True)
        first = _first_open(session, plan)
        if first is not None:
            _schedule_follow_up(customer, first)
    session.flush()
    audit.record(session, actor, action, "payment_plan", plan.id, before=before, after=audit.snapshot(plan))
    refresh_accounts(session, [plan.customer_id], actor=actor)


def _first_open(session: Session, plan: PaymentPlan) -> rules.Due | None:
    first = session.scalars(
        select(PlanInstalment).where(PlanInstalment.plan_id == plan.id).order_by(PlanInstalment.due_on).limit(1)
    ).first()
    return None if first is None else rules.Due(first.due_on, Money(first.amount, plan.currency))


def cancel_plan(session: Session, actor: Actor, plan_id: int, *, reason: str, version: int | None = None) -> None:
    """End a plan before it is paid (renegotiated, agreed in error): its invoices are chased again."""
    plan = _locked_plan(session, plan_id, version)
    customer = get_customer_row(session, plan.customer_id)
    require_work(session, actor, customer, "plan.cancel")
    if not actor.may(Permission.MANAGE_ACCOUNTS) and plan.status != "proposed":
        audit.deny(actor, "Only a manager can cancel a running plan.", "plan.cancel", "payment_plan", plan_id)
    if plan.status in ("completed", "cancelled", "rejected"):
        raise ValidationError(f"Plan #{plan.id} is already {plan.status}.")
    reason = required_text(reason, PaymentPlan.note, "Why the plan is cancelled")
    before = audit.snapshot(plan)
    plan.status, plan.status_since = "cancelled", date.today()
    plan.version += 1
    plan.updated_by = actor.username
    plan.last_change = f"cancelled: {reason}"
    add_to_timeline(
        session,
        actor,
        plan.customer_id,
        NewActivity(kind="plan", summary=f"Plan #{plan.id} cancelled: {reason}", details={"plan_id": plan.id}),
    )
    session.flush()
    audit.record(session, actor, "plan.cancel", "payment_plan", plan.id, before=before, after=audit.snapshot(plan))
    refresh_accounts(session, [plan.customer_id], actor=actor)


def plan_view(session: Session, plan: PaymentPlan, as_of: date) -> PlanView:
    states = instalment_states(session, plan) if plan.status not in ("proposed", "rejected", "cancelled") else None
    instalments = list(
        session.scalars(
            select(PlanInstalment)
            .where(PlanInstalment.plan_id == plan.id)
            .order_by(PlanInstalment.due_on, PlanInstalment.id)
        )
    )
    numbers = session.scalars(
        select(Invoice.number)
        .join(PlanInvoice, PlanInvoice.invoice_id == Invoice.id)
        .where(PlanInvoice.plan_id == plan.id)
        .order_by(Invoice.due_date)
    ).all()
    lines = []
    for n, instalment in enumerate(instalments):
        amount = Money(instalment.amount, plan.currency)
        state = states[n] if states else rules.InstalmentState(instalment.due_on, amount, Money.zero(plan.currency))
        lines.append(
            InstalmentLine(
                instalment.id, instalment.due_on, amount, state.paid, state.state(as_of), instalment.down_payment
            )
        )
    return PlanView(
        plan_id=plan.id,
        customer_id=plan.customer_id,
        status=plan.status,
        status_since=plan.status_since,
        currency=plan.currency,
        principal=Money(plan.principal, plan.currency),
        fee=Money(plan.fee, plan.currency),
        total=Money(plan.total, plan.currency),
        paid=Money(plan.paid_amount, plan.currency),
        frequency=plan.frequency,
        starts_on=plan.starts_on,
        created_by=plan.created_by,
        approved_by=plan.approved_by,
        note=plan.note,
        version=plan.version,
        invoice_numbers=tuple(numbers),
        instalments=tuple(lines),
    )


def account_plans(session: Session, actor: Actor, customer_id: int, *, as_of: date) -> list[PlanView]:
    """Every plan of a customer, newest first, with each instalment paid, partial, missed or due."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "plan.view", "customer", customer_id)
    plans = session.scalars(
        select(PaymentPlan).where(PaymentPlan.customer_id == customer_id).order_by(PaymentPlan.id.desc())
    )
    return [plan_view(session, plan, as_of) for plan in plans]


@dataclass(frozen=True)
class PlanEvent:
    customer_id: int
    customer: str
    collector: str | None
    plan_id: int
    what: str  # "due today", "missed", "partial", "broken"
    on: date
    amount: Money  # what is due, missed, paid so far, or left


def plans_needing_attention(session: Session, actor: Actor, *, as_of: date, days: int = 7) -> list[PlanEvent]:
    """For Home: instalments due today, instalments missed, instalments partly paid and plans
    broken in the last `days` days. A collector sees their own accounts only."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "plan.view", "payment_plan")
    query = (
        select(PaymentPlan, Customer.name, User.name)
        .join(Customer, Customer.id == PaymentPlan.customer_id)
        .outerjoin(User, User.id == Customer.collector_id)
        .where(
            PaymentPlan.status.in_(("current", "late"))
            | ((PaymentPlan.status == "broken") & (PaymentPlan.status_since >= as_of - timedelta(days=days)))
        )
        .order_by(PaymentPlan.id)
        .limit(500)
    )
    if (mine := actor.assigned_only) is not None:
        query = query.where(Customer.collector_id == mine)
    events: list[PlanEvent] = []
    for plan, name, collector in session.execute(query):
        if plan.status == "broken":
            left = Money(plan.total - plan.paid_amount, plan.currency)
            events.append(PlanEvent(plan.customer_id, name, collector, plan.id, "broken", plan.status_since, left))
            continue
        for state in instalment_states(session, plan):
            what = state.state(as_of)
            if state.due_on == as_of and what != "paid":
                events.append(PlanEvent(plan.customer_id, name, collector, plan.id, "due today", as_of, state.left))
            elif what == "missed":
                events.append(PlanEvent(plan.customer_id, name, collector, plan.id, "missed", state.due_on, state.left))
            elif what == "partial" and state.due_on <= as_of + timedelta(days=days):
                events.append(
                    PlanEvent(plan.customer_id, name, collector, plan.id, "partial", state.due_on, state.paid)
                )
    order = {"due today": 0, "missed": 1, "broken": 2, "partial": 3}
    return sorted(events, key=lambda e: (order[e.what], e.on))
