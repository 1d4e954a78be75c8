"""The tables of the collections desk, as SQLAlchemy 2.x declarative models."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("admin", "manager", "collector", "viewer")
CUSTOMER_KINDS = ("person", "company")
RISK_TIERS = ("low", "medium", "high")
CONTACT_ROLES = ("debtor", "guarantor", "billing")
INVOICE_STATUSES = ("open", "paid", "written_off", "void")
PAYMENT_METHODS = ("bank_transfer", "card", "cash", "check", "e_wallet", "direct_debit", "other")
ACTIVITY_KINDS = (
    "email",
    "sms",
    "letter",
    "call",
    "note",
    "promise",
    "dispute",
    "hold",
    "status_change",
    "document",
    "write_off",
    "assignment",
    "plan",
    "payment",
    "blocked",
    "task",
)
PROMISE_STATUSES = ("pending", "kept", "broken", "cancelled")
DISPUTE_CATEGORIES = (
    "wrong_amount",
    "not_delivered",
    "already_paid",
    "damaged_or_defective",
    "not_ordered",
    "pricing",
    "other",
)
DISPUTE_RESOLUTIONS = ("upheld", "rejected")
ADJUSTMENT_KINDS = ("write_off", "credit_note")
# proposed/rejected: a collector's plan awaiting a manager; current/late/completed follow the
# payments; broken and cancelled stay until a manager changes them (core/plans.py).
PLAN_STATUSES = ("proposed", "rejected", "current", "late", "broken", "completed", "cancelled")
PLAN_FREQUENCIES = ("weekly", "biweekly", "monthly", "custom")
DUNNING_CHANNELS = ("email", "sms", "letter", "call")
DUNNING_STAGES = ("reminder", "firm", "final_notice", "legal_handover")
STEP_MODES = ("auto", "approval")
# planned → sending → sent | failed; draft → approved → sending (approval steps); blocked waits for
# its retry time; a row left "sending" by a crash becomes uncertain until a manager decides.
SEND_STATUSES = (
    "draft",
    "approved",
    "planned",
    "sending",
    "sent",
    "failed",
    "blocked",
    "uncertain",
    "skipped",
    "dismissed",
)
TASK_STATUSES = ("open", "done", "cancelled")
CHANNELS = ("email", "sms", "letter", "call", "portal", "in_person")
DIRECTIONS = ("inbound", "outbound")
IMPORT_KINDS = ("customers", "invoices", "payments")
# How a payment found its invoices: named in the reference, the one open invoice of that exact
# amount, oldest due first, invoices a user chose, or settled in an imported invoice file.
MATCH_RULES = ("invoice_number", "exact_amount", "oldest_first", "chosen", "settled_in_file")
CALL_OUTCOMES = (
    "rpc",
    "third_party",
    "no_answer",
    "voicemail",
    "busy",
    "wrong_number",
    "refused",
    "promise_made",
)

# A hosted checkout (core/gateway.py): open until paid or expired; how Recoup learned it was paid.
CHECKOUT_STATUSES = ("open", "paid", "expired")
CHECKOUT_COMPLETIONS = ("redirect", "webhook", "reconcile")

# Amounts: 19 digits with 4 decimals covers every ISO 4217 minor unit (KWD/BHD have 3).
AMOUNT = Numeric(19, 4)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class User(Timestamped, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint("username = lower(username)", name="username_lowercase"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    failed_logins: Mapped[int] = mapped_column(Integer, server_default="0")
    last_failed_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lockout_cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Sign-in cookies issued before this no longer open a session (set by a password reset).
    sessions_revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class LoginAttempt(Base):
    """Every sign-in attempt, kept per typed username so lockout works for unknown names too."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    succeeded: Mapped[bool] = mapped_column(Boolean)


