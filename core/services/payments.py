"""After a payment is recorded: reversing it (bounced cheque, chargeback, refund of the payment),
and the customer's credit — overpayments applied to later invoices or paid back."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound, ValidationError
from core.fields import required_text
from core.models import Allocation, Invoice, Payment, Refund
from core.money import Money
from core.roles import Actor, Permission
from core.services import audit
from core.services.activities import NewActivity, add_to_timeline
from core.services.customers import get_customer_row
from core.services.ledger import apply_to_invoices, open_invoices, plan_invoices_first, unallocated
from core.services.summaries import refresh_accounts

METHOD_LABELS = {
    "bank_transfer": "Bank transfer",
    "card": "Card",
    "cash": "Cash",
    "check": "Cheque",
    "e_wallet": "E-wallet (GCash, Maya, PayNow…)",
    "direct_debit": "Direct debit",
    "other": "Other",
}


def reverse_payment(
    session: Session, actor: Actor, payment_id: int, *, reason: str, reversed_on: date | None = None
) -> dict[int, Money]:
    """Undo a payment that bounced or was charged back: exactly what it had paid on each invoice
    is owed again (a paid invoice reopens) and its credit is gone. The payment stays, marked
    reversed with why. Returns what was reopened, per invoice."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "payment.reverse", "payment", payment_id)
    payment = session.get(Payment, payment_id, with_for_update=True)
    if payment is None:
        raise NotFound(f"No payment with id {payment_id}.")
    reason = required_text(reason, Payment.reversal_reason, "Why the payment is reversed")
    reversed_on = reversed_on or date.today()
    if payment.reversed_on is not None:
        raise Conflict(
            f"Payment {payment.reference} was already reversed on {payment.reversed_on:%d %b %Y} "
            f"by {payment.reversed_by}: {payment.reversal_reason}"
        )
    if reversed_on < payment.received_on:
        raise ValidationError(f"A payment cannot be reversed before it was received ({payment.received_on:%d %b %Y}).")
    refunded = session.scalar(select(func.sum(Refund.amount)).where(Refund.payment_id == payment.id))
    if refunded:
        raise ValidationError(
            f"{Money(refunded, payment.currency).format()} of payment {payment.reference} was already refunded to "
            "the customer; reversing it would take that money back twice."
        )
    allocations = list(session.scalars(select(Allocation).where(Allocation.payment_id == payment.id)))
    invoices = {
        i.id: i
        for i in session.scalars(
            select(Invoice).where(Invoice.id.in_([a.invoice_id for a in allocations])).with_for_update()
        )
    }
    reopened: dict[int, Money] = {}
    for allocation in allocations:
        reopened[allocation.invoice_id] = reopened.get(allocation.invoice_id, Money.zero(payment.currency)) + Money(
            allocation.amount, payment.currency
        )
    session.execute(delete(Allocation).where(Allocation.payment_id == payment.id))
    for invoice_id in reopened:
        invoice = invoices[invoice_id]
        if invoice.status == "paid":
            invoice.status = "open"
            invoice.version += 1
    before = {**audit.snapshot(payment), "allocations": {str(k): str(v.amount) for k, v in reopened.items()}}
    payment.reversed_on = reversed_on
    payment.reversal_reason = reason
    payment.reversed_by = actor.username
    payment.reversed_allocations = {str(k): str(v.amount) for k, v in reopened.items()}
    payment.version += 1
    session.flush()
    audit.record(session, actor, "payment.reverse", "payment", payment.id, before=before, after=audit.snapshot(payment))
    if payment.customer_id is not None:
        numbers = ", ".join(f"{invoices[k].number} {v.format()}" for k, v in reopened.items()) or "nothing"
        add_to_timeline(
            session,
            actor,
            payment.customer_id,
            NewActivity(
                kind="payment",
                summary=(
                    f"Payment {payment.reference} of {Money(payment.amount, payment.currency).format()} reversed: "
                    f"{reason}. Owed again: {numbers}"
                ),
                details={"payment_id": payment.id, "reopened": payment.reversed_allocations},
            ),
        )
        refresh_accounts(session, [payment.customer_id], actor=actor)
    return reopened


def customer_credit(session: Session, customer_id: int) -> dict[str, Money]:
    """Per currency, what the customer has paid and is not applied to any invoice nor refunded."""
    credit: dict[str, Money] = {}
    for payment in _with_credit(session, customer_id, None):
        left = unallocated(session, payment)
        credit[payment.currency] = credit.get(payment.currency, Money.zero(payment.currency)) + left
    return {currency: money for currency, money in sorted(credit.items()) if not money.is_zero()}


