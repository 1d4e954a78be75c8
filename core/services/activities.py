"""The account timeline: logging calls, messages, notes, promises and disputes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.models import ACTIVITY_KINDS, CALL_OUTCOMES, CHANNELS, DIRECTIONS, Activity, Contact, Invoice
from core.roles import Actor
from core.services import audit
from core.services.customers import get_customer_row, require_work


@dataclass(frozen=True)
class NewActivity:
    kind: str
    summary: str = ""
    channel: str | None = None
    direction: str | None = None
    outcome: str | None = None
    invoice_id: int | None = None
    contact_id: int | None = None
    occurred_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelineEntry:
    id: int
    occurred_at: datetime
    kind: str
    channel: str | None
    direction: str | None
    outcome: str | None
    summary: str
    actor: str


def _check_belongs(
    session: Session, model: type[Invoice] | type[Contact], row_id: int | None, customer_id: int, what: str
) -> None:
    if row_id is None:
        return
    owner = session.scalar(select(model.customer_id).where(model.id == row_id))
    if owner != customer_id:
        raise ValidationError(f"That {what} does not belong to this customer.")


def _check(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    if value is not None and value not in allowed:
        raise ValidationError(f"{value!r} is not a valid {what}: choose one of {', '.join(allowed)}.")


def log_activity(session: Session, actor: Actor, customer_id: int, new: NewActivity) -> int:
    _check(new.kind, ACTIVITY_KINDS, "activity kind")
    customer = get_customer_row(session, customer_id)
    require_work(session, actor, customer, f"activity.{new.kind}")
    activity = add_to_timeline(session, actor, customer_id, new)
    audit.record(session, actor, f"activity.{new.kind}", "activity", activity.id, after=audit.snapshot(activity))
    if new.kind in CONTACT_KINDS:
        from core.services.summaries import refresh_accounts  # summaries writes timeline entries too

        refresh_accounts(session, [customer_id], actor=actor)
    return activity.id


CONTACT_KINDS = ("call", "email", "sms", "letter")  # what counts as contacting the account
OUTCOME_LABELS = {
    "rpc": "Right-party contact",
    "third_party": "Third party",
    "no_answer": "No answer",
    "voicemail": "Voicemail",
    "busy": "Busy",
    "wrong_number": "Wrong number",
    "refused": "Refused to pay",
    "promise_made": "Promise made",
}
MAX_CALL_MINUTES = 600


@dataclass(frozen=True)
class CallLog:
    outcome: str
    minutes: int = 0
    note: str = ""
    direction: str = "outbound"
    contact_id: int | None = None
    invoice_id: int | None = None


def log_call(session: Session, actor: Actor, customer_id: int, call: CallLog) -> int:
    """Log a call and its outcome. A call with the outcome "promise made" needs the promise itself:
    use promises.log_call_with_promise, which records both in one go."""
    _check(call.outcome, CALL_OUTCOMES, "call outcome")
    _check(call.direction, DIRECTIONS, "direction")
    if not 0 <= call.minutes <= MAX_CALL_MINUTES:
        raise ValidationError(f"A call lasts from 0 to {MAX_CALL_MINUTES} minutes.")
    label = OUTCOME_LABELS[call.outcome]
    note = call.note.strip()
    length = f", {call.minutes} min" if call.minutes else ""
    return log_activity(
        session,
        actor,
        customer_id,
        NewActivity(
            kind="call",
            channel="call",
            direction=call.direction,
            outcome=call.outcome,
            contact_id=call.contact_id,
            invoice_id=call.invoice_id,
            summary=f"{call.direction.title()} call: {label}{length}" + (f". {note}" if note else ""),
            details={"minutes": call.minutes},
        ),
    )


def add_to_timeline(session: Session, actor: Actor, customer_id: int, new: NewActivity) -> Activity:
    """Add a timeline entry without auditing it: for services whose own audit row covers it."""
    _check_entry(new)
    _check_belongs(session, Invoice, new.invoice_id, customer_id, "invoice")
    _check_belongs(session, Contact, new.contact_id, customer_id, "contact")
    activity = Activity(**_row(actor, customer_id, new))
    session.add(activity)
    session.flush()
    return activity


def add_many_to_timeline(session: Session, actor: Actor, entries: list[tuple[int, NewActivity]]) -> None:
    """add_to_timeline for many entries (customer id, entry) in one statement: the reminder batch
    records what it sent this way. Contacts are checked in one query too."""
    if not entries:
        return
    for _, new in entries:
        _check_entry(new)
        if new.invoice_id is not None:
            raise ValidationError("Timeline entries about one invoice are added one at a time.")
    contact_ids = sorted({new.contact_id for _, new in entries if new.contact_id is not None})
    owners = dict(session.execute(select(Contact.id, Contact.customer_id).where(Contact.id.in_(contact_ids))).all())
    if any(new.contact_id is not None and owners.get(new.contact_id) != customer_id for customer_id, new in entries):
        raise ValidationError("That contact does not belong to this customer.")
    rows = [_row(actor, customer_id, new) for customer_id, new in entries]
    session.connection().execute(insert(cast(Table, Activity.__table__)), rows)  # Core: no ORM objects to track


def _check_entry(new: NewActivity) -> None:
    _check(new.kind, ACTIVITY_KINDS, "activity kind")
    _check(new.channel, CHANNELS, "channel")
    _check(new.direction, DIRECTIONS, "direction")
    _check(new.outcome, CALL_OUTCOMES, "call outcome")
    if new.outcome and new.kind != "call":
        raise ValidationError("Only calls have an outcome.")


def _row(actor: Actor, customer_id: int, new: NewActivity) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "invoice_id": new.invoice_id,
        "contact_id": new.contact_id,
        "kind": new.kind,
        "channel": new.channel,
        "direction": new.direction,
        "outcome": new.outcome,
        "summary": new.summary.strip(),
        "details": new.details,
        "occurred_at": new.occurred_at or datetime.now(UTC),
        "actor_id": actor.user_id,
        "actor": actor.username,
    }


def timeline(session: Session, customer_id: int, *, limit: int = 200) -> list[TimelineEntry]:
    rows = session.scalars(
        select(Activity).where(Activity.customer_id == customer_id).order_by(Activity.occurred_at.desc()).limit(limit)
    )
    return [
        TimelineEntry(a.id, a.occurred_at, a.kind, a.channel, a.direction, a.outcome, a.summary, a.actor) for a in rows
    ]