class Customer(Timestamped, Base):
    """The debtor: a person or a company that owes."""

    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint(_in("kind", CUSTOMER_KINDS), name="kind"),
        CheckConstraint(_in("risk_tier", RISK_TIERS), name="risk_tier"),
        CheckConstraint("country ~ '^[A-Z]{2}$'", name="country_iso"),
        CheckConstraint("credit_limit IS NULL OR credit_limit >= 0", name="credit_limit_positive"),
        CheckConstraint("(credit_limit IS NULL) = (credit_currency IS NULL)", name="credit_limit_currency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(2))
    time_zone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16), server_default="en")
    segment: Mapped[str | None] = mapped_column(String(100))
    risk_tier: Mapped[str] = mapped_column(String(16), server_default="medium")
    collector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    credit_limit: Mapped[Decimal | None] = mapped_column(AMOUNT)
    credit_currency: Mapped[str | None] = mapped_column(String(3))
    on_hold: Mapped[bool] = mapped_column(Boolean, server_default="false")
    hold_until: Mapped[date | None] = mapped_column(Date)
    bankrupt: Mapped[bool] = mapped_column(Boolean, server_default="false")
    attorney_on_record: Mapped[bool] = mapped_column(Boolean, server_default="false")
    deceased: Mapped[bool] = mapped_column(Boolean, server_default="false")
    do_not_contact: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # Handed over to legal (the dunning legal stage sets it): no more reminders; counsel takes over.
    legal: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # Who set each hold or flag, when and why: {flag: {"by": username, "at": iso time, "why": text}}.
    flag_notes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    # The day the collector means to work the account again; it stays out of "today" until then.
    next_action_on: Mapped[date | None] = mapped_column(Date)
    next_action_note: Mapped[str | None] = mapped_column(String(300))
    # Dunning: a sequence chosen for this customer (else the assignment rules pick), or none at all.
    sequence_id: Mapped[int | None] = mapped_column(ForeignKey("dunning_sequences.id"))
    dunning_excluded: Mapped[bool] = mapped_column(Boolean, server_default="false")
    postal_code: Mapped[str | None] = mapped_column(String(20))  # the portal's second factor may ask for it
    # Portal links carry the generation they were made in; a manager revoking links moves it on,
    # and every earlier link stops working (migration 0010).
    portal_generation: Mapped[int] = mapped_column(Integer, server_default="0")
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class Contact(Timestamped, Base):
    """A person we may reach about a customer's debt, with consent and opt-out per channel."""

    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint(_in("role", CONTACT_ROLES), name="role"),
        CheckConstraint("phone IS NULL OR phone ~ '^\\+[1-9][0-9]{6,14}$'", name="phone_e164"),
        CheckConstraint("(preferred_from IS NULL) = (preferred_until IS NULL)", name="preferred_hours"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(16))
    consent_email: Mapped[bool] = mapped_column(Boolean, server_default="true")
    consent_sms: Mapped[bool] = mapped_column(Boolean, server_default="false")
    consent_call: Mapped[bool] = mapped_column(Boolean, server_default="true")
    consent_letter: Mapped[bool] = mapped_column(Boolean, server_default="true")
    opted_out_email: Mapped[bool] = mapped_column(Boolean, server_default="false")
    opted_out_sms: Mapped[bool] = mapped_column(Boolean, server_default="false")
    opted_out_call: Mapped[bool] = mapped_column(Boolean, server_default="false")
    opted_out_letter: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # Preferred hours in the customer's time zone (both or neither) and language, when the contact gave them.
    preferred_from: Mapped[time | None] = mapped_column(Time)
    preferred_until: Mapped[time | None] = mapped_column(Time)
    language: Mapped[str | None] = mapped_column(String(16))