def _with_credit(session: Session, customer_id: int, currency: str | None, *, lock: bool = False) -> list[Payment]:
    applied = (
        select(func.coalesce(func.sum(Allocation.amount), 0))
        .where(Allocation.payment_id == Payment.id)
        .scalar_subquery()
    )
    refunded = (
        select(func.coalesce(func.sum(Refund.amount), 0)).where(Refund.payment_id == Payment.id).scalar_subquery()
    )
    query = (
        select(Payment)
        .where(Payment.customer_id == customer_id, Payment.reversed_on.is_(None), Payment.amount > applied + refunded)
        .order_by(Payment.received_on, Payment.id)
    )
    if currency is not None:
        query = query.where(Payment.currency == currency)
    if lock:
        query = query.with_for_update(of=Payment)
    return list(session.scalars(query))


def apply_credit(
    session: Session, actor: Actor, customer_id: int, *, currency: str, invoice_ids: list[int] | None = None
) -> dict[int, Money]:
    """Apply the customer's credit in one currency to open invoices: those chosen, or a running
    plan's first and then oldest due. Returns what each invoice received."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "payment.apply_credit", "customer", customer_id)
    get_customer_row(session, customer_id, lock=True)
    payments = _with_credit(session, customer_id, currency, lock=True)
    if not payments:
        raise ValidationError(f"This customer has no {currency} credit to apply.")
    invoices = open_invoices(session, currency, customer_id=customer_id, ids=invoice_ids)
    if invoice_ids is not None and len(invoices) != len(set(invoice_ids)):
        raise ValidationError(f"Some of the chosen invoices are not open {currency} invoices of this customer.")
    if invoice_ids is None:
        invoices = plan_invoices_first(session, customer_id, [i for i in invoices if not i.disputed])
    if not invoices:
        raise ValidationError(f"This customer has no open {currency} invoice to apply credit to.")
    applied: dict[int, Money] = {}
    for payment in payments:
        for invoice_id, money in apply_to_invoices(session, payment, invoices).items():
            applied[invoice_id] = applied.get(invoice_id, Money.zero(currency)) + money
        invoices = [i for i in invoices if i.status == "open"]
    audit.record(
        session,
        actor,
        "payment.apply_credit",
        "customer",
        customer_id,
        after={"currency": currency, "applied": {str(k): str(v.amount) for k, v in applied.items()}},
    )
    total = sum(applied.values(), Money.zero(currency))
    add_to_timeline(
        session,
        actor,
        customer_id,
        NewActivity(kind="payment", summary=f"Credit of {total.format()} applied to {len(applied)} invoice(s)"),
    )
    refresh_accounts(session, [customer_id], actor=actor)
    return applied


def refund_credit(
    session: Session,
    actor: Actor,
    customer_id: int,
    *,
    amount: Money,
    refunded_on: date,
    reference: str,
    reason: str = "",
) -> list[int]:
    """Pay back customer credit, taken from the oldest payments that hold it. Returns refund ids."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "payment.refund", "customer", customer_id)
    get_customer_row(session, customer_id, lock=True)
    reference = required_text(reference, Refund.reference, "Refund reference")
    if amount.amount <= 0:
        raise ValidationError("A refund must be more than zero.")
    if refunded_on > date.today():
        raise ValidationError(f"A refund cannot be dated in the future ({refunded_on:%d %b %Y}).")
    payments = _with_credit(session, customer_id, amount.currency, lock=True)
    credits = [(payment, unallocated(session, payment)) for payment in payments]
    available = sum((c for _, c in credits), Money.zero(amount.currency))
    if amount > available:
        raise ValidationError(
            f"The customer's {amount.currency} credit is {available.format()}; {amount.format()} is more."
        )
    left, ids = amount, []
    for payment, credit in credits:
        if left.is_zero():
            break
        take = min(credit, left)
        refund = Refund(
            payment_id=payment.id,
            customer_id=customer_id,
            refunded_on=refunded_on,
            currency=amount.currency,
            amount=take.amount,
            reference=reference,
            reason=reason.strip(),
            actor=actor.username,
        )
        session.add(refund)
        session.flush()
        ids.append(refund.id)
        audit.record(session, actor, "payment.refund", "refund", refund.id, after=audit.snapshot(refund))
        left -= take
    add_to_timeline(
        session,
        actor,
        customer_id,
        NewActivity(
            kind="payment",
            summary=f"Credit of {amount.format()} refunded, ref {reference}"
            + (f": {reason.strip()}" if reason.strip() else ""),
            details={"refund_ids": ids},
        ),
    )
    return ids


def credit_total(session: Session, customer_id: int, currency: str) -> Money:
    return customer_credit(session, customer_id).get(currency, Money(Decimal(0), currency))
