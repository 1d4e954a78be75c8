"""Invoices, payments and allocations: what is owed and what was paid against it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound, ValidationError
from core.fields import required_text
from core.models import PAYMENT_METHODS, Allocation, Invoice, Payment, PaymentPlan, PlanInvoice, Refund
from core.money import Money
from core.plans import ACTIVE_STATUSES
from core.reports import report_sql
from core.roles import Actor, Permission
from core.services import audit
from core.services.customers import get_customer_row
from core.services.summaries import refresh_accounts


def allocated_total(session: Session, invoice_id: int) -> Decimal:
    return paid_on(session, [invoice_id]).get(invoice_id, Decimal(0))


def open_balance(session: Session, invoice_id: int) -> Money:
    """Amount minus allocations: derived, never stored."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"No invoice with id {invoice_id}.")
    return Money(invoice.amount - allocated_total(session, invoice_id), invoice.currency)


def owed(session: Session, customer_id: int, currency: str, *, disputed: bool = True) -> Money:
    """What the customer's open invoices in this currency still owe (amount − allocations);
    disputed=False leaves the invoices in dispute out."""
    mine = [Invoice.customer_id == customer_id, Invoice.currency == currency, Invoice.status == "open"]
    if not disputed:
        mine.append(Invoice.disputed.is_(False))
    invoiced = session.scalar(select(func.sum(Invoice.amount)).where(*mine)) or Decimal(0)
    allocated = session.scalar(select(func.sum(Allocation.amount)).join(Invoice).where(*mine)) or Decimal(0)
    return Money(invoiced - allocated, currency)


def create_invoice(
    session: Session,
    actor: Actor,
    customer_id: int,
    *,
    number: str,
    issue_date: date,
    due_date: date,
    amount: Money,
    source: str = "manual",
) -> int:
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "invoice.create", "customer", customer_id)
    get_customer_row(session, customer_id)
    number = required_text(number, Invoice.number, "Invoice number")
    source = required_text(source, Invoice.source, "Source")
    if amount.amount <= 0:
        raise ValidationError(f"Invoice {number}: the amount must be more than zero.")
    if due_date < issue_date:
        raise ValidationError(f"Invoice {number}: the due date {due_date} is before the issue date {issue_date}.")
    taken = select(Invoice.id).where(Invoice.customer_id == customer_id, Invoice.number == number)
    if session.scalar(taken) is not None:
        raise Conflict(f"This customer already has an invoice numbered {number!r}.")
    invoice = Invoice(
        customer_id=customer_id,
        number=number,
        source=source,
        issue_date=issue_date,
        due_date=due_date,
        currency=amount.currency,
        amount=amount.amount,
        status="open",
        disputed=False,
        version=1,
    )
    session.add(invoice)
    session.flush()
    audit.record(session, actor, "invoice.create", "invoice", invoice.id, after=audit.snapshot(invoice))
    refresh_accounts(session, [customer_id], actor=actor)
    return invoice.id


@dataclass(frozen=True)
class PaymentResult:
    payment_id: int
    allocated: dict[int, Money]  # invoice id -> amount applied
    credit: Money  # what is left over, held as customer credit


def record_payment(
    session: Session,
    actor: Actor,
    customer_id: int,
    *,
    amount: Money,
    received_on: date,
    reference: str,
    method: str = "bank_transfer",
    source: str = "manual",
    invoice_ids: list[int] | None = None,
    today: date | None = None,
) -> PaymentResult:
    """Record money received and apply it to the invoices named, or a running plan's first and
    then oldest due first. What is left over is the customer's credit."""
    today = today or date.today()
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "payment.record", "customer", customer_id)
    get_customer_row(session, customer_id)
    if amount.amount <= 0:
        raise ValidationError("A payment must be more than zero.")
    if received_on > today:
        raise ValidationError(f"A payment cannot be received in the future ({received_on}).")
    if method not in PAYMENT_METHODS:
        raise ValidationError(f"{method!r} is not a payment method: use one of {', '.join(PAYMENT_METHODS)}.")
    reference = required_text(reference, Payment.reference, "Payment reference (bank reference, receipt or cheque no.)")
    source = required_text(source, Payment.source, "Source")
    first = session.scalar(select(Payment).where(Payment.source == source, Payment.reference == reference))
    if first is not None:
        raise Conflict(
            f"A payment with reference {reference!r} from {source} is already recorded: payment #{first.id} of "
            f"{Money(first.amount, first.currency).format()} received {first.received_on:%d %b %Y}"
            f"{f', reversed on {first.reversed_on:%d %b %Y}' if first.reversed_on else ''}. It was not recorded twice."
        )
    payment = Payment(
        customer_id=customer_id,
        source=source,
        reference=reference,
        received_on=received_on,
        currency=amount.currency,
        amount=amount.amount,
        method=method,
    )
    session.add(payment)
    session.flush()
    allocated = _allocate(session, payment, customer_id, invoice_ids)
    credit = amount - sum(allocated.values(), Money.zero(amount.currency))
    audit.record(
        session,
        actor,
        "payment.record",
        "payment",
        payment.id,
        after={
            **audit.snapshot(payment),
            "allocations": {str(k): str(v.amount) for k, v in allocated.items()},
            "credit": str(credit.amount),
        },
    )
    refresh_accounts(session, [customer_id], actor=actor, as_of=today)
    return PaymentResult(payment.id, allocated, credit)


