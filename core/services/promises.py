"""Promises to pay: making one (alone or as the outcome of a call) and withdrawing it. Whether a
promise is kept or broken follows from payments and the calendar (core/promises.py, summaries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound, ValidationError
from core.models import Customer, Invoice, Promise, User
from core.money import Money
from core.roles import Actor, Permission
from core.services import audit
from core.services.activities import CallLog, NewActivity, add_to_timeline, log_call
from core.services.customers import get_customer_row, require_work
from core.services.summaries import refresh_accounts

MAX_DAYS_AHEAD = 366


def check_promise(amount: Money, due_on: date, *, today: date) -> None:
    if amount.amount <= 0:
        raise ValidationError("A promise must be for more than zero.")
    if due_on < today:
        raise ValidationError(f"The promised date {due_on:%d %b %Y} is in the past: promises are for today or later.")
    if due_on > today + timedelta(days=MAX_DAYS_AHEAD):
        raise ValidationError("A promise more than a year ahead is a payment plan: set one up instead.")


def make_promise(
    session: Session,
    actor: Actor,
    customer_id: int,
    *,
    amount: Money,
    due_on: date,
    invoice_id: int | None = None,
    note: str = "",
    today: date | None = None,
) -> int:
    """Record the debtor's promise to pay amount by due_on; the account's next action becomes the
    day after, when the promise is kept or broken."""
    customer = get_customer_row(session, customer_id, lock=True)
    require_work(session, actor, customer, "promise.make")
    today = today or date.today()
    check_promise(amount, due_on, today=today)
    if invoice_id is not None:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None or invoice.customer_id != customer_id:
            raise NotFound("That invoice does not belong to this customer.")
        if invoice.currency != amount.currency:
            raise ValidationError(
                f"Invoice {invoice.number} is in {invoice.currency}; the promise is in {amount.currency}."
            )
    promise = Promise(
        customer_id=customer_id,
        invoice_id=invoice_id,
        made_on=today,
        due_on=due_on,
        currency=amount.currency,
        amount=amount.amount,
        status="pending",
        actor=actor.username,
        version=1,
    )
    session.add(promise)
    session.flush()
    summary = f"Promised {amount.format()} by {due_on:%d %b %Y}"
    add_to_timeline(
        session,
        actor,
        customer_id,
        NewActivity(
            kind="promise",
            invoice_id=invoice_id,
            direction="inbound",
            summary=f"{summary}: {note.strip()}" if note.strip() else summary,
            details={
                "promise_id": promise.id,
                "amount": str(amount.amount),
                "currency": amount.currency,
                "promised_for": due_on.isoformat(),
            },
        ),
    )
    customer.next_action_on = due_on + timedelta(days=1)
    customer.next_action_note = f"Check the promise of {amount.format()}"
    customer.version += 1
    audit.record(session, actor, "promise.make", "promise", promise.id, after=audit.snapshot(promise))
    refresh_accounts(session, [customer_id], actor=actor)
    return promise.id


def cancel_promise(session: Session, actor: Actor, promise_id: int, *, reason: str) -> None:
    """The debtor withdrew the promise (or it was recorded in error): it no longer counts either way."""
    promise = session.get(Promise, promise_id, with_for_update=True)
    if promise is None:
        raise NotFound(f"No promise with id {promise_id}.")
    require_work(session, actor, get_customer_row(session, promise.customer_id), "promise.cancel")
    if not reason.strip():
        raise ValidationError("Say why the promise is cancelled.")
    if promise.status in ("kept", "cancelled"):
        raise ValidationError(f"This promise is already {promise.status}.")
    with audit.changing(session, actor, "promise.cancel", "promise", promise):
        promise.status = "cancelled"
        add_to_timeline(
            session,
            actor,
            promise.customer_id,
            NewActivity(
                kind="promise",
                invoice_id=promise.invoice_id,
                summary=f"Promise of {Money(promise.amount, promise.currency).format()} cancelled: {reason.strip()}",
                details={"promise_id": promise.id, "status": "cancelled"},
            ),
        )
    refresh_accounts(session, [promise.customer_id], actor=actor)


def log_call_with_promise(
    session: Session,
    actor: Actor,
    customer_id: int,
    call: CallLog,
    *,
    amount: Money | None = None,
    due_on: date | None = None,
    today: date | None = None,
) -> tuple[int, int | None]:
    """Log a call and, when the debtor promised to pay during it, the promise: one action.
    Returns the call's activity id and the promise id (None without a promise)."""
    if call.outcome == "promise_made" and (amount is None or due_on is None):
        raise ValidationError("A call with a promise needs the promised amount and date.")
    if call.outcome != "promise_made" and (amount is not None or due_on is not None):
        raise ValidationError('Only a call with the outcome "promise made" records a promise.')
    if amount is not None and due_on is not None:
        check_promise(amount, due_on, today=today or date.today())
    call_id = log_call(session, actor, customer_id, call)
    promise_id = None
    if amount is not None and due_on is not None:
        promise_id = make_promise(
            session, actor, customer_id, amount=amount, due_on=due_on, invoice_id=call.invoice_id, today=today
        )
    return call_id, promise_id


@dataclass(frozen=True)
class PromiseDue:
    customer_id: int
    customer: str
    collector: str | None
    amount: Money
    due_on: date
    status: str  # "due today" or "broken"


def promises_needing_attention(session: Session, actor: Actor, *, as_of: date, days: int = 7) -> list[PromiseDue]:
    """Promises due today and those broken in the last `days` days (not kept since), for Home.
    A collector sees those on their own accounts; everyone else the whole book."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "promise.view", "promise")
    query = (
        select(Promise, Customer.name, User.name)
        .join(Customer, Customer.id == Promise.customer_id)
        .outerjoin(User, User.id == Customer.collector_id)
        .where(
            Promise.status.in_(("pending", "broken")),
            Promise.due_on <= as_of,
            Promise.due_on >= as_of - timedelta(days=days + 1),
        )
        .order_by(Promise.due_on.desc(), Promise.amount.desc())
        .limit(200)
    )
    if (mine := actor.assigned_only) is not None:
        query = query.where(Customer.collector_id == mine)
    return [
        PromiseDue(
            p.customer_id,
            name,
            collector,
            Money(p.amount, p.currency),
            p.due_on,
            "due today" if p.due_on == as_of else "broken",
        )
        for p, name, collector in session.execute(query)
    ]
