"""Addresses their owners asked us to stop using — an email address or a phone number, on every
channel that uses it. Kept by the address, apart from the contact rows, so a re-import that
rewrites a contact cannot undo a request to stop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.fields import required_text
from core.models import AddressOptOut, Contact
from core.roles import Actor
from core.services import audit
from core.services.activities import NewActivity, add_to_timeline
from core.services.customers import get_customer_row, require_work


def normal(address: str) -> str:
    """The form addresses are kept and compared in: emails in lower case; numbers as stored (E.164)."""
    return address.strip().lower()


@dataclass(frozen=True)
class StoppedAddress:
    address: str
    why: str
    by: str
    at: datetime


def stop_address(session: Session, actor: Actor, customer_id: int, address: str, *, why: str) -> None:
    """Stop every message and call to this address, for this customer and any other that has it."""
    customer = get_customer_row(session, customer_id, lock=True)
    require_work(session, actor, customer, "contact.stop_address")
    why = required_text(why, AddressOptOut.why, "Reason")
    key = normal(address)
    if key not in _addresses(session, customer_id):
        raise ValidationError(f"{address!r} is not an address of this customer's contacts.")
    if session.scalar(select(AddressOptOut.id).where(AddressOptOut.address == key)) is not None:
        raise ValidationError(f"{address} is already stopped.")
    row = AddressOptOut(address=key, customer_id=customer_id, why=why, created_by=actor.username)
    session.add(row)
    session.flush()
    audit.record(session, actor, "contact.stop_address", "customer", customer_id, after={"address": key, "why": why})
    add_to_timeline(
        session,
        actor,
        customer_id,
        NewActivity(kind="status_change", summary=f"Stopped contacting {key}: {why}", details={"address": key}),
    )


def resume_address(session: Session, actor: Actor, customer_id: int, address: str, *, why: str) -> None:
    customer = get_customer_row(session, customer_id, lock=True)
    require_work(session, actor, customer, "contact.resume_address")
    why = required_text(why, AddressOptOut.why, "Reason")
    row = session.scalar(select(AddressOptOut).where(AddressOptOut.address == normal(address)).with_for_update())
    if row is None:
        raise ValidationError(f"{address} is not stopped.")
    before = {"address": row.address, "why": row.why, "by": row.created_by}
    session.delete(row)
    session.flush()
    audit.record(session, actor, "contact.resume_address", "customer", customer_id, before=before, after={"why": why})
    add_to_timeline(
        session,
        actor,
        customer_id,
        NewActivity(
            kind="status_change", summary=f"Contacting {row.address} again: {why}", details={"address": row.address}
        ),
    )


def stopped_for(session: Session, customer_id: int) -> list[StoppedAddress]:
    """The stopped addresses among this customer's contacts (whoever asked)."""
    rows = session.scalars(
        select(AddressOptOut)
        .where(AddressOptOut.address.in_(sorted(_addresses(session, customer_id))))
        .order_by(AddressOptOut.address)
    )
    return [StoppedAddress(r.address, r.why, r.created_by, r.created_at) for r in rows]


def _addresses(session: Session, customer_id: int) -> set[str]:
    contacts = session.scalars(select(Contact).where(Contact.customer_id == customer_id))
    return {normal(a) for c in contacts for a in (c.email, c.phone) if a}


def stopped_among(session: Session, addresses: set[str]) -> set[str]:
    """Which of these addresses are stopped (as normal() spells them)."""
    keys = sorted({normal(a) for a in addresses})
    return set(session.scalars(select(AddressOptOut.address).where(AddressOptOut.address.in_(keys))))
