"""The account workspace: everything known about one customer, for the account page, and its
timeline of messages, calls, promises, disputes, payments and invoices, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, String, cast, func, literal, null, select, union_all
from sqlalchemy.orm import Session

from core.aging import aging_bucket
from core.models import (
    ACTIVITY_KINDS,
    AMOUNT,
    Activity,
    Allocation,
    Customer,
    Dispute,
    Document,
    Invoice,
    Payment,
    Promise,
    Refund,
    User,
)
from core.money import Money
from core.priority import Priority, priority
from core.roles import Actor, Permission
from core.services import audit
from core.services.customers import FLAGS, ContactView, get_customer_row, list_contacts
from core.services.queue import QueueFilter, _queue_query, facts_of
from core.services.settings import get_weights

TIMELINE_KINDS = tuple(dict.fromkeys((*ACTIVITY_KINDS, "payment", "invoice")))


@dataclass(frozen=True)
class CurrencyBalance:
    open: Money
    overdue: Money
    disputed: Money
    credit_limit: Money | None  # the limit, when it is in this currency

    @property
    def over_limit(self) -> bool:
        return self.credit_limit is not None and self.open > self.credit_limit


@dataclass(frozen=True)
class Flag:
    name: str
    by: str | None
    at: str | None
    why: str | None
    until: date | None = None


@dataclass(frozen=True)
class InvoiceLine:
    id: int
    number: str
    issue_date: date
    due_date: date
    amount: Money
    paid: Money
    open: Money
    status: str
    days_past_due: int
    disputed: bool
    dispute_id: int | None
    dispute_category: str | None


@dataclass(frozen=True)
class PaymentLine:
    id: int
    received_on: date
    reference: str
    method: str
    amount: Money
    allocations: tuple[tuple[str, Money], ...]  # (invoice number, amount applied)
    unallocated: Money  # customer credit: neither applied nor refunded
    refunded: Money | None = None
    reversed_on: date | None = None
    reversal_reason: str | None = None


@dataclass(frozen=True)
class PromiseLine:
    id: int
    made_on: date
    due_on: date
    amount: Money
    status: str  # as of the page's date: a pending promise past its date shows as broken
    invoice_number: str | None


@dataclass(frozen=True)
class DisputeLine:
    id: int
    invoice_id: int
    invoice_number: str
    category: str
    note: str
    opened_by: str
    opened_at: datetime
    resolution: str | None
    resolution_note: str | None
    resolved_by: str | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class DocumentLine:
    id: int
    file_name: str
    media_type: str
    size_bytes: int
    invoice_number: str | None
    description: str
    actor: str
    created_at: datetime


@dataclass(frozen=True)
class AccountView:
    customer_id: int
    external_ref: str
    name: str
    kind: str
    country: str
    time_zone: str
    language: str
    segment: str | None
    risk_tier: str
    collector_id: int | None
    collector: str | None
    balances: tuple[CurrencyBalance, ...]
    credit_limit: Money | None
    oldest_due_date: date | None
    days_past_due: int | None
    bucket: str | None
    flags: tuple[Flag, ...]
    next_action_on: date | None
    next_action_note: str | None
    priority: Priority | None  # None when nothing is overdue
    may_act: bool
    refusal: str | None  # why this user may only read, in words
    invoices: tuple[InvoiceLine, ...]
    payments: tuple[PaymentLine, ...]
    contacts: tuple[ContactView, ...]
    promises: tuple[PromiseLine, ...]
    disputes: tuple[DisputeLine, ...]
    documents: tuple[DocumentLine, ...]
    as_of: date
    postal_code: str | None = None


def refusal_for(actor: Actor, customer: Customer) -> str | None:
    """Why this user may not act on this account (None: they may). Shown before they try."""
    if actor.may_work_account(customer.collector_id):
        return None
    if actor.may(Permission.WORK_ASSIGNED_ACCOUNTS):
        return "This account is assigned to another collector: you can read it, but not act on it."
    return f"Your role ({actor.role}) can read accounts but not act on them."


def view_account(session: Session, actor: Actor, customer_id: int, *, as_of: date) -> AccountView:
    audit.require(actor, Permission.VIEW_ACCOUNTS, "account.view", "customer", customer_id)
    customer = get_customer_row(session, customer_id)
    collector = session.get(User, customer.collector_id) if customer.collector_id else None
    invoices = _invoices(session, customer_id, as_of)
    limit = None
    if customer.credit_limit is not None and customer.credit_currency:
        limit = Money(customer.credit_limit, customer.credit_currency)
    oldest = min((line.due_date for line in invoices if line.status == "open" and not line.disputed), default=None)
    dpd = (as_of - oldest).days if oldest else None
    return AccountView(
        customer_id=customer.id,
        external_ref=customer.external_ref,
        name=customer.name,
        kind=customer.kind,
        country=customer.country,
        time_zone=customer.time_zone,
        language=customer.language,
        segment=customer.segment,
        risk_tier=customer.risk_tier,
        collector_id=customer.collector_id,
        collector=collector.name if collector else None,
        balances=_balances(invoices, limit),
        credit_limit=limit,
        oldest_due_date=oldest,
        days_past_due=dpd,
        bucket=aging_bucket(dpd) if dpd is not None else None,
        flags=_flags(customer),
        next_action_on=customer.next_action_on,
        next_action_note=customer.next_action_note,
        priority=_priority(session, actor, customer_id, as_of),
        may_act=refusal_for(actor, customer) is None,
        refusal=refusal_for(actor, customer),
        invoices=tuple(invoices),
        payments=_payments(session, customer_id),
        contacts=tuple(list_contacts(session, actor, customer_id)),
        promises=_promises(session, customer_id, as_of),
        disputes=_disputes(session, customer_id),
        documents=_documents(session, customer_id),
        as_of=as_of,
        postal_code=customer.postal_code,
    )


def _invoices(session: Session, customer_id: int, as_of: date) -> list[InvoiceLine]:
    paid = (
        select(Allocation.invoice_id, func.sum(Allocation.amount).label("paid"))
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .where(Invoice.customer_id == customer_id)
        .group_by(Allocation.invoice_id)
        .subquery()
    )
    open_dispute = (
        select(Dispute.invoice_id, Dispute.id, Dispute.category)
        .where(Dispute.customer_id == customer_id, Dispute.resolution.is_(None))
        .subquery()
    )
    rows = session.execute(
        select(Invoice, func.coalesce(paid.c.paid, 0), open_dispute.c.id, open_dispute.c.category)
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .outerjoin(open_dispute, open_dispute.c.invoice_id == Invoice.id)
        .where(Invoice.customer_id == customer_id)
        .order_by((Invoice.status == "open").desc(), Invoice.due_date, Invoice.id)
    ).all()
    lines = []
    for invoice, paid_amount, dispute_id, category in rows:
        amount = Money(invoice.amount, invoice.currency)
        settled = Money(paid_amount, invoice.currency)
        lines.append(
            InvoiceLine(
                id=invoice.id,
                number=invoice.number,
                issue_date=invoice.issue_date,
                due_date=invoice.due_date,
                amount=amount,
                paid=settled,
                open=amount - settled if invoice.status == "open" else Money.zero(invoice.currency),
                status=invoice.status,
                days_past_due=(as_of - invoice.due_date).days,
                disputed=invoice.disputed,
                dispute_id=dispute_id,
                dispute_category=category,
            )
        )
    return lines


def _balances(invoices: list[InvoiceLine], limit: Money | None) -> tuple[CurrencyBalance, ...]:
    totals: dict[str, list[Money]] = {}
    for line in invoices:
        if line.status != "open":
            continue
        zero = Money.zero(line.open.currency)
        open_, overdue, disputed = totals.setdefault(line.open.currency, [zero, zero, zero])
        totals[line.open.currency] = [
            open_ + line.open,
            overdue + (line.open if line.days_past_due > 0 and not line.disputed else zero),
            disputed + (line.open if line.disputed else zero),
        ]
    return tuple(
        CurrencyBalance(open_, overdue, disputed, limit if limit and limit.currency == code else None)
        for code, (open_, overdue, disputed) in sorted(totals.items())
    )


def _flags(customer: Customer) -> tuple[Flag, ...]:
    notes = customer.flag_notes or {}
    flags = []
    for name in FLAGS:
        if getattr(customer, name):
            note = notes.get(name, {})
            until = customer.hold_until if name == "on_hold" else None
            flags.append(Flag(name, note.get("by"), note.get("at"), note.get("why"), until))
    return tuple(flags)


def _priority(session: Session, actor: Actor, customer_id: int, as_of: date) -> Priority | None:
    weights = get_weights(session)
    query, _ = _queue_query(actor, QueueFilter(include_scheduled=True), as_of, weights)
    row = session.execute(query.where(Customer.id == customer_id)).first()
    return priority(facts_of(row, as_of), weights) if row else None


def _payments(session: Session, customer_id: int) -> tuple[PaymentLine, ...]:
    payments = list(
        session.scalars(
            select(Payment).where(Payment.customer_id == customer_id).order_by(Payment.received_on.desc(), Payment.id)
        )
    )
    applied: dict[int, list[tuple[str, Money]]] = {}
    for payment_id, number, currency, amount in session.execute(
        select(Allocation.payment_id, Invoice.number, Invoice.currency, Allocation.amount)
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .where(Allocation.payment_id.in_([p.id for p in payments]))
        .order_by(Allocation.id)
    ):
        applied.setdefault(payment_id or 0, []).append((number, Money(amount, currency)))
    refunds = dict(
        session.execute(
            select(Refund.payment_id, func.sum(Refund.amount))
            .where(Refund.payment_id.in_([p.id for p in payments]))
            .group_by(Refund.payment_id)
        ).all()
    )
    lines = []
    for p in payments:
        parts = applied.get(p.id, [])
        total = sum((money for _, money in parts), Money.zero(p.currency))
        refunded = Money(refunds.get(p.id, 0), p.currency)
        left = Money.zero(p.currency) if p.reversed_on else Money(p.amount, p.currency) - total - refunded
        lines.append(
            PaymentLine(
                p.id,
                p.received_on,
                p.reference,
                p.method,
                Money(p.amount, p.currency),
                tuple(parts),
                left,
                refunded if not refunded.is_zero() else None,
                p.reversed_on,
                p.reversal_reason,
            )
        )
    return tuple(lines)


def _promises(session: Session, customer_id: int, as_of: date) -> tuple[PromiseLine, ...]:
    rows = session.execute(
        select(Promise, Invoice.number)
        .outerjoin(Invoice, Invoice.id == Promise.invoice_id)
        .where(Promise.customer_id == customer_id)
        .order_by(Promise.made_on.desc(), Promise.id.desc())
    ).all()
    return tuple(
        PromiseLine(
            p.id,
            p.made_on,
            p.due_on,
            Money(p.amount, p.currency),
            "broken" if p.status == "pending" and p.due_on < as_of else p.status,
            number,
        )
        for p, number in rows
    )


def _disputes(session: Session, customer_id: int) -> tuple[DisputeLine, ...]:
    rows = session.execute(
        select(Dispute, Invoice.number)
        .join(Invoice, Invoice.id == Dispute.invoice_id)
        .where(Dispute.customer_id == customer_id)
        .order_by(Dispute.resolution.is_(None).desc(), Dispute.opened_at.desc())
    ).all()
    return tuple(
        DisputeLine(
            d.id,
            d.invoice_id,
            number,
            d.category,
            d.note,
            d.opened_by,
            d.opened_at,
            d.resolution,
            d.resolution_note,
            d.resolved_by,
            d.resolved_at,
        )
        for d, number in rows
    )


def _documents(session: Session, customer_id: int) -> tuple[DocumentLine, ...]:
    rows = session.execute(
        select(
            Document.id,
            Document.file_name,
            Document.media_type,
            Document.size_bytes,
            Invoice.number,
            Document.description,
            Document.actor,
            Document.created_at,
        )
        .outerjoin(Invoice, Invoice.id == Document.invoice_id)
        .where(Document.customer_id == customer_id)
        .order_by(Document.created_at.desc())
    ).all()
    return tuple(DocumentLine(*row) for row in rows)


@dataclass(frozen=True)
class TimelineEntry:
    occurred_at: datetime
    kind: str
    summary: str
    actor: str
    channel: str | None = None
    direction: str | None = None
    outcome: str | None = None


def _day_start(column: Any) -> Any:
    return cast(func.timezone("UTC", cast(column, DateTime)), DateTime(timezone=True))


def account_timeline(
    session: Session,
    actor: Actor,
    customer_id: int,
    *,
    kinds: tuple[str, ...] = (),
    limit: int = 200,
) -> list[TimelineEntry]:
    """Everything that happened on the account, newest first; kinds narrows it (empty: all).
    Payments and invoices come from their own tables, so imported ones are here too."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "account.view", "customer", customer_id)
    get_customer_row(session, customer_id)
    wanted = set(kinds or TIMELINE_KINDS)
    parts: list[Any] = []
    if wanted & set(ACTIVITY_KINDS):
        parts.append(
            select(
                Activity.occurred_at.label("at"),
                Activity.kind.label("kind"),
                Activity.summary.label("summary"),
                Activity.actor.label("actor"),
                Activity.channel.label("channel"),
                Activity.direction.label("direction"),
                Activity.outcome.label("outcome"),
                cast(null(), String).label("currency"),
                cast(null(), AMOUNT).label("amount"),
                cast(null(), Date).label("due_date"),
            ).where(Activity.customer_id == customer_id, Activity.kind.in_(wanted & set(ACTIVITY_KINDS)))
        )
    if "payment" in wanted:
        parts.append(
            select(
                _day_start(Payment.received_on),
                literal("payment"),
                func.concat("by ", func.replace(Payment.method, "_", " "), ", ref ", Payment.reference),
                Payment.source,
                cast(null(), String),
                literal("inbound"),
                cast(null(), String),
                Payment.currency,
                Payment.amount,
                cast(null(), Date),
            ).where(Payment.customer_id == customer_id)
        )
    if "invoice" in wanted:
        parts.append(
            select(
                _day_start(Invoice.issue_date),
                literal("invoice"),
                Invoice.number,
                Invoice.source,
                cast(null(), String),
                cast(null(), String),
                cast(null(), String),
                Invoice.currency,
                Invoice.amount,
                Invoice.due_date,
            ).where(Invoice.customer_id == customer_id)
        )
    if not parts:
        return []
    combined = union_all(*parts).subquery()
    rows = session.execute(select(combined).order_by(combined.c.at.desc()).limit(limit)).all()
    return [
        TimelineEntry(row.at, row.kind, _summary(row), row.actor, row.channel, row.direction, row.outcome)
        for row in rows
    ]


def _summary(row: Any) -> str:
    if row.kind == "payment" and row.currency is not None:  # from the payments table, not a reversal or refund
        return f"Payment of {Money(row.amount, row.currency).format()} received {row.summary}"
    if row.kind == "invoice":
        amount = Money(row.amount, row.currency).format()
        return f"Invoice {row.summary} issued for {amount}, due {row.due_date:%d %b %Y}"
    return str(row.summary)
