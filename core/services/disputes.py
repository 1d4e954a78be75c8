"""Disputes: the debtor contests an invoice (it is not chased meanwhile); resolving it either
upholds the claim (a credit note for what was wrong) or rejects it (back to collection)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound, ValidationError
from core.models import DISPUTE_CATEGORIES, DISPUTE_RESOLUTIONS, Dispute, Invoice
from core.money import Money
from core.roles import Actor
from core.services import audit
from core.services.activities import NewActivity, add_to_timeline
from core.services.adjustments import adjust_invoice
from core.services.customers import get_customer_row, require_work
from core.services.ledger import allocated_total
from core.services.summaries import refresh_accounts

CATEGORY_LABELS = {
    "wrong_amount": "Wrong amount",
    "not_delivered": "Goods or service not delivered",
    "already_paid": "Already paid",
    "damaged_or_defective": "Damaged or defective",
    "not_ordered": "Not ordered",
    "pricing": "Price or terms",
    "other": "Other",
}


def open_dispute(session: Session, actor: Actor, invoice_id: int, *, category: str, note: str = "") -> int:
    """Flag an invoice as disputed: reminders leave it out and the queue stops counting it."""
    if category not in DISPUTE_CATEGORIES:
        raise ValidationError(f"{category!r} is not a dispute reason: choose one of {', '.join(DISPUTE_CATEGORIES)}.")
    invoice = session.get(Invoice, invoice_id, with_for_update=True)
    if invoice is None:
        raise NotFound(f"No invoice with id {invoice_id}.")
    require_work(session, actor, get_customer_row(session, invoice.customer_id), "invoice.dispute")
    if category == "other" and not note.strip():
        raise ValidationError("Say what the customer disputes.")
    if invoice.disputed:
        raise Conflict(f"Invoice {invoice.number} is already in dispute.")
    if invoice.status != "open":
        raise ValidationError(
            f"Invoice {invoice.number} is {invoice.status.replace('_', ' ')}: nothing is left to dispute."
        )
    dispute = Dispute(
        customer_id=invoice.customer_id,
        invoice_id=invoice.id,
        category=category,
        note=note.strip(),
        opened_by=actor.username,
    )
    with audit.changing(session, actor, "invoice.dispute", "invoice", invoice):
        invoice.disputed = True
        session.add(dispute)
        label = CATEGORY_LABELS[category]
        add_to_timeline(
            session,
            actor,
            invoice.customer_id,
            NewActivity(
                kind="dispute",
                invoice_id=invoice.id,
                direction="inbound",
                summary=f"Invoice {invoice.number} disputed ({label})" + (f": {note.strip()}" if note.strip() else ""),
                details={"category": category, "reason": note.strip()},
            ),
        )
    refresh_accounts(session, [invoice.customer_id], actor=actor)
    return dispute.id


def resolve_dispute(
    session: Session,
    actor: Actor,
    dispute_id: int,
    *,
    resolution: str,
    note: str,
    credit: Money | None = None,
    today: date | None = None,
) -> None:
    """Upheld: a credit note for `credit` (at most what the invoice still owes) and the rest is
    chased again. Rejected: the whole invoice goes back to collection."""
    if resolution not in DISPUTE_RESOLUTIONS:
        raise ValidationError(f"A dispute is resolved as {' or '.join(DISPUTE_RESOLUTIONS)}.")
    dispute = session.get(Dispute, dispute_id, with_for_update=True)
    if dispute is None:
        raise NotFound(f"No dispute with id {dispute_id}.")
    invoice = session.get(Invoice, dispute.invoice_id, with_for_update=True)
    assert invoice is not None
    require_work(session, actor, get_customer_row(session, dispute.customer_id), "dispute.resolve")
    if dispute.resolution is not None:
        raise Conflict(f"This dispute was already {dispute.resolution} by {dispute.resolved_by}.")
    if not note.strip():
        raise ValidationError("Say how the dispute was resolved.")
    if resolution == "rejected" and credit is not None:
        raise ValidationError("A rejected dispute gives no credit.")
    if resolution == "upheld":
        if credit is None or credit.amount <= 0:
            raise ValidationError("Give the credit-note amount for an upheld dispute.")
        owed = Money(invoice.amount - allocated_total(session, invoice.id), invoice.currency)
        if credit.currency != invoice.currency:
            raise ValidationError(
                f"Invoice {invoice.number} is in {invoice.currency}; the credit is in {credit.currency}."
            )
        if credit > owed:
            raise ValidationError(
                f"The credit {credit.format()} is more than invoice {invoice.number} still owes ({owed.format()})."
            )
    before = audit.snapshot(dispute)
    with audit.changing(session, actor, "invoice.dispute_resolved", "invoice", invoice):
        invoice.disputed = False
        if credit is not None:
            dispute.adjustment_id = adjust_invoice(
                session,
                actor,
                invoice,
                kind="credit_note",
                amount=credit,
                reason=f"Dispute upheld: {note.strip()}",
                today=today,
            )
        dispute.resolution = resolution
        dispute.resolution_note = note.strip()
        dispute.resolved_by = actor.username
        dispute.resolved_at = datetime.now(UTC)
        outcome = f"upheld, credit note {credit.format()}" if credit else "rejected, back to collection"
        add_to_timeline(
            session,
            actor,
            invoice.customer_id,
            NewActivity(
                kind="dispute",
                invoice_id=invoice.id,
                summary=f"Dispute on invoice {invoice.number} {outcome}: {note.strip()}",
                details={"dispute_id": dispute.id, "resolution": resolution, "before": before},
            ),
        )
    refresh_accounts(session, [invoice.customer_id], actor=actor)


_ = Decimal
