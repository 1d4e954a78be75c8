"""What the batch re-reads right before a reminder goes out — the invoices it covers as they stand
now, who to write to, what stops it — and the decision: the dunning pauses, a possible payment
not yet matched, then the compliance guard (core/compliance.py) with the contact history."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, Integer, Numeric, String, any_, func, literal, or_, select, text
from sqlalchemy.orm import Session

from core import compliance, dunning
from core.config import get_settings
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
from core.services import opt_outs
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
    legal: bool = False  # handed over to legal: counsel deals with the account, reminders stop
    portal_generation: int = 0  # the generation a portal link in the message is made in


def escalation(facts: SendFacts, currency: str, rules: dict[str, Any] | None) -> str | None:
    """Why a collector should call instead of sending another reminder (None: send it). `rules` is
    the `dunning` setting: {"escalate_after": 3, "escalate_above": {"PHP": "500000"}}."""
    rules = rules or {}
    after = int(rules.get("escalate_after", 3))
    if after and facts.unanswered >= after:
        return f"{facts.unanswered} reminders without a reply or a payment: a collector calls instead"
    above = (rules.get("escalate_above") or {}).get(currency)
    owed = sum((owed for *_, owed in facts.invoices), Money.zero(currency))
    if above is not None and owed.amount > Decimal(str(above)):
        return f"{owed.format()} owed is above the {above} {currency} a reminder may chase: a collector calls instead"
    return None


@dataclass
class _Book:
    """What the batch read, in a few queries, for all the customers of the sends it is deciding."""

    customers: dict[int, Customer]
    open_invoices: dict[tuple[int, str], list[tuple[Invoice, Decimal]]]  # oldest due first, with what is owed
    current_plans: set[tuple[int, str]]
    promised_until: dict[tuple[int, str], date]
    contacts: dict[int, list[Contact]]
    history: dict[int, list[compliance.PastContact]]
    unanswered: dict[int, int]
    stopped: set[str]  # addresses their owners asked us to stop using (opt_outs.normal spelling)


def gather_facts(session: Session, send: Send, step: DunningStep, *, now: datetime) -> SendFacts:
    return gather_many(session, [(send, step)], now=now)[send.id]


def gather_many(session: Session, work: list[tuple[Send, DunningStep]], *, now: datetime) -> dict[int, SendFacts]:
    """The facts of each send, by send id: the same for one send or a chunk of a hundred, read
    with one query per kind of fact, not one per send."""
    today = now.astimezone(UTC).date()
    book = _read_book(session, sorted({send.customer_id for send, _ in work}), now)
    covered_of: dict[int, list[tuple[Invoice, Decimal]]] = {}
    for send, step in work:
        open_rows = book.open_invoices.get((send.customer_id, send.currency), [])
        covered_of[send.id] = [(i, owed) for i, owed in open_rows if step.offset_days < 0 or i.due_date < today]
    matches = _possible_payments(session, work, covered_of)
    smtp = get_settings().smtp
    sender = smtp.sender if smtp else "Accounts receivable"
    facts = {}
    for send, step in work:
        customer = book.customers[send.customer_id]
        open_rows = book.open_invoices.get((customer.id, send.currency), [])
        covered = covered_of[send.id]
        anchor = open_rows[0][0].due_date if open_rows else None
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
            on_current_plan=(customer.id, send.currency) in book.current_plans,
            promise_until=book.promised_until.get((customer.id, send.currency)),
            blocked_by=tuple(label for flag, label in FLAG_REASONS.items() if _flag(customer, flag, today)),
        )
        contact = _contact(book.contacts.get(customer.id, []), step.channel)
        address = _address(contact, step.channel)
        days_past_due = (today - anchor).days if anchor else 0
        request = None
        if contact is not None and address is not None and step.channel != "call":
            request = _contact_request(
                book,
                customer,
                contact,
                step.channel,
                address,
                debt_key=f"c{customer.id}:{send.currency}:{send.cycle.isoformat()}",
                days_past_due=days_past_due,
            )
        facts[send.id] = SendFacts(
            as_of=today,
            customer_id=customer.id,
            customer_name=customer.name,
            customer_ref=customer.external_ref,
            customer_kind=customer.kind,
            country=customer.country,
            time_zone=customer.time_zone,
            language=(contact.language if contact and contact.language else customer.language) or "en",
            collector_id=customer.collector_id,
            sender=sender,
            invoices=tuple((i.number, i.issue_date, i.due_date, Money(owed, send.currency)) for i, owed in covered),
            invoice_ids=tuple(i.id for i, _ in covered),
            fingerprint=fingerprint,
            days_past_due=days_past_due,
            nothing_due=nothing_due,
            paused=dunning.pause_reason(account, today),
            possible_payment=matches.get(send.id),
            contact_id=contact.id if contact else None,
            contact_name=contact.name if contact else "",
            contact_role=contact.role if contact else "",
            address=address,
            request=request,
            unanswered=book.unanswered.get(customer.id, 0),
            legal=customer.legal,
            portal_generation=customer.portal_generation,
        )
    return facts


def may_call_now(session: Session, customer_id: int, *, now: datetime) -> Verdict:
    """May a collector phone this customer now? The compliance guard's answer for a live call to the
    contact a reminder would call: the country's hours in the debtor's zone, the 7-in-7 rule and the
    7 days after a conversation (calls logged by hand count), flags, opt-outs and who may be called."""
    book = _read_book(session, [customer_id], now)
    customer = book.customers[customer_id]
    contact = _contact(book.contacts.get(customer_id, []), "call")
    phone = _address(contact, "call")
    if contact is None or phone is None:
        return Verdict(False, (compliance.Reason("no_address", "no contact with a phone number"),), None)
    today = now.astimezone(UTC).date()
    oldest = min((i.due_date for rows in book.open_invoices.values() for i, _ in rows), default=today)
    request = _contact_request(
        book, customer, contact, "call", phone, debt_key=f"c{customer.id}", days_past_due=max(0, (today - oldest).days)
    )
    rules = compliance.rules_for(customer.country, setting_value(session, "contact_rules"))
    decision = compliance.decide(request, rules, now=now)
    return Verdict(decision.allowed, tuple(decision.reasons), decision.retry_at)


def _contact_request(
    book: _Book,
    customer: Customer,
    contact: Contact,
    channel: str,
    address: str,
    *,
    debt_key: str,
    days_past_due: int,
) -> compliance.ContactRequest:
    """What the compliance guard is asked about one contact on one channel, from the book read."""
    return compliance.ContactRequest(
        channel=channel,
        address=address,
        time_zone=customer.time_zone,
        contact_role=contact.role,
        contact_id=contact.id,
        debt_key=debt_key,
        days_past_due=days_past_due,
        consent=bool(getattr(contact, f"consent_{channel}", True)),
        opted_out_channels=frozenset(c for c in CHANNELS if getattr(contact, f"opted_out_{c}")),
        opted_out_addresses=frozenset({address} if opt_outs.normal(address) in book.stopped else ()),
        on_hold=customer.on_hold,  # the guard reads hold_until: a dated hold ends by itself
        hold_until=customer.hold_until,
        bankrupt=customer.bankrupt,
        attorney_on_record=customer.attorney_on_record,
        deceased=customer.deceased,
        do_not_contact=customer.do_not_contact,
        has_opt_out_line=True,  # the batch's messages always carry it (reminder_messages.OPT_OUT); calls need none
        history=tuple(book.history.get(customer.id, ())),
    )


def _ids(ids: list[int]) -> Any:
    """A list of ids bound as one array parameter, however long."""
    return literal(ids, ARRAY(Integer))


def _read_book(session: Session, ids: list[int], now: datetime) -> _Book:
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id == any_(_ids(ids))))}
    paid = select(func.coalesce(func.sum(Allocation.amount), 0)).where(Allocation.invoice_id == Invoice.id)
    open_invoices: dict[tuple[int, str], list[tuple[Invoice, Decimal]]] = defaultdict(list)
    for invoice, owed_paid in session.execute(
        select(Invoice, paid.scalar_subquery())
        .where(Invoice.customer_id == any_(_ids(ids)), Invoice.status == "open", ~Invoice.disputed)
        .order_by(Invoice.customer_id, Invoice.due_date, Invoice.id)
    ):
        if invoice.amount > owed_paid:
            open_invoices[(invoice.customer_id, invoice.currency)].append((invoice, invoice.amount - owed_paid))
    current_plans = {
        (customer_id, currency)
        for customer_id, currency in session.execute(
            select(PaymentPlan.customer_id, PaymentPlan.currency).where(
                PaymentPlan.customer_id == any_(_ids(ids)), PaymentPlan.status == "current"
            )
        )
    }
    promised_until = {
        (customer_id, currency): due
        for customer_id, currency, due in session.execute(
            select(Promise.customer_id, Promise.currency, func.max(Promise.due_on))
            .where(Promise.customer_id == any_(_ids(ids)), Promise.status == "pending")
            .group_by(Promise.customer_id, Promise.currency)
        )
    }
    contacts: dict[int, list[Contact]] = defaultdict(list)
    for contact in session.scalars(select(Contact).where(Contact.customer_id == any_(_ids(ids))).order_by(Contact.id)):
        contacts[contact.customer_id].append(contact)
    addresses = {a for people in contacts.values() for c in people for a in (c.email, c.phone) if a}
    return _Book(
        stopped=opt_outs.stopped_among(session, addresses),
        customers=customers,
        open_invoices=open_invoices,
        current_plans=current_plans,
        promised_until=promised_until,
        contacts=contacts,
        history=_history(session, ids, now),
        unanswered=_unanswered(session, ids),
    )


def _unanswered(session: Session, ids: list[int]) -> dict[int, int]:
    """Per customer: messages sent since the last payment or the last time they got in touch."""
    rows = session.execute(
        text(
            """
            WITH since AS (
                SELECT c.id, greatest(
                    (SELECT max(p.received_on)::timestamp AT TIME ZONE 'UTC'
                       FROM payments p WHERE p.customer_id = c.id),
                    (SELECT max(a.occurred_at) FROM activities a
                      WHERE a.customer_id = c.id AND (a.direction = 'inbound' OR a.outcome IN ('rpc', 'promise_made')))
                ) AS at
                FROM unnest(CAST(:ids AS integer[])) AS c(id)
            )
            SELECT since.id, count(s.id)
            FROM since JOIN sends s ON s.customer_id = since.id
            WHERE s.status = 'sent' AND s.channel IN ('email', 'sms', 'letter')
              AND (since.at IS NULL OR s.sent_at > since.at)
            GROUP BY since.id
            """
        ),
        {"ids": ids},
    )
    return {customer_id: n for customer_id, n in rows}


def _flag(customer: Customer, flag: str, today: date) -> bool:
    if flag == "on_hold":
        return customer.on_hold and (customer.hold_until is None or customer.hold_until > today)  # resumes that day
    return bool(getattr(customer, flag))


def _contact(contacts: list[Contact], channel: str) -> Contact | None:
    usable = [c for c in contacts if _address(c, channel) is not None] or contacts
    return min(usable, key=lambda c: ROLE_ORDER.get(c.role, 9)) if usable else None


def _address(contact: Contact | None, channel: str) -> str | None:
    if contact is None:
        return None
    return {"email": contact.email, "sms": contact.phone, "call": contact.phone, "letter": contact.name}.get(channel)


def _possible_payments(
    session: Session, work: list[tuple[Send, DunningStep]], covered_of: dict[int, list[tuple[Invoice, Decimal]]]
) -> dict[int, str]:
    """Per send: an unmatched payment of the exact amount owed (one invoice or all), or naming one
    of its invoices in the reference. One query for the whole chunk."""
    wanted: dict[int, tuple[str, set[Decimal], list[str]]] = {}
    for send, _ in work:
        covered = covered_of[send.id]
        if covered:
            amounts = {owed for _, owed in covered} | {sum((owed for _, owed in covered), Decimal(0))}
            wanted[send.id] = (send.currency, amounts, [i.number for i, _ in covered][:20])
    if not wanted:
        return {}
    all_amounts = sorted({a for _, owed, _ in wanted.values() for a in owed})
    patterns = sorted({f"%{n}%" for *_, numbers in wanted.values() for n in numbers})
    candidates = list(
        session.scalars(
            select(Payment)
            .where(
                Payment.customer_id.is_(None),
                Payment.reversed_on.is_(None),
                Payment.currency.in_(sorted({currency for currency, *_ in wanted.values()})),
                or_(
                    Payment.amount == any_(literal(all_amounts, ARRAY(Numeric))),
                    Payment.reference.ilike(any_(literal(patterns, ARRAY(String)))),
                ),
            )
            .order_by(Payment.id)
        )
    )
    found = {}
    for send_id, (currency, owed, numbers) in wanted.items():
        for payment in candidates:
            reference = payment.reference.lower()
            if payment.currency == currency and (
                payment.amount in owed or any(n.lower() in reference for n in numbers)
            ):
                found[send_id] = (
                    f"possible payment received: {Money(payment.amount, currency).format()} ref {payment.reference},"
                    " not yet matched"
                )
                break
    return found


def _history(session: Session, ids: list[int], now: datetime) -> dict[int, list[compliance.PastContact]]:
    since = now - HISTORY
    history: dict[int, list[compliance.PastContact]] = defaultdict(list)
    for s in session.scalars(
        select(Send).where(
            Send.customer_id == any_(_ids(ids)),
            Send.status == "sent",
            Send.channel.in_(("email", "sms")),
            Send.sent_at >= since,
        )
    ):
        if s.sent_at is not None:
            history[s.customer_id].append(
                compliance.PastContact(
                    at=s.sent_at, channel=s.channel, address=s.address or "", contact_id=s.contact_id
                )
            )
    for a in session.scalars(
        select(Activity).where(
            Activity.customer_id == any_(_ids(ids)), Activity.kind == "call", Activity.occurred_at >= since
        )
    ):
        history[a.customer_id].append(
            compliance.PastContact(
                at=a.occurred_at,
                channel="call",
                contact_id=a.contact_id,
                outcome=a.outcome,
                direction=a.direction or "outbound",
            )
        )
    return history


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reasons: tuple[compliance.Reason, ...]  # a stable code (for the report) and the text (for the timeline)
    retry_at: datetime | None


def guard(facts: SendFacts, channel: str, *, now: datetime, contact_rules: dict[str, Any] | None) -> Verdict:
    """Every reason this reminder may not go out now, and when to try again (None: tomorrow).
    `contact_rules` is the setting of that name: each country's overrides of the shipped rules."""
    reasons: list[compliance.Reason] = []
    if facts.paused:
        code = "on_plan" if "plan" in facts.paused else "promise_pending" if "promised" in facts.paused else "flagged"
        if code != "flagged" or facts.request is None:  # the guard names each flag with its own code
            reasons.append(compliance.Reason(code, facts.paused))
        elif facts.legal:  # not a contact rule, so the guard does not know it: named here
            reasons.append(compliance.Reason("legal", "handed over to legal"))
    if facts.possible_payment:
        reasons.append(compliance.Reason("possible_payment", facts.possible_payment))
    if channel == "call":
        return Verdict(not reasons, tuple(reasons), None)
    if facts.address is None:
        return Verdict(
            False, (*reasons, compliance.Reason("no_address", f"no contact with an address for {channel}")), None
        )
    assert facts.request is not None
    rules = compliance.rules_for(facts.country, contact_rules)
    decision = compliance.decide(facts.request, rules, now=now)
    named = {r.text for r in reasons}
    reasons += [r for r in decision.reasons if r.text not in named]  # a flag is named once
    waits = facts.paused or facts.possible_payment  # those clear on their own day, not at an hour
    return Verdict(not reasons, tuple(reasons), None if waits else decision.retry_at)
