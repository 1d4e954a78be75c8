"""The reminder batch (`python -m core remind`): plan due steps into the send ledger, then work the
ledger. Each send is claimed with a lease (FOR UPDATE SKIP LOCKED, so several processes never take
the same row), re-checked right before it goes out (balance, pauses, a possible payment, the
compliance guard), committed as "sending" *before* the message leaves, and marked sent after.
A row a crash left "sending" is never re-sent blindly: the next run marks it uncertain."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from core import db
from core.channels import Channel, ChannelError, EmailChannel, Outgoing
from core.compliance import Reason
from core.config import get_settings
from core.letters import Letter
from core.models import DunningStep, Send, Task
from core.services.activities import NewActivity, add_to_timeline
from core.services.dunning import plan_sends
from core.services.reminder_facts import SendFacts, escalation, gather_facts, guard
from core.services.reminder_letters import time_barred, write_batch, write_letter
from core.services.reminder_messages import Message, compose
from core.sms import sms_channel

log = logging.getLogger(__name__)
BATCH = 20
MAX_ATTEMPTS = 4
BACKOFF = timedelta(minutes=5)  # times the attempt number
CLAIMABLE = ("planned", "approved", "blocked", "draft")


@dataclass
class RunSummary:
    planned: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    blocked: Counter[str] = field(default_factory=Counter)  # by reason code
    uncertain_found: int = 0
    letters: list[Letter] = field(default_factory=list)
    letters_file: str | None = None  # the run's letters in one printable PDF
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, outcome: str, reasons: tuple[str, ...] = (), letter: Letter | None = None) -> None:
        with self._lock:
            self.outcomes[outcome] += 1
            for reason in reasons:
                self.blocked[reason] += 1
            if letter is not None:
                self.letters.append(letter)

    @property
    def failed(self) -> bool:
        return bool(self.outcomes["failed"] or self.uncertain_found)


def lease_seconds() -> int:
    return int(get_settings().environment == "test") * 3 or 300


def mark_uncertain(session: Session) -> int:
    """Rows a crashed run left "sending" (their lease ran out): the message may or may not have gone
    out, so a manager decides. They show under Needs attention."""
    rows = session.execute(
        update(Send)
        .where(Send.status == "sending", Send.lease_until < text("clock_timestamp()"))
        .values(
            status="uncertain",
            reasons=[{"code": "uncertain", "text": "the run stopped while sending: check and resend or dismiss"}],
            updated_at=text("clock_timestamp()"),
        )
        .returning(Send.id)
    ).all()
    return len(rows)


def claim(session: Session, *, now: datetime, worker: str, limit: int) -> list[int]:
    """Take up to `limit` due rows for this worker; rows another worker holds are skipped, not waited for."""
    ids = session.execute(
        text(
            """
            UPDATE sends SET lease_until = clock_timestamp() + make_interval(secs => :lease), leased_by = :worker
            WHERE id IN (
                SELECT id FROM sends
                WHERE (
                    status IN ('planned', 'blocked', 'draft') AND next_attempt_at <= :now
                    OR status = 'approved'  -- a manager said send it: at the next run
                    OR status = 'planned' AND next_attempt_at IS NULL  -- a manager asked to resend
                )
                  AND (lease_until IS NULL OR lease_until < clock_timestamp())
                ORDER BY next_attempt_at, id
                LIMIT :limit
                FOR UPDATE SKIP LOCKED
            )
            RETURNING id
            """
        ),
        {"lease": lease_seconds(), "worker": worker, "now": now, "limit": limit},
    ).scalars()
    return sorted(ids)


def run(
    *,
    now: datetime,
    dry_run: bool = False,
    limit: int | None = None,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
) -> RunSummary:
    """One run of the batch. dry_run: plan and report only; nothing is written or sent."""
    summary = RunSummary()
    with db.transaction() as session:
        if dry_run:
            summary.planned = plan_sends(session, now=now, write=False).counts
            return summary
        summary.uncertain_found = mark_uncertain(session)
    with db.transaction() as session:
        summary.planned = plan_sends(session, now=now).counts
    budget = _Budget(limit)
    threads = [
        threading.Thread(target=_work, args=(f"{_host()}-{n}", now, summary, budget, progress), daemon=True)
        for n in range(max(1, workers))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    summary.letters_file = write_batch(summary.letters, now=now)
    return summary


class _Budget:
    def __init__(self, limit: int | None) -> None:
        self.left = limit
        self.lock = threading.Lock()

    def take(self, wanted: int) -> int:
        with self.lock:
            if self.left is None:
                return wanted
            granted = min(wanted, self.left)
            self.left -= granted
            return granted


def _host() -> str:
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _work(
    worker: str, now: datetime, summary: RunSummary, budget: _Budget, progress: Callable[[str], None] | None
) -> None:
    while (size := budget.take(BATCH)) > 0:
        with db.transaction() as session:
            ids = claim(session, now=now, worker=worker, limit=size)
        if not ids:
            return
        for send_id in ids:
            outcome = process(send_id, now=now, worker=worker)
            summary.count(outcome.status, outcome.codes, outcome.letter)
            if progress:
                why = f": {'; '.join(outcome.reasons)}" if outcome.reasons else ""
                progress(f"{outcome.status:9} {outcome.send_key}{why}")


@dataclass(frozen=True)
class Outcome:
    send_key: str
    status: str
    reasons: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()  # the blocked reasons' stable codes, for the run's summary
    letter: Letter | None = None  # a letter written for the post, for the run's printable file


def process(send_id: int, *, now: datetime, worker: str) -> Outcome:
    """Check one claimed row and, if all is well, send it: ledger first, message second."""
    with db.transaction() as session:
        send = session.get(Send, send_id, with_for_update=True)
        if send is None or send.leased_by != worker or send.status not in CLAIMABLE:
            return Outcome(send.send_key if send else str(send_id), "skipped", ("taken by another run",))
        step = session.get(DunningStep, send.step_id)
        assert step is not None
        facts = gather_facts(session, send, step, now=now)
        if facts.nothing_due:
            return _close(session, send, "skipped", ("nothing is overdue any more",))
        if send.status == "approved" and send.fingerprint and send.fingerprint != facts.fingerprint:
            return _close(session, send, "skipped", ("the invoices changed since the draft was approved: not sent",))
        message = compose(session, send, step, facts)
        if message.error:
            return _close(session, send, "failed", (message.error,))
        if send.status == "draft":  # prepared for a manager to read and approve; it waits until then
            send.subject, send.body, send.address, send.contact_id = (
                message.subject,
                message.text,
                facts.address,
                facts.contact_id,
            )
            send.invoice_ids, send.fingerprint = list(facts.invoice_ids), facts.fingerprint
            send.next_attempt_at, send.lease_until = None, None
            return Outcome(send.send_key, "draft")
        why = escalation(session, facts, send.currency) if step.stage != "legal_handover" else None
        channel = "call" if why else step.channel  # a call task needs no contact hours, only no pause
        decision = guard(session, facts, channel, now=now)
        if not decision.allowed:
            return _block(session, send, decision.reasons, decision.retry_at or now + timedelta(days=1))
        if step.stage == "legal_handover" and (barred := time_barred(session, facts, send.cycle)):
            return _close(session, send, "skipped", (barred,))
        if step.channel == "call":
            return _task(session, send, facts, message.subject, message.text, now)
        if why:
            return _task(session, send, facts, f"Call instead of a {step.channel} reminder", f"{why}.", now)
        if step.channel == "letter":
            return _post_letter(session, send, step, facts, message)
        if (missing := unconnected(step.channel)) is not None:  # waits, with its reason, until it is
            return _block(session, send, (Reason("channel_unavailable", missing),), now + timedelta(days=1))
        send.status, send.attempts = "sending", send.attempts + 1
        send.contact_id, send.address = facts.contact_id, facts.address
        send.subject, send.body = message.subject, message.text
        send.invoice_ids, send.fingerprint = list(facts.invoice_ids), facts.fingerprint
        send.updated_at = datetime.now(UTC)
        key, attempts = send.send_key, send.attempts
    # Committed as "sending": from here a crash leaves a row the next run marks uncertain.
    try:
        provider_id = _channel(step.channel).send(Outgoing(key, facts.address or "", message.subject, message.text))
    except ChannelError as error:
        with db.transaction() as session:
            send = session.get(Send, send_id, with_for_update=True)
            assert send is not None
            if error.transient and attempts < MAX_ATTEMPTS:
                send.status, send.next_attempt_at = "planned", now + BACKOFF * attempts
                send.reasons = [{"code": "retry", "text": f"attempt {attempts} failed: {error}"}]
                send.lease_until = None
                return Outcome(key, "retry", (str(error),))
            send.status, send.reasons = "failed", [{"code": "failed", "text": str(error)}]
            return Outcome(key, "failed", (str(error),))
    with db.transaction() as session:
        send = session.get(Send, send_id, with_for_update=True)
        assert send is not None
        send.status, send.provider_message_id, send.sent_at = "sent", provider_id, datetime.now(UTC)
        send.reasons, send.lease_until = [], None
        add_to_timeline(
            session,
            _batch_actor(),
            send.customer_id,
            NewActivity(
                kind=step.channel,
                channel=step.channel,
                direction="outbound",
                contact_id=facts.contact_id,
                summary=f"{step.stage.replace('_', ' ').capitalize()} sent to {facts.address}: {message.subject}",
                details={"send_id": send.id, "send_key": key, "message_id": provider_id},
                occurred_at=now,
            ),
        )
    return Outcome(key, "sent")


def _batch_actor() -> Any:
    from core.roles import Actor

    return Actor.system_process("remind")


def unconnected(channel: str) -> str | None:
    """Why a channel cannot send from this installation (None: it can)."""
    if channel == "sms" and get_settings().sms is None:
        return "SMS is not configured (RECOUP_SMS_PROVIDER, RECOUP_SMS_TOKEN, RECOUP_SMS_SENDER)"
    if channel == "email" and get_settings().smtp is None:
        return "email is not configured (RECOUP_SMTP_HOST, RECOUP_MAIL_FROM)"
    return None


def _channel(channel: str) -> Channel:
    settings = get_settings()
    if channel == "email" and settings.smtp is not None:
        return EmailChannel(settings.smtp)
    if channel == "sms" and settings.sms is not None:
        return sms_channel(settings.sms)
    raise ChannelError(unconnected(channel) or f"{channel} cannot be sent", transient=False)


def _close(session: Session, send: Send, status: str, reasons: tuple[str, ...]) -> Outcome:
    send.status, send.lease_until = status, None
    send.reasons = [{"code": status, "text": r} for r in reasons]
    return Outcome(send.send_key, status, reasons)


def _block(session: Session, send: Send, reasons: tuple[Reason, ...], retry_at: datetime) -> Outcome:
    """Not now: recorded with every reason and retried at the next allowed time, never dropped.
    The timeline hears of it once per new set of reasons."""
    texts = tuple(r.text for r in reasons)
    earlier = tuple(r.get("text", "") for r in send.reasons or [])
    send.status, send.next_attempt_at, send.lease_until = "blocked", retry_at, None
    send.reasons = [{"code": r.code, "text": r.text} for r in reasons]
    if texts != earlier:
        add_to_timeline(
            session,
            _batch_actor(),
            send.customer_id,
            NewActivity(
                kind="blocked",
                channel=send.channel,
                summary=(
                    f"{send.channel.upper()} reminder not sent: {'; '.join(texts)}. Next try {retry_at:%d %b %H:%M} UTC"
                ),
                details={"send_id": send.id, "reasons": send.reasons},
            ),
        )
    return Outcome(send.send_key, "blocked", texts, tuple(r.code for r in reasons))


def _post_letter(session: Session, send: Send, step: DunningStep, facts: SendFacts, message: Message) -> Outcome:
    """A letter is done once its PDF is on the account: printing follows from the run's file."""
    document_id, letter = write_letter(
        session, _batch_actor(), send, facts, stage=step.stage, subject=message.subject, text=message.text
    )
    send.status, send.provider_message_id, send.sent_at = "sent", f"document:{document_id}", datetime.now(UTC)
    send.subject, send.body, send.lease_until = message.subject, message.text, None
    stage = step.stage.replace("_", " ").capitalize()
    add_to_timeline(
        session,
        _batch_actor(),
        send.customer_id,
        NewActivity(
            kind="letter",
            channel="letter",
            direction="outbound",
            summary=f"{stage} letter written for the post: {message.subject}",
            details={"send_id": send.id, "document_id": document_id},
        ),
    )
    return Outcome(send.send_key, "letter", letter=letter)


def _task(session: Session, send: Send, facts: SendFacts, title: str, script: str, now: datetime) -> Outcome:
    task = Task(
        customer_id=send.customer_id,
        send_id=send.id,
        kind="call",
        title=title or "Call the customer",
        script=script,
        due_on=now.date(),
        assigned_to=facts.collector_id,
    )
    session.add(task)
    session.flush()
    send.status, send.provider_message_id, send.sent_at, send.lease_until = "sent", f"task:{task.id}", now, None
    add_to_timeline(
        session,
        _batch_actor(),
        send.customer_id,
        NewActivity(kind="task", summary=f"Call task for the collector: {task.title}", details={"task_id": task.id}),
    )
    return Outcome(send.send_key, "task")