class Invoice(Timestamped, Base):
    """An amount owed in one currency. Its open balance is derived from allocations."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("customer_id", "number", name="uq_invoices_customer_number"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint(_in("status", INVOICE_STATUSES), name="status"),
        Index("ix_invoices_number", "number"),  # the work queue's search by invoice number
        # Aging reads what is unpaid from this index alone (migration 0009), in customer order.
        Index(
            "ix_invoices_unsettled",
            "customer_id",
            "currency",
            postgresql_include=[
                "id",
                "due_date",
                "issue_date",
                "amount",
                "paid_amount",
                "first_paid_on",
                "last_paid_on",
                "credited_amount",
                "last_credited_on",
            ],
            postgresql_where="settled_on IS NULL AND status IN ('open', 'paid')",
        ),
        Index("ix_invoices_settled_on", "settled_on"),  # aging as of a past day: paid in full since
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    source: Mapped[str] = mapped_column(String(100), server_default="manual")
    number: Mapped[str] = mapped_column(String(100))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    status: Mapped[str] = mapped_column(String(16), server_default="open")
    disputed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    # Kept by triggers on allocations (migration 0007), never written by the services: the first day
    # a payment was received for it, and the day the payment that completed it was received.
    first_paid_on: Mapped[date | None] = mapped_column(Date)
    settled_on: Mapped[date | None] = mapped_column(Date)
    # Also kept by those triggers (migration 0009): what payments have covered so far, and the day
    # the latest of them was received. Aging on or after that day needs no allocations.
    paid_amount: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0")
    last_paid_on: Mapped[date | None] = mapped_column(Date)
    # And (migration 0013) what credit notes have taken off it, and the day the latest was made:
    # no longer owed, though not paid, so balances and aging count it and payment figures do not.
    credited_amount: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0")
    last_credited_on: Mapped[date | None] = mapped_column(Date)


class Payment(Timestamped, Base):
    """Money received. customer_id is empty while the payer is unknown (unapplied cash)."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("source", "reference", name="uq_payments_source_reference"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint(_in("method", PAYMENT_METHODS), name="method"),
        CheckConstraint(f"matched_by IS NULL OR {_in('matched_by', MATCH_RULES)}", name="matched_by"),
        # The reminder batch asks for unmatched payments in one currency (migration 0006).
        Index("ix_payments_unmatched", "currency", "id", postgresql_where="customer_id IS NULL"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    source: Mapped[str] = mapped_column(String(100), server_default="manual")
    reference: Mapped[str] = mapped_column(String(200))
    received_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    method: Mapped[str] = mapped_column(String(32))
    matched_by: Mapped[str | None] = mapped_column(String(32))
    # The customer ref a payment file gave but Recoup did not know: a clue for matching by hand.
    payer_ref: Mapped[str | None] = mapped_column(String(100))
    # A reversal (bounced cheque, chargeback, refund) undoes the allocations; the row stays as history.
    reversed_on: Mapped[date | None] = mapped_column(Date)
    reversal_reason: Mapped[str | None] = mapped_column(Text)
    reversed_by: Mapped[str | None] = mapped_column(String(64))
    # What the reversal reopened, {invoice id: amount}, so the timeline can say exactly what.
    reversed_allocations: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class OnlineCheckout(Base):
    """A payment a debtor started on the provider's checkout page. Paid, it points to the one payment
    recorded for it (payments are unique by source and reference, the provider's payment id)."""

    __tablename__ = "checkout_sessions"
    __table_args__ = (
        CheckConstraint(_in("status", CHECKOUT_STATUSES), name="status"),
        CheckConstraint(f"completed_via IS NULL OR {_in('completed_via', CHECKOUT_COMPLETIONS)}", name="completed_via"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("(status = 'open') = (completed_at IS NULL)", name="completed_when_closed"),
        CheckConstraint("(completed_at IS NULL) = (completed_via IS NULL)", name="completed_together"),
        CheckConstraint("(status = 'paid') = (payment_id IS NOT NULL)", name="paid_has_payment"),
        # Reconciliation polls the open ones only.
        Index("ix_checkout_sessions_open", "id", postgresql_where="status = 'open'"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_session_id: Mapped[str] = mapped_column(String(255), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    status: Mapped[str] = mapped_column(String(16), server_default="open")
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_via: Mapped[str | None] = mapped_column(String(16))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)


class Refund(Base):
    """Customer credit (the unallocated part of one payment) paid back to the customer."""

    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    refunded_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    reference: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, server_default="")
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ImportMapping(Timestamped, Base):
    """A named, reusable way to read one kind of file: which header feeds which field, and options."""

    __tablename__ = "import_mappings"
    __table_args__ = (CheckConstraint(_in("kind", IMPORT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    columns: Mapped[dict[str, Any]] = mapped_column(JSONB)  # field -> header in the file
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    created_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class Adjustment(Base):
    """A credit note or write-off: it reduces what an invoice owes (through an allocation) without
    any money received, so open balances stay "amount minus allocations" everywhere."""

    __tablename__ = "adjustments"
    __table_args__ = (
        CheckConstraint(_in("kind", ADJUSTMENT_KINDS), name="kind"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    made_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Allocation(Base):
    """The part of a payment (or of a credit note or write-off) applied to one invoice."""

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("num_nonnulls(payment_id, adjustment_id) = 1", name="one_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("adjustments.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Activity(Base):
    """One entry on an account's timeline: a message, a call, a note, a promise, a dispute…"""

    __tablename__ = "activities"
    __table_args__ = (
        CheckConstraint(_in("kind", ACTIVITY_KINDS), name="kind"),
        CheckConstraint(f"channel IS NULL OR {_in('channel', CHANNELS)}", name="channel"),
        CheckConstraint(f"direction IS NULL OR {_in('direction', DIRECTIONS)}", name="direction"),
        CheckConstraint(f"outcome IS NULL OR {_in('outcome', CALL_OUTCOMES)}", name="outcome"),
        Index("ix_activities_customer_at", "customer_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(16))
    direction: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text, server_default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    """Who did what to which record, before and after. Append-only: the database refuses changes."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_entity", "entity_type", "entity_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class Promise(Base):
    """A promise to pay: amount, currency, date. Kept when payments received from the day it was
    made to its date cover it; broken from the day after otherwise (core/promises.py)."""

    __tablename__ = "promises"
    __table_args__ = (
        CheckConstraint(_in("status", PROMISE_STATUSES), name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("due_on >= made_on", name="due_after_made"),
        Index("ix_promises_customer_made", "customer_id", "made_on"),
        Index("ix_promises_pending_due", "due_on", postgresql_where="status = 'pending'"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    made_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class Dispute(Base):
    """An invoice contested by the debtor, from opening to its resolution."""

    __tablename__ = "disputes"
    __table_args__ = (
        CheckConstraint(_in("category", DISPUTE_CATEGORIES), name="category"),
        CheckConstraint(f"resolution IS NULL OR {_in('resolution', DISPUTE_RESOLUTIONS)}", name="resolution"),
        CheckConstraint("(resolution IS NULL) = (resolved_at IS NULL)", name="resolved_together"),
        Index("ix_disputes_invoice", "invoice_id"),
        Index("ix_disputes_one_open", "invoice_id", unique=True, postgresql_where="resolution IS NULL"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    category: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, server_default="")
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("adjustments.id"))
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Document(Base):
    """A PDF or image attached to an account or one of its invoices, kept in the database or in a
    configured folder (then only its path is here)."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("(content IS NULL) <> (stored_at IS NULL)", name="stored_once"),
        CheckConstraint("size_bytes > 0", name="not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    file_name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    stored_at: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(300), server_default="")
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AssignmentRule(Timestamped, Base):
    """Who gets a new account: the first active rule (by position) whose conditions all match."""

    __tablename__ = "assignment_rules"
    __table_args__ = (
        CheckConstraint("country IS NULL OR country ~ '^[A-Z]{2}$'", name="country_iso"),
        CheckConstraint("currency IS NULL OR currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("(min_balance IS NULL AND max_balance IS NULL) OR currency IS NOT NULL", name="band_currency"),
        CheckConstraint("min_balance IS NULL OR max_balance IS NULL OR min_balance <= max_balance", name="band_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    collector_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    segment: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    currency: Mapped[str | None] = mapped_column(String(3))
    min_balance: Mapped[Decimal | None] = mapped_column(AMOUNT)
    max_balance: Mapped[Decimal | None] = mapped_column(AMOUNT)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class AddressOptOut(Base):
    """An email address or phone number its owner asked us to stop using, on any channel. Kept by
    the address, not the contact row, so a re-import that rewrites contacts cannot undo it."""

    __tablename__ = "address_opt_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)  # lower-case email, or E.164
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    why: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PortalAttempt(Base):
    """A portal link that did not open, by client address: too many in a while and that address
    is turned away for a time, so links cannot be guessed by trying."""

    __tablename__ = "portal_attempts"
    __table_args__ = (Index("ix_portal_attempts_client_at", "client", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Setting(Base):
    """A setting managers change in the app (the queue's weights…), versioned like any record."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AccountBalance(Base):
    """Precomputed: a customer's open balance in one currency. Kept current by the services
    (core/services/summaries.py) so the work queue never sums invoices per request."""

    __tablename__ = "account_balances"
    __table_args__ = (Index("ix_account_balances_currency_amount", "currency", "open_amount"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    open_amount: Mapped[Decimal] = mapped_column(AMOUNT)
    disputed_amount: Mapped[Decimal] = mapped_column(AMOUNT)
    open_invoices: Mapped[int] = mapped_column(Integer)
    oldest_due_date: Mapped[date | None] = mapped_column(Date)  # of the open invoices not in dispute


class AgingSnapshot(Base):
    """A day aging_balances holds, written by the daily rebuild: today and the last month end. The
    Reports page reads aging_balances only for such a day, and only if the aging query that wrote
    it is today's (definition); any other day is computed from the invoices."""

    __tablename__ = "aging_snapshot"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    definition: Mapped[str] = mapped_column(String(32))  # md5 of report_aging.sql that wrote it
    built_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AgingBalance(Base):
    """Precomputed: a customer's open balance in one currency per aging bucket, as of one of the
    snapshot's days (sql/reports/report_aging.sql computes it). Kept current by the services with
    account_balances; the calendar moving on is the daily rebuild's job."""

    __tablename__ = "aging_balances"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # No foreign key: see migration 0012 (a deadlock with payments). Building a day drops the rows
    # of a customer deleted by hand: today's daily, the month end's when it is next built (within
    # a month), both at once with `python -m core build-aging`.
    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    current_amount: Mapped[Decimal] = mapped_column(AMOUNT)
    due_1_30: Mapped[Decimal] = mapped_column(AMOUNT)
    due_31_60: Mapped[Decimal] = mapped_column(AMOUNT)
    due_61_90: Mapped[Decimal] = mapped_column(AMOUNT)
    due_91_180: Mapped[Decimal] = mapped_column(AMOUNT)
    due_over_180: Mapped[Decimal] = mapped_column(AMOUNT)
    total: Mapped[Decimal] = mapped_column(AMOUNT)
    invoices: Mapped[int] = mapped_column(Integer)
    overdue_invoices: Mapped[int] = mapped_column(Integer)


class AccountSummary(Base):
    """Precomputed: what the work queue ranks and filters by, one row per customer, kept current by
    the services. Facts that change with the calendar (days past due, a promise turning broken)
    are derived from these dates at query time, so the summary never goes stale overnight."""

    __tablename__ = "account_summaries"
    __table_args__ = (Index("ix_account_summaries_oldest_due", "oldest_due_date"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    oldest_due_date: Mapped[date | None] = mapped_column(Date)
    open_invoices: Mapped[int] = mapped_column(Integer, server_default="0")
    disputed_invoices: Mapped[int] = mapped_column(Integer, server_default="0")
    currencies: Mapped[str] = mapped_column(String(100), server_default="")  # "PHP USD", for display
    last_contact_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    promise_id: Mapped[int | None] = mapped_column(Integer)  # the latest promise
    promise_status: Mapped[str | None] = mapped_column(String(16))
    promise_due_on: Mapped[date | None] = mapped_column(Date)
    promise_amount: Mapped[Decimal | None] = mapped_column(AMOUNT)
    promise_currency: Mapped[str | None] = mapped_column(String(3))
    missed_instalments: Mapped[int] = mapped_column(Integer, server_default="0")  # payment plans (issue 6)
    refreshed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PaymentPlan(Timestamped, Base):
    """An agreed schedule of instalments for part or all of what a customer owes in one currency.
    paid_amount caches what payments have put towards it; version changes with every edit and
    every payment, so an editor holding an older version is refused, never overwrites."""

    __tablename__ = "payment_plans"
    __table_args__ = (
        CheckConstraint(_in("status", PLAN_STATUSES), name="status"),
        CheckConstraint(_in("frequency", PLAN_FREQUENCIES), name="frequency"),
        CheckConstraint("principal > 0 AND fee >= 0 AND total = principal + fee", name="total"),
        CheckConstraint("paid_amount >= 0", name="paid_not_negative"),
        Index("ix_payment_plans_customer", "customer_id"),
        Index("ix_payment_plans_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(String(3))
    principal: Mapped[Decimal] = mapped_column(AMOUNT)
    fee: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0")
    total: Mapped[Decimal] = mapped_column(AMOUNT)
    frequency: Mapped[str] = mapped_column(String(16))
    starts_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    status_since: Mapped[date] = mapped_column(Date)
    paid_amount: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0")
    note: Mapped[str] = mapped_column(Text, server_default="")
    created_by: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str] = mapped_column(String(64))
    last_change: Mapped[str] = mapped_column(Text, server_default="")  # who changed what, for conflicts
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class PlanInvoice(Base):
    """An invoice a plan covers: payments to it count towards the plan's instalments."""

    __tablename__ = "plan_invoices"

    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id", ondelete="CASCADE"), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), primary_key=True, index=True)


class PlanInstalment(Base):
    """One dated amount of a plan (the down payment is the first). Paid in date order."""

    __tablename__ = "plan_instalments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_plan_instalments_plan_due", "plan_id", "due_on"),
        Index("ix_plan_instalments_due", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id", ondelete="CASCADE"))
    due_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    down_payment: Mapped[bool] = mapped_column(Boolean, server_default="false")


class DunningSequence(Timestamped, Base):
    """A named escalation: ordered steps, each a message or task at an offset from the due date."""

    __tablename__ = "dunning_sequences"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, server_default="")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    updated_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class DunningStep(Base):
    """One step of a sequence. conditions: {"min_overdue": {"PHP": "500"}, "segments": [...],
    "countries": [...], "risk_tiers": [...]} — all optional, all must hold."""

    __tablename__ = "dunning_steps"
    __table_args__ = (
        CheckConstraint(_in("channel", DUNNING_CHANNELS), name="channel"),
        CheckConstraint(_in("stage", DUNNING_STAGES), name="stage"),
        CheckConstraint(_in("mode", STEP_MODES), name="mode"),
        UniqueConstraint("sequence_id", "position", name="uq_dunning_steps_sequence_position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("dunning_sequences.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    offset_days: Mapped[int] = mapped_column(Integer)  # from the oldest open due date; negative = before due
    channel: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    template_key: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16), server_default="auto")
    business_days: Mapped[bool] = mapped_column(Boolean, server_default="false")
    attach_invoices: Mapped[bool] = mapped_column(Boolean, server_default="false")
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")


class SequenceAssignment(Base):
    """Which sequence a customer follows: the first rule (by position) whose segment and country match."""

    __tablename__ = "sequence_assignments"
    __table_args__ = (CheckConstraint("country IS NULL OR country ~ '^[A-Z]{2}$'", name="country_iso"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("dunning_sequences.id", ondelete="CASCADE"))
    segment: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))


class MessageTemplate(Timestamped, Base):
    """A message text per template key (usually the stage), channel and language (Jinja2, sandboxed)."""

    __tablename__ = "message_templates"
    __table_args__ = (
        CheckConstraint(_in("channel", DUNNING_CHANNELS), name="channel"),
        UniqueConstraint("key", "channel", "language", name="uq_message_templates_key_channel_language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(300), server_default="")
    body: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class Send(Base):
    """The send ledger: one row per customer, step, currency and dunning cycle (send_key is unique),
    committed before anything goes out, so no message is ever sent twice."""

    __tablename__ = "sends"
    __table_args__ = (
        CheckConstraint(_in("status", SEND_STATUSES), name="status"),
        CheckConstraint(_in("channel", DUNNING_CHANNELS), name="channel"),
        Index("ix_sends_due", "status", "next_attempt_at"),
        Index("ix_sends_customer", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    send_key: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    step_id: Mapped[int] = mapped_column(ForeignKey("dunning_steps.id"))
    currency: Mapped[str] = mapped_column(String(3))
    cycle: Mapped[date] = mapped_column(Date)  # the oldest due date the sequence counts from
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    address: Mapped[str | None] = mapped_column(String(320))
    invoice_ids: Mapped[list[int]] = mapped_column(JSONB, server_default="[]")
    fingerprint: Mapped[str] = mapped_column(String(64), server_default="")  # what the invoices owed when prepared
    subject: Mapped[str] = mapped_column(String(300), server_default="")
    body: Mapped[str] = mapped_column(Text, server_default="")
    reasons: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")  # why blocked, skipped or failed
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    leased_by: Mapped[str | None] = mapped_column(String(100))
    provider_message_id: Mapped[str | None] = mapped_column(String(300))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Task(Base):
    """Work for a collector that a dunning step created instead of a message: a call, a legal review."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(_in("status", TASK_STATUSES), name="status"),
        Index("ix_tasks_open", "assigned_to", "due_on", postgresql_where="status = 'open'"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    send_id: Mapped[int | None] = mapped_column(ForeignKey("sends.id"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    script: Mapped[str] = mapped_column(Text, server_default="")
    due_on: Mapped[date] = mapped_column(Date)
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), server_default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_by: Mapped[str | None] = mapped_column(String(64))
