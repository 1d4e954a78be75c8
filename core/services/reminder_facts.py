"""What the batch re-reads right before a reminder goes out — the invoices it covers as they stand
now, who to write to, what stops it — and the decision: the dunning pauses, a possible payment
not yet matched, then the compliance guard (core/compliance.py) with the contact history."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core import compliance, dunning
from core.models import (
    Activity,
    Allocation,
    Contact,
    Customer,
    DunningStep,
    Invoice,
    Payment,
    PaymentPlan,
    Promise,
    Send,
)
from core.money import Money
from core.services.dunning import FLAG_REASONS
from core.services.settings import setting_value

CHANNELS = ("email", "sms", "call", "letter")
ROLE_ORDER = {"debtor": 0, "guarantor": 1, "billing": 2}
HISTORY = timedelta(days=8)


@dataclass(frozen=True)
class SendFacts:
    as_of: date
    customer_id: int
    customer_name: str
    customer_ref: str
    customer_kind: str
    country: str
    time_zone: str | None
    language: str
    collector_id: int | None
    sender: str
    invoices: tuple[tuple[str, date, date, Money], ...]  # number, issued, due, open
    invoice_ids: tuple[int, ...]
    fingerprint: str  # the invoices and what each owed: a draft prepared on other figures is refused
    days_past_due: int
    nothing_due: bool
    paused: str | None  # holds, flags, a current plan, a promise not yet due
    possible_payment: str | None
    contact_id: int | None
    contact_name: str
    contact_role: str
    address: str | None
    request: compliance.ContactRequest | None
    unanswered: int = 0  # reminders sent since the customer last paid or got in touch


def escalation(session: Session, facts: SendFacts, currency: str) -> str | None:
    """Why a collector should call instead of sending another reminder (None: send it). The
    `dunning` setting: {"escalate_after": 3, "escalate_above": {"PHP": "500000"}}."""
    rules = setting_value(session, "dunning") or {}
    after = int(rules.get("escalate_after", 3))
    if after and facts.unanswered >= after:
        return f"{facts.unanswered} reminders without a reply or a payment: a collector calls instead"
    above = (rules.get("escalate_above") or {}).get(currency)
    owed = sum((owed for *_, owed in facts.invoices), Money.zero(currency))
    if above is not None and owed.amount > Decimal(str(above)):
        return f"{owed.format()} owed is above the {above} {currency} a reminder may chase: a collector calls instead"
    return None


def _unanswered(session: Session, customer_id: int) -> int:
    """Messages sent since the last payment or the last time the customer got in touch."""
    paid = session.scalar(select(func.max(Payment.received_on)).where(Payment.customer_id == customer_id))
    replied = session.scalar(
        select(func.max(Activity.occurred_at)).where(
            Activity.customer_id == customer_id,
            or_(Activity.direction == "inbound", Activity.outcome.in_(("rpc", "promise_made"))),
        )
    )
    since = max(
        [moment for moment in (replied, datetime.combine(paid, datetime.min.time(), UTC) if paid else None) if moment],
        default=None,
    )
    query = select(func.count()).where(
        Send.customer_id == customer_id, Send.status == "sent", Send.channel.in_(("email", "sms", "letter"))
    )
    if since is not None:
        query = query.where(Send.sent_at > since)
    return session.scalar(query) or 0


def gather_facts(session: Session, send: Send, step: DunningStep, *, now: datetime) -> SendFacts:
    today = now.astimezone(UTC).date()
    customer = session.get(Customer, send.customer_id)
    assert customer is not None
    paid = select(func.coalesce(func.sum(Allocation.amount), 0)).where(Allocation.invoice_id == Invoice.id)
    rows = session.execute(
        select(Invoice, paid.scalar_subquery())
        .where(
            Invoice.customer_id == customer.id,
            Invoice.currency == send.currency,
            Invoice.status == "open",
            ~Invoice.disputed,
        )
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    open_rows = [(invoice, invoice.amount - owed_paid) for invoice, owed_paid in rows if invoice.amount > owed_paid]
    anchor = open_rows[0][0].due_date if open_rows else None
    covered = [(i, owed) for i, owed in open_rows if step.offset_days < 0 or i.due_date < today]
    nothing_due = anchor != send.cycle or not covered  # paid, or a new cycle has begun: this one is over
    fingerprint = hashlib.sha256(";".join(f"{i.id}:{owed}" for i, owed in covered).encode()).hexdigest()
    overdue = sum((owed for i, owed in covered if i.due_date < today), Decimal(0))
    account = dunning.Account(
        customer_id=customer.id,
        country=customer.country,
        segment=customer.segment,
        risk_tier=customer.risk_tier,
        currency=send.currency,
        anchor=anchor or send.cycle,
        overdue=Money(overdue, send.currency),
        on_current_plan=_on_current_plan(session, customer.id, send.currency),
        promise_until=_promise_until(session, customer.id, send.currency),
        blocked_by=tuple(label for flag, label in FLAG_REASONS.items() if _flag(customer, flag, today)),
    )
    contact = _contact(session, customer.id, step.channel)
    address = _address(contact, step.channel)
    days_past_due = (today - anchor).days if anchor else 0
    request = None
    if contact is not None and address is not None and step.channel != "call":
        request = compliance.ContactRequest(
            channel=step.channel,
            address=address,
            time_zone=customer.time_zone,
            contact_role=contact.role,
            contact_id=contact.id,
            debt_key=f"c{customer.id}:{send.currency}:{send.cycle.isoformat()}",
            days_past_due=days_past_due,
            consent=bool(getattr(contact, f"consent_{step.channel}", True)),
            opted_out_channels=frozenset(
                c for c in ("email", "sms", "call", "letter") if getattr(contact, f"opted_out_{c}")
            ),
            on_hold=customer.on_hold,
            hold_until=customer.hold_until,
            bankrupt=customer.bankrupt,
            attorney_on_record=customer.attorney_on_record,
            deceased=customer.deceased,
            do_not_contact=customer.do_not_contact,
            has_opt_out_line=True,  # the batch's messages always carry it (reminder_messages.OPT_OUT)
            history=_history(session, customer.id, now),
        )
    from core.config import get_settings

    smtp = get_settings().smtp
    return SendFacts(
        as_of=today,
        customer_id=customer.id,
        customer_name=customer.name,
        customer_ref=customer.external_ref,
        customer_kind=customer.kind,
        country=customer.country,
        time_zone=customer.time_zone,
        language=(contact.language if contact and contact.language else customer.language) or "en",
        collector_id=customer.collector_id,
        sender=smtp.sender if smtp else "Accounts receivable",
        invoices=tuple((i.number, i.issue_date, i.due_date, Money(owed, send.currency)) for i, owed in covered),
        invoice_ids=tuple(i.id for i, _ in covered),
        fingerprint=fingerprint,
        days_past_due=days_past_due,
        nothing_due=nothing_due,
        paused=dunning.pause_reason(account, today),
        possible_payment=_possible_payment(session, send.currency, covered),
        contact_id=contact.id if contact else None,
        contact_name=contact.name if contact else "",
        contact_role=contact.role if contact else "",
        address=address,
        request=request,
        unanswered=_unanswered(session, customer.id),
    )


def _flag(customer: Customer, flag: str, today: date) -> bool:
    if flag == "on_hold":
        return customer.on_hold and (customer.hold_until is None or customer.hold_until > today)  # resumes that day
    return bool(getattr(customer, flag))


def _on_current_plan(session: Session, customer_id: int, currency: str) -> bool:
    plan = select(PaymentPlan.id).where(
        PaymentPlan.customer_id == customer_id, PaymentPlan.currency == currency, PaymentPlan.status == "current"
    )
    return session.scalar(plan.limit(1)) is not None


def _promise_until(session: Session, customer_id: int, currency: str) -> date | None:
    return session.scalar(
        select(func.max(Promise.due_on)).where(
            Promise.customer_id == customer_id, Promise.currency == currency, Promise.status == "pending"
        )
    )


def _contact(session: Session, customer_id: int, channel: str) -> Contact | None:
    contacts = list(session.scalars(select(Contact).where(Contact.customer_id == customer_id).order_by(Contact.id)))
    usable = [c for c in contacts if _address(c, channel) is not None] or contacts
    return min(usable, key=lambda c: ROLE_ORDER.get(c.role, 9)) if usable else None


def _address(contact: Contact | None, channel: str) -> str | None:
    if contact is None:
        return None
    return {"email": contact.email, "sms": contact.phone, "call": contact.phone, "letter": contact.name}.get(channel)


def _possible_payment(session: Session, currency: str, covered: list[tuple[Invoice, Decimal]]) -> str | None:
    """An unmatched payment of the exact amount owed (one invoice or all), or naming an invoice."""
    if not covered:
        return None
    amounts = {owed for _, owed in covered} | {sum((owed for _, owed in covered), Decimal(0))}
    numbers = [i.number for i, _ in covered]
    match = session.scalar(
        select(Payment)
        .where(
            Payment.customer_id.is_(None),
            Payment.reversed_on.is_(None),
            Payment.currency == currency,
            or_(Payment.amount.in_(amounts), *[Payment.reference.ilike(f"%{n}%") for n in numbers[:20]]),
        )
        .limit(1)
    )
    if match is None:
        return None
    return f"possible payment received: {Money(match.amount, currency).format()} ref {match.reference}, not yet matched"


def _history(session: Session, customer_id: int, now: datetime) -> tuple[compliance.PastContact, ...]:
    since = now - HISTORY
    sent = [
        compliance.PastContact(at=s.sent_at, channel=s.channel, address=s.address or "", contact_id=s.contact_id)
        for s in session.scalars(
            select(Send).where(
                Send.customer_id == customer_id,
                Send.status == "sent",
                Send.channel.in_(("email", "sms")),
                Send.sent_at >= since,
            )
        )
        if s.sent_at is not None
    ]
    calls = [
        compliance.PastContact(
            at=a.occurred_at,
            channel="call",
            contact_id=a.contact_id,
            outcome=a.outcome,
            direction=a.direction or "outbound",
        )
        for a in session.scalars(
            select(Activity).where(
                Activity.customer_id == customer_id, Activity.kind == "call", Activity.occurred_at >= since
            )
        )
    ]
    return tuple(sent + calls)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reasons: tuple[compliance.Reason, ...]  # a stable code (for the report) and the text (for the timeline)
    retry_at: datetime | None


def guard(session: Session, facts: SendFacts, channel: str, *, now: datetime) -> Verdict:
    """Every reason this reminder may not go out now, and when to try again (None: tomorrow)."""
    reasons: list[compliance.Reason] = []
    if facts.paused:
        code = "on_plan" if "plan" in facts.paused else "promise_pending" if "promised" in facts.paused else "flagged"
        if code != "flagged" or facts.request is None:  # the guard names each flag with its own code
            reasons.append(compliance.Reason(code, facts.paused))
    if facts.possible_payment:
        reasons.append(compliance.Reason("possible_payment", facts.possible_payment))
    if channel == "call":
        return Verdict(not reasons, tuple(reasons), None)
    if facts.address is None:
        return Verdict(
            False, (*reasons, compliance.Reason("no_address", f"no contact with an address for {channel}")), None
        )
    assert facts.request is not None
    rules = compliance.rules_for(facts.country, setting_value(session, "contact_rules"))
    decision = compliance.decide(facts.request, rules, now=now)
    named = {r.text for r in reasons}
    reasons += [r for r in decision.reasons if r.text not in named]  # a flag is named once
    waits = facts.paused or facts.possible_payment  # those clear on their own day, not at an hour
    return Verdict(not reasons, tuple(reasons), None if waits else decision.retry_at)
