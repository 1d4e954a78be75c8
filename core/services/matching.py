"""Matching payments to invoices: automatically on import, and by hand for what is left over.

The automatic rules, in order: an invoice number found in the payment's reference; else the
customer's one open invoice of exactly that amount; else oldest due first when the customer is
known. Nothing matched and no customer: the payment waits in the unapplied list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.errors import NotFound, ValidationError
from core.models import Allocation, Customer, Invoice, Payment
from core.money import Money
from core.roles import Actor, Permission
from core.services import audit
from core.services.customers import get_customer_row
from core.services.ledger import apply_to_invoices, open_invoices, paid_on, plan_invoices_first, unallocated
from core.services.summaries import refresh_accounts

_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9/_.-]*[A-Za-z0-9])?")
_MIN_TOKEN = 4  # "12" or "A1" in a bank reference names no invoice for certain


def reference_tokens(*texts: str | None) -> set[str]:
    """The words of a bank reference that could be invoice numbers ("INV-1001/2024", "611365"):
    at least four characters with a digit among them."""
    return {
        token
        for piece in texts
        if piece
        for token in _TOKEN.findall(piece)
        if len(token) >= _MIN_TOKEN and any(ch.isdigit() for ch in token)
    }


def match_automatically(session: Session, payment: Payment, *, invoice_hint: str | None = None) -> str | None:
    """Apply a new payment by the rules above; return the rule that matched, or None."""
    if tokens := reference_tokens(payment.reference, invoice_hint):
        named = open_invoices(session, payment.currency, customer_id=payment.customer_id, numbers=tokens)
        if named and len({invoice.customer_id for invoice in named}) == 1:
            payment.customer_id = named[0].customer_id
            others = open_invoices(session, payment.currency, customer_id=payment.customer_id)
            rest = [i for i in others if i not in named and not i.disputed]
            return _applied(session, payment, named + rest, "invoice_number")
    if payment.customer_id is None:
        return None
    candidates = [
        i for i in open_invoices(session, payment.currency, customer_id=payment.customer_id) if not i.disputed
    ]
    paid = paid_on(session, [i.id for i in candidates])
    exact = [i for i in candidates if i.amount - paid.get(i.id, Decimal(0)) == payment.amount]
    if len(exact) == 1:
        return _applied(session, payment, exact, "exact_amount")
    return _applied(session, payment, candidates, "oldest_first")


def _applied(session: Session, payment: Payment, invoices: list[Invoice], rule: str) -> str | None:
    if not apply_to_invoices(session, payment, invoices):
        return None
    payment.matched_by = rule
    return rule


@dataclass(frozen=True)
class UnappliedPayment:
    payment_id: int
    received_on: date
    reference: str
    source: str
    method: str
    amount: Money
    unallocated: Money
    customer_id: int | None
    customer: str  # "ref · name", or "" while the payer is unknown
    payer_ref: str | None = None  # the customer ref the payment's file gave, unknown to Recoup


def list_unapplied(session: Session, actor: Actor, *, limit: int = 500) -> list[UnappliedPayment]:
    """Payments with money not applied to any invoice: payer unknown first, then customer credit."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "payment.list_unapplied", "payment")
    rows = session.execute(
        text(
            """
            SELECT p.id, p.received_on, p.reference, p.source, p.method, p.currency, p.amount,
                   p.amount - coalesce(sum(a.amount), 0) - coalesce(r.refunded, 0) AS unallocated,
                   p.customer_id, coalesce(c.external_ref || ' · ' || c.name, '') AS customer, p.payer_ref
            FROM payments p
            LEFT JOIN allocations a ON a.payment_id = p.id
            LEFT JOIN customers c ON c.id = p.customer_id
            LEFT JOIN (SELECT payment_id, sum(amount) AS refunded FROM refunds GROUP BY payment_id) r
                ON r.payment_id = p.id
            WHERE p.reversed_on IS NULL
            GROUP BY p.id, c.id, r.refunded
            HAVING p.amount - coalesce(sum(a.amount), 0) - coalesce(r.refunded, 0) > 0
            ORDER BY p.customer_id IS NOT NULL, p.received_on, p.id
            LIMIT :limit
            """
        ),
        {"limit": limit},
    ).all()
    return [
        UnappliedPayment(
            payment_id=r.id,
            received_on=r.received_on,
            reference=r.reference,
            source=r.source,
            method=r.method,
            amount=Money(r.amount, r.currency),
            unallocated=Money(r.unallocated, r.currency),
            customer_id=r.customer_id,
            customer=r.customer,
            payer_ref=r.payer_ref,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class OpenInvoice:
    invoice_id: int
    number: str
    due_date: date
    open_balance: Money
    disputed: bool


def open_invoices_for(session: Session, actor: Actor, customer_id: int, currency: str) -> list[OpenInvoice]:
    """A customer's open invoices in one currency, oldest due first, with what each still owes."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "invoice.list", "customer", customer_id)
    rows = session.execute(
        select(Invoice, func.coalesce(func.sum(Allocation.amount), 0))
        .outerjoin(Allocation, Allocation.invoice_id == Invoice.id)
        .where(Invoice.customer_id == customer_id, Invoice.currency == currency, Invoice.status == "open")
        .group_by(Invoice.id)
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    return [OpenInvoice(i.id, i.number, i.due_date, Money(i.amount - paid, i.currency), i.disputed) for i, paid in rows]


def match_payment(
    session: Session, actor: Actor, payment_id: int, *, customer_id: int, invoice_ids: list[int] | None = None
) -> dict[int, Money]:
    """A manager matches a payment by hand: to a customer, and to the invoices chosen (in that
    order) or oldest due first. What the invoices cannot take stays as the customer's credit."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "payment.match", "payment", payment_id)
    payment = session.get(Payment, payment_id, with_for_update=True)
    if payment is None:
        raise NotFound(f"No payment with id {payment_id}.")
    customer = get_customer_row(session, customer_id)
    if payment.customer_id is not None and payment.customer_id != customer_id:
        owner = session.get(Customer, payment.customer_id)
        raise ValidationError(
            f"Payment {payment.reference} belongs to customer {owner.external_ref if owner else payment.customer_id}; "
            "it cannot be matched to another customer's invoices."
        )
    if payment.reversed_on is not None:
        raise ValidationError(
            f"Payment {payment.reference} was reversed on {payment.reversed_on:%d %b %Y}: nothing to match."
        )
    left = unallocated(session, payment)
    if left.is_zero():
        raise ValidationError(f"Payment {payment.reference} is already fully applied.")
    before = {"customer_id": payment.customer_id, "unallocated": str(left.amount), "matched_by": payment.matched_by}
    payment.customer_id = customer.id
    if invoice_ids:
        invoice_ids = list(dict.fromkeys(invoice_ids))  # the same invoice twice is once
        invoices = open_invoices(session, payment.currency, customer_id=customer.id)
        by_id = {invoice.id: invoice for invoice in invoices}
        if missing := [i for i in invoice_ids if i not in by_id]:
            raise ValidationError(
                f"Invoices {', '.join(map(str, missing))} are not open {payment.currency} invoices "
                f"of {customer.external_ref}."
            )
        chosen, rule = [by_id[i] for i in invoice_ids], "chosen"
    else:
        everything = open_invoices(session, payment.currency, customer_id=customer.id)
        chosen, rule = (
            plan_invoices_first(session, customer.id, [i for i in everything if not i.disputed]),
            "oldest_first",
        )
    allocated = apply_to_invoices(session, payment, chosen)
    if allocated:
        payment.matched_by = rule
    session.flush()
    audit.record(
        session,
        actor,
        "payment.match",
        "payment",
        payment.id,
        before=before,
        after={
            "customer_id": customer.id,
            "allocations": {str(k): str(v.amount) for k, v in allocated.items()},
            "unallocated": str(unallocated(session, payment).amount),
            "matched_by": payment.matched_by,
        },
    )
    refresh_accounts(session, [customer.id], actor=actor)
    return allocated