def _allocate(session: Session, payment: Payment, customer_id: int, invoice_ids: list[int] | None) -> dict[int, Money]:
    invoices = open_invoices(session, payment.currency, customer_id=customer_id, ids=invoice_ids)
    if invoice_ids is not None:
        if len(invoices) != len(set(invoice_ids)):
            raise ValidationError("Some of the chosen invoices are not open in this payment's currency.")
        by_id = {invoice.id: invoice for invoice in invoices}
        invoices = [by_id[i] for i in dict.fromkeys(invoice_ids)]  # in the order the user chose
    else:
        invoices = plan_invoices_first(session, customer_id, invoices)
    return apply_to_invoices(session, payment, invoices)


def plan_invoices_first(session: Session, customer_id: int, invoices: list[Invoice]) -> list[Invoice]:
    """Oldest due first, but a running plan's invoices before the rest: a customer on a plan who
    pays is paying the plan."""
    planned = set(
        session.scalars(
            select(PlanInvoice.invoice_id)
            .join(PaymentPlan, PaymentPlan.id == PlanInvoice.plan_id)
            .where(PaymentPlan.customer_id == customer_id, PaymentPlan.status.in_(ACTIVE_STATUSES + ("broken",)))
        )
    )
    return sorted(invoices, key=lambda i: (i.id not in planned, i.due_date, i.id))


def open_invoices(
    session: Session,
    currency: str,
    *,
    customer_id: int | None = None,
    ids: list[int] | None = None,
    numbers: set[str] | None = None,
) -> list[Invoice]:
    """Open invoices in one currency, oldest due first, locked until the caller's transaction ends
    (so two payments cannot both take what one invoice still owes)."""
    query = (
        select(Invoice)
        .where(Invoice.currency == currency, Invoice.status == "open")
        .order_by(Invoice.due_date, Invoice.id)
        .with_for_update()
    )
    if customer_id is not None:
        query = query.where(Invoice.customer_id == customer_id)
    if ids is not None:
        query = query.where(Invoice.id.in_(ids))
    if numbers is not None:
        query = query.where(Invoice.number.in_(numbers))
    return list(session.scalars(query))


def paid_on(session: Session, invoice_ids: list[int]) -> dict[int, Decimal]:
    """What is allocated to each of these invoices (absent: nothing), in one query."""
    return {
        invoice_id: total
        for invoice_id, total in session.execute(
            select(Allocation.invoice_id, func.sum(Allocation.amount))
            .where(Allocation.invoice_id.in_(invoice_ids))
            .group_by(Allocation.invoice_id)
        )
    }


def unallocated(session: Session, payment: Payment) -> Money:
    """What of a payment is not yet applied to any invoice nor refunded: customer credit, or
    unapplied cash. A reversed payment has none."""
    if payment.reversed_on is not None:
        return Money.zero(payment.currency)
    applied = session.scalar(select(func.sum(Allocation.amount)).where(Allocation.payment_id == payment.id))
    refunded = session.scalar(select(func.sum(Refund.amount)).where(Refund.payment_id == payment.id))
    return Money(payment.amount - (applied or Decimal(0)) - (refunded or Decimal(0)), payment.currency)


def apply_to_invoices(session: Session, payment: Payment, invoices: list[Invoice]) -> dict[int, Money]:
    """Apply what is left of a payment to these (locked) invoices in order, never more than each
    one's open balance nor more than the payment; an invoice paid off is marked paid."""
    left = unallocated(session, payment)
    paid = paid_on(session, [invoice.id for invoice in invoices])
    allocated: dict[int, Money] = {}
    for invoice in invoices:
        if left.is_zero():
            break
        if invoice.currency != payment.currency:
            raise ValidationError(
                f"Invoice {invoice.number} is in {invoice.currency}; the payment is in {payment.currency}."
            )
        balance = Money(invoice.amount - paid.get(invoice.id, Decimal(0)), invoice.currency)
        applied = min(balance, left)
        if applied.amount <= 0:
            continue
        session.add(Allocation(payment_id=payment.id, invoice_id=invoice.id, amount=applied.amount))
        left -= applied
        paid[invoice.id] = paid.get(invoice.id, Decimal(0)) + applied.amount  # an invoice listed twice
        allocated[invoice.id] = allocated.get(invoice.id, Money.zero(invoice.currency)) + applied
        if applied == balance:
            invoice.status = "paid"
            invoice.version += 1
    session.flush()
    return allocated


@dataclass(frozen=True)
class Settlement:
    invoice_id: int
    customer_ref: str
    number: str
    issue_date: date
    due_date: date
    settled_on: date
    days_to_settle: int
    days_late: int


def settled_invoices(session: Session, *, customer_id: int | None = None) -> list[Settlement]:
    """Every fully paid invoice with its days to settle and days late (sql/reports/invoice_settlement.sql)."""
    rows = session.execute(report_sql("invoice_settlement"), {"customer_id": customer_id}).all()
    return [Settlement(*row) for row in rows]
