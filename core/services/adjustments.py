"""Credit notes and write-offs: reducing what an invoice owes without money received. Each is
allocated to its invoice like a payment, so every open-balance query stays "amount − allocations"."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.models import Adjustment, Allocation, Invoice
from core.money import Money
from core.roles import Actor, Permission
from core.services import audit
from core.services.activities import NewActivity, add_to_timeline
from core.services.customers import get_customer_row
from core.services.ledger import open_invoices, paid_on
from core.services.summaries import refresh_accounts


def adjust_invoice(
    session: Session,
    actor: Actor,
    invoice: Invoice,
    *,
    kind: str,
    amount: Money,
    reason: str,
    today: date | None = None,
) -> int:
    """Apply a credit note or write-off of amount to one (locked) invoice; the caller audits.
    An invoice left owing nothing is closed: paid when money covered some of it, written off otherwise."""
    adjustment = Adjustment(
        customer_id=invoice.customer_id,
        kind=kind,
        made_on=today or date.today(),
        currency=amount.currency,
        amount=amount.amount,
        reason=reason,
        actor=actor.username,
    )
    owed = invoice.amount - paid_on(session, [invoice.id]).get(invoice.id, 0) - amount.amount
    session.add(adjustment)
    session.flush()
    session.add(Allocation(adjustment_id=adjustment.id, invoice_id=invoice.id, amount=amount.amount))
    if owed == 0:
        invoice.status = "written_off" if kind == "write_off" else "paid"
        invoice.version += 1
    session.flush()
    return adjustment.id


def write_off(
    session: Session,
    actor: Actor,
    customer_id: int,
    *,
    currency: str,
    reason: str,
    invoice_ids: list[int] | None = None,
    today: date | None = None,
) -> Money:
    """Write off what the chosen open invoices (default: all open in that currency) still owe.
    Managers only. The amounts leave the open balance but stay in the history and reports."""
    audit.require(actor, Permission.WRITE_OFF, "account.write_off", "customer", customer_id)
    get_customer_row(session, customer_id, lock=True)
    if not reason.strip():
        raise ValidationError("Give the reason for the write-off (uncollectable, deceased, settled for less…).")
    invoices = open_invoices(session, currency, customer_id=customer_id, ids=invoice_ids)
    if invoice_ids is not None and len(invoices) != len(set(invoice_ids)):
        raise ValidationError(f"Some of the chosen invoices are not open in {currency}.")
    if any(invoice.disputed for invoice in invoices):
        raise ValidationError("Resolve the disputes on these invoices before writing them off.")
    paid = paid_on(session, [invoice.id for invoice in invoices])
    total = Money.zero(currency)
    written: dict[str, str] = {}
    for invoice in invoices:
        owed = Money(invoice.amount - paid.get(invoice.id, 0), currency)
        if owed.amount <= 0:
            continue
        adjust_invoice(session, actor, invoice, kind="write_off", amount=owed, reason=reason.strip(), today=today)
        written[invoice.number] = str(owed.amount)
        total += owed
    if total.is_zero():
        raise ValidationError(f"Nothing is open in {currency} to write off.")
    add_to_timeline(
        session,
        actor,
        customer_id,
        NewActivity(
            kind="write_off",
            summary=f"Wrote off {total.format()} ({len(written)} invoice{'s' if len(written) > 1 else ''}): "
            + reason.strip(),
            details={"invoices": written, "currency": currency},
        ),
    )
    audit.record(
        session,
        actor,
        "account.write_off",
        "customer",
        customer_id,
        after={"currency": currency, "total": str(total.amount), "invoices": written, "reason": reason.strip()},
    )
    refresh_accounts(session, [customer_id], actor=actor)
    return total
