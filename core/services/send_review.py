"""What managers do with the send ledger: read it (blocked contacts with their reasons, drafts,
sends that need attention), approve drafts, and decide about an uncertain send — resend it or
dismiss it. Sending itself stays with the batch (core/services/reminders.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound, ValidationError
from core.models import Customer, DunningStep, Send
from core.roles import Actor, Permission
from core.services import audit

NEEDS_ATTENTION = ("uncertain", "failed")


@dataclass(frozen=True)
class SendLine:
    send_id: int
    customer_id: int
    customer: str
    channel: str
    stage: str
    currency: str
    status: str
    address: str | None
    reasons: tuple[str, ...]
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    updated_at: datetime


def list_sends(session: Session, actor: Actor, *, statuses: tuple[str, ...], limit: int = 500) -> list[SendLine]:
    """Ledger rows in these statuses, newest first: "blocked" is the Blocked contacts report."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "send.list", "send")
    rows = session.execute(
        select(Send, Customer.name, Customer.external_ref, DunningStep.stage)
        .join(Customer, Customer.id == Send.customer_id)
        .join(DunningStep, DunningStep.id == Send.step_id)
        .where(Send.status.in_(statuses))
        .order_by(Send.updated_at.desc(), Send.id.desc())
        .limit(limit)
    )
    return [
        SendLine(
            s.id,
            s.customer_id,
            f"{name} ({ref})",
            s.channel,
            stage,
            s.currency,
            s.status,
            s.address,
            tuple(r.get("text", "") for r in s.reasons or []),
            s.attempts,
            s.next_attempt_at,
            s.sent_at,
            s.updated_at,
        )
        for s, name, ref, stage in rows
    ]


def blocked_reasons(session: Session, actor: Actor) -> list[tuple[str, int]]:
    """How many sends wait, per reason code (quiet hours, on hold…) with an example of its text,
    most common first."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "send.list", "send")
    rows = session.execute(
        text(
            """
            SELECT reason ->> 'code' AS code, min(reason ->> 'text') AS example, count(*)
            FROM sends, jsonb_array_elements(sends.reasons) AS reason
            WHERE sends.status = 'blocked' GROUP BY 1 ORDER BY 3 DESC, 1
            """
        )
    )
    labels = []
    for code, example, count in rows:
        words = (code or "other").replace("_", " ")
        labels.append((words if example == words else f"{words} (e.g. {example})", count))
    return labels


def _locked(session: Session, send_id: int) -> Send:
    send = session.get(Send, send_id, with_for_update=True)
    if send is None:
        raise NotFound(f"No send #{send_id}.")
    return send


def resolve_uncertain(session: Session, actor: Actor, send_id: int, *, resend: bool, note: str = "") -> None:
    """An uncertain (or failed) send: resend puts it back for the next run; dismiss closes it."""
    action = "send.resend" if resend else "send.dismiss"
    audit.require(actor, Permission.MANAGE_ACCOUNTS, action, "send", send_id)
    send = _locked(session, send_id)
    if send.status not in NEEDS_ATTENTION:
        raise Conflict(f"Send #{send_id} is {send.status} now, not waiting for a decision.")
    before = {"status": send.status, "reasons": send.reasons}
    now = datetime.now(UTC)
    if resend:
        send.status, send.next_attempt_at, send.lease_until = "planned", None, None  # the next run takes it
        send.reasons = [{"code": "resend", "text": f"resend asked by {actor.username}" + (f": {note}" if note else "")}]
    else:
        send.status = "dismissed"
        send.reasons = [{"code": "dismissed", "text": f"dismissed by {actor.username}" + (f": {note}" if note else "")}]
    send.updated_at = now
    session.flush()
    audit.record(session, actor, action, "send", send_id, before=before, after={"status": send.status})


def approve_drafts(session: Session, actor: Actor, send_ids: list[int]) -> int:
    """Approve prepared drafts (approval-mode steps): the batch sends them on its next run, after
    checking the balance and the guard again. Returns how many were approved."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "send.approve", "send")
    if not send_ids:
        raise ValidationError("Choose the drafts to approve.")
    approved = 0
    for send_id in sorted(set(send_ids)):
        send = _locked(session, send_id)
        if send.status != "draft":
            raise Conflict(f"Send #{send_id} is {send.status}, not a draft: reload the list.")
        if not send.fingerprint:
            raise ValidationError(f"Draft #{send_id} is not written yet: the next run prepares it for you to read.")
        send.status, send.approved_by = "approved", actor.username
        send.next_attempt_at, send.updated_at = None, datetime.now(UTC)
        approved += 1
        audit.record(session, actor, "send.approve", "send", send_id, after={"status": "approved"})
    session.flush()
    return approved
