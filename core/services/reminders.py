"""The reminder batch (`python -m core remind`): plan due steps into the send ledger, then work the
ledger. Each worker (a process of its own when there are several) claims a chunk of sends with a
lease (FOR UPDATE SKIP LOCKED, so several processes never take the same row) and reads the facts of
the whole chunk at once: balances, pauses, a possible payment, the contact history for the
compliance guard. Each message is then committed as "sending" *before* it leaves, by a statement
that also re-reads the account's state (recoup_send_state, migration 0006): if anything changed
since the chunk was read, that send is read and decided again on its own. It is marked sent after,
in the same commit as the next message's "sending". A row a crash left "sending" is never re-sent
blindly: the next run marks it uncertain."""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ARRAY, BigInteger, Table, any_, bindparam, func, literal, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core import db
from core.channels import Channel, ChannelError, EmailChannel, Outgoing
from core.compliance import Reason
from core.config import get_settings
from core.errors import RecoupError
from core.letters import Letter
from core.models import DunningStep, Send, Task
from core.services.activities import NewActivity, add_many_to_timeline, add_to_timeline
from core.services.dunning import plan_sends
from core.services.dunning_settings import agency
from core.services.portal_settings import portal_settings
from core.services.reminder_facts import SendFacts, escalation, gather_facts, gather_many, guard
from core.services.reminder_letters import time_barred, write_batch, write_letter
from core.services.reminder_messages import Message, compose
from core.services.settings import setting_value
from core.sms import sms_channel
from core.templates import AgencyInfo, Template

log = logging.getLogger(__name__)
BATCH = 50  # sends a worker claims and reads at once
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

    def take_in(self, counts: tuple[Counter[str], Counter[str], list[Letter]]) -> None:
        """Add what a worker process counted."""
        outcomes, blocked, letters = counts
        with self._lock:
            self.outcomes += outcomes
            self.blocked += blocked
            self.letters += letters

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
    """One run of the batch. dry_run: plan and report only; nothing is written or sent. With more
    than one worker, each is a process of its own: the work is Python and database round trips,
    and threads would queue for one interpreter."""
    summary = RunSummary()
    with db.transaction() as session:
        if dry_run:
            summary.planned = plan_sends(session, now=now, write=False).counts
            return summary
        summary.uncertain_found = mark_uncertain(session)
    with db.transaction() as session:
        summary.planned = plan_sends(session, now=now).counts
    if workers <= 1:
        _work(f"{_host()}-0", now, summary, _Budget(limit), progress)
    else:
        _run_processes(now, workers, limit, summary, progress)
    summary.letters_file = write_batch(summary.letters, now=now)
    return summary


class BatchError(RecoupError):
    """A worker process of the run stopped before its work was done."""


class _Budget:
    """How many more sends this run may take (--limit), shared by the workers of one process."""

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

    def give_back(self, unused: int) -> None:
        with self.lock:
            if self.left is not None:
                self.left += unused


class _SharedBudget(_Budget):
    """The same, shared by worker processes through shared memory (-1: no limit)."""

    def __init__(self, left: Any) -> None:
        self.shared = left

    def take(self, wanted: int) -> int:
        with self.shared.get_lock():
            if self.shared.value < 0:
                return wanted
            granted = min(wanted, self.shared.value)
            self.shared.value -= granted
            return int(granted)

    def give_back(self, unused: int) -> None:
        with self.shared.get_lock():
            if self.shared.value >= 0:
                self.shared.value += unused


def _run_processes(
    now: datetime, workers: int, limit: int | None, summary: RunSummary, progress: Callable[[str], None] | None
) -> None:
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited connections
    left = context.Value("q", -1 if limit is None else limit)
    reports = context.Queue()
    children = {
        f"{_host()}-{n}": context.Process(
            target=_child, args=(f"{_host()}-{n}", now, left, reports, progress is not None), name=f"remind-{n}"
        )
        for n in range(workers)
    }
    for child in children.values():
        child.start()
    waiting, errors = set(children), []
    while waiting:
        try:
            kind, worker, payload = reports.get(timeout=1)
        except queue.Empty:
            for worker in [w for w in waiting if children[w].exitcode is not None]:  # died without a word
                errors.append(f"worker {worker} stopped (exit code {children[worker].exitcode})")
                waiting.discard(worker)
            continue
        if kind == "line" and progress:
            progress(payload)
        elif kind == "done":
            summary.take_in(payload)
            waiting.discard(worker)
        elif kind == "error":
            errors.append(payload)
            waiting.discard(worker)
    for child in children.values():
        child.join()
    if errors:
        raise BatchError("; ".join(errors) + ". What the other workers did is recorded; run again to continue.")


def _child(worker: str, now: datetime, left: Any, reports: Any, verbose: bool) -> None:
    """A worker process: its own connections, its share of the run, its counts sent back."""
    summary = RunSummary()
    say = (lambda line: reports.put(("line", worker, line))) if verbose else None
    try:
        _work(worker, now, summary, _SharedBudget(left), say)
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        reports.put(("error", worker, f"worker {worker}: cannot reach the database: {reason}"))
    except Exception as error:  # the parent reports it; the traceback goes to the log
        log.exception("worker %s stopped", worker)
        reports.put(("error", worker, f"worker {worker}: {error}"))
    else:
        reports.put(("done", worker, (summary.outcomes, summary.blocked, summary.letters)))
    finally:
        db.engine().dispose()


def _host() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _work(
    worker: str, now: datetime, summary: RunSummary, budget: _Budget, progress: Callable[[str], None] | None
) -> None:
    delivery = _Delivery(worker, now)
    try:
        while (size := budget.take(BATCH)) > 0:
            with db.transaction() as session:
                ids = claim(session, now=now, worker=worker, limit=size)
            budget.give_back(size - len(ids))
            if not ids:
                return
            for outcome in _chunk(ids, now=now, worker=worker, delivery=delivery):
                summary.count(outcome.status, outcome.codes, outcome.letter)
                if progress:
                    why = f": {'; '.join(outcome.reasons)}" if outcome.reasons else ""
                    progress(f"{outcome.status:9} {outcome.send_key}{why}")
    finally:
        delivery.close()


@dataclass(frozen=True)
class Outcome:
    send_key: str
    status: str
    reasons: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()  # the blocked reasons' stable codes, for the run's summary
    letter: Letter | None = None  # a letter written for the post, for the run's printable file


@dataclass(frozen=True)
class Ready:
    """A message checked and rendered, waiting only to be marked "sending" and sent."""

    send_id: int
    send_key: str
    customer_id: int
    step: DunningStep
    facts: SendFacts
    message: Message
    state: str = ""  # recoup_send_state when the facts were read ("": not checked again)


@dataclass
class _Rules:
    """The settings every decision in a chunk reads, read once; the templates met so far; the
    timeline entries its blocks write, added in one statement at the end (write_timeline)."""

    contact_rules: dict[str, Any] | None
    dunning: dict[str, Any] | None
    agency: AgencyInfo | None = None
    instructions: dict[str, str] | None = None  # how to pay, per currency (the portal settings)
    templates: dict[tuple[str, str], list[Template]] = field(default_factory=dict)
    timeline: list[tuple[int, NewActivity]] = field(default_factory=list)

    def write_timeline(self, session: Session) -> None:
        add_many_to_timeline(session, _batch_actor(), self.timeline)
        self.timeline = []

    @classmethod
    def read(cls, session: Session) -> _Rules:
        return cls(
            setting_value(session, "contact_rules"),
            setting_value(session, "dunning"),
            agency(session)[0],
            portal_settings(session).instructions,
        )


def _chunk(ids: list[int], *, now: datetime, worker: str, delivery: _Delivery) -> Iterator[Outcome]:
    """Decide a claimed chunk from facts read at once; what needs no message is written right away,
    then each message goes out on its own, ledger first."""
    ready: list[Ready] = []
    with db.transaction() as session:
        sends = list(
            session.scalars(select(Send).where(Send.id == any_(_ids(ids))).order_by(Send.id).with_for_update())
        )
        mine = [s for s in sends if s.leased_by == worker and s.status in CLAIMABLE]
        outcomes = [Outcome(s.send_key, "skipped", ("taken by another run",)) for s in sends if s not in mine]
        # The state first, the facts second: a change in between shows as a different state later.
        states: dict[int, str] = dict(
            session.execute(
                select(Send.id, func.recoup_send_state(Send.customer_id, Send.currency)).where(
                    Send.id == any_(_ids([s.id for s in mine]))
                )
            ).all()
        )
        step_ids = sorted({s.step_id for s in mine})
        steps = {s.id: s for s in session.scalars(select(DunningStep).where(DunningStep.id == any_(_ids(step_ids))))}
        facts = gather_many(session, [(s, steps[s.step_id]) for s in mine], now=now)
        rules = _Rules.read(session)
        for send in mine:
            decided = _decide(session, send, steps[send.step_id], facts[send.id], now=now, rules=rules)
            if isinstance(decided, Ready):
                ready.append(replace(decided, state=states[send.id]))
            else:
                outcomes.append(decided)
        rules.write_timeline(session)
    yield from outcomes
    for item in ready:
        yield delivery.deliver(item)
    delivery.flush()


def process(send_id: int, *, now: datetime, worker: str, delivery: _Delivery | None = None) -> Outcome:
    """Read, check and, if all is well, send one claimed row on its own: ledger first, message second."""
    own = delivery is None
    delivery = delivery or _Delivery(worker, now)
    try:
        with db.transaction() as session:
            delivery.record(session)
            send = session.get(Send, send_id, with_for_update=True)
            if send is None or send.leased_by != worker or send.status not in CLAIMABLE:
                return Outcome(send.send_key if send else str(send_id), "skipped", ("taken by another run",))
            step = session.get(DunningStep, send.step_id)
            assert step is not None
            facts = gather_facts(session, send, step, now=now)
            rules = _Rules.read(session)
            decided = _decide(session, send, step, facts, now=now, rules=rules)
            rules.write_timeline(session)
            if isinstance(decided, Outcome):
                return decided
            attempts = _mark_sending(session, decided, worker)
            assert attempts is not None  # the row is locked and ours
        return delivery.send(decided, attempts)
    finally:
        if own:
            delivery.close()


def _decide(
    session: Session, send: Send, step: DunningStep, facts: SendFacts, *, now: datetime, rules: _Rules
) -> Outcome | Ready:
    """What to do with one send, given its facts: an outcome written now, or a message to send."""
    if facts.nothing_due:
        return _close(session, send, "skipped", ("nothing is overdue any more",))
    if send.status == "approved" and send.fingerprint and send.fingerprint != facts.fingerprint:
        return _close(session, send, "skipped", ("the invoices changed since the draft was approved: not sent",))
    message = compose(session, send, step, facts, rules.templates, rules.agency, rules.instructions)
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
    why = escalation(facts, send.currency, rules.dunning) if step.stage != "legal_handover" else None
    channel = "call" if why else step.channel  # a call task needs no contact hours, only no pause
    decision = guard(facts, channel, now=now, contact_rules=rules.contact_rules)
    if not decision.allowed:
        return _block(send, decision.reasons, decision.retry_at or now + timedelta(days=1), rules.timeline)
    if step.stage == "legal_handover" and (barred := time_barred(session, facts, send.cycle)):
        return _close(session, send, "skipped", (barred,))
    if step.channel == "call":
        return _task(session, send, facts, message.subject, message.text, now)
    if why:
        return _task(session, send, facts, f"Call instead of a {step.channel} reminder", f"{why}.", now)
    if step.channel == "letter":
        return _post_letter(session, send, step, facts, message, rules.agency)
    if (missing := unconnected(step.channel)) is not None:  # waits, with its reason, until it is
        return _block(send, (Reason("channel_unavailable", missing),), now + timedelta(days=1), rules.timeline)
    return Ready(send.id, send.send_key, send.customer_id, step, facts, message)


SENDS = cast(Table, Send.__table__)  # the ledger's hot statements run as Core: the ORM's bookkeeping buys nothing here


def _mark_sending(session: Session, item: Ready, worker: str) -> int | None:
    """Commit point one: the ledger says "sending" before the message leaves. With item.state, only
    if the account is as it was when the facts were read. Returns the attempt number, or None."""
    statement = (
        SENDS.update()
        .where(SENDS.c.id == item.send_id, SENDS.c.leased_by == worker, SENDS.c.status.in_(CLAIMABLE))
        .values(
            status="sending",
            attempts=SENDS.c.attempts + 1,
            contact_id=item.facts.contact_id,
            address=item.facts.address,
            subject=item.message.subject,
            body=item.message.text,
            invoice_ids=list(item.facts.invoice_ids),
            fingerprint=item.facts.fingerprint,
            updated_at=func.clock_timestamp(),
        )
        .returning(SENDS.c.attempts)
    )
    if item.state:
        statement = statement.where(func.recoup_send_state(SENDS.c.customer_id, SENDS.c.currency) == item.state)
    return session.connection().scalar(statement)


class _Delivery:
    """A worker's channels (one SMTP connection for the whole run) and the messages it has sent but
    not yet marked sent: that mark rides on the next commit, the next message's "sending"."""

    def __init__(self, worker: str, now: datetime) -> None:
        self.worker, self.now = worker, now
        self.channels: dict[str, Channel] = {}
        self.sent: list[tuple[Ready, str, datetime]] = []

    def deliver(self, item: Ready) -> Outcome:
        with db.transaction() as session:
            self.record(session)
            attempts = _mark_sending(session, item, self.worker)
        if attempts is None:  # the account changed since the chunk was read (or the row is not ours)
            return process(item.send_id, now=self.now, worker=self.worker, delivery=self)
        return self.send(item, attempts)

    def send(self, item: Ready, attempts: int) -> Outcome:
        # Committed as "sending": from here a crash leaves a row the next run marks uncertain.
        outgoing = Outgoing(item.send_key, item.facts.address or "", item.message.subject, item.message.text)
        try:
            provider_id = self.channel(item.step.channel).send(outgoing)
        except ChannelError as error:
            with db.transaction() as session:
                self.record(session)
                return _not_sent(session, item, error, attempts, self.now)
        self.sent.append((item, provider_id, datetime.now(UTC)))
        return Outcome(item.send_key, "sent")

    def record(self, session: Session) -> None:
        """Commit point two, for every message sent since the last commit: sent, and on the timeline."""
        if not self.sent:
            return
        session.connection().execute(
            SENDS.update()
            .where(SENDS.c.id == bindparam("send_id"))
            .values(status="sent", provider_message_id=bindparam("pid"), sent_at=bindparam("at"))
            .values(reasons=[], lease_until=None),
            [{"send_id": item.send_id, "pid": pid, "at": at} for item, pid, at in self.sent],
        )
        add_many_to_timeline(
            session,
            _batch_actor(),
            [
                (
                    item.customer_id,
                    NewActivity(
                        kind=item.step.channel,
                        channel=item.step.channel,
                        direction="outbound",
                        contact_id=item.facts.contact_id,
                        summary=(
                            f"{item.step.stage.replace('_', ' ').capitalize()} sent to {item.facts.address}:"
                            f" {item.message.subject}"
                        ),
                        details={"send_id": item.send_id, "send_key": item.send_key, "message_id": pid},
                        occurred_at=self.now,
                    ),
                )
                for item, pid, _ in self.sent
            ],
        )
        self.sent = []

    def flush(self) -> None:
        if self.sent:
            with db.transaction() as session:
                self.record(session)

    def channel(self, name: str) -> Channel:
        if name not in self.channels:
            self.channels[name] = _channel(name)
        return self.channels[name]

    def close(self) -> None:
        try:
            self.flush()
        finally:
            for channel in self.channels.values():
                close = getattr(channel, "close", None)
                if close is not None:
                    close()


def _not_sent(session: Session, item: Ready, error: ChannelError, attempts: int, now: datetime) -> Outcome:
    send = session.get(Send, item.send_id, with_for_update=True)
    assert send is not None
    if error.transient and attempts < MAX_ATTEMPTS:
        send.status, send.next_attempt_at = "planned", now + BACKOFF * attempts
        send.reasons = [{"code": "retry", "text": f"attempt {attempts} failed: {error}"}]
        send.lease_until = None
        return Outcome(item.send_key, "retry", (str(error),))
    send.status, send.reasons = "failed", [{"code": "failed", "text": str(error)}]
    return Outcome(item.send_key, "failed", (str(error),))


def _ids(ids: list[int]) -> Any:
    return literal(ids, ARRAY(BigInteger))


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


def _block(
    send: Send, reasons: tuple[Reason, ...], retry_at: datetime, timeline: list[tuple[int, NewActivity]]
) -> Outcome:
    """Not now: recorded with every reason and retried at the next allowed time, never dropped.
    The timeline hears of it once per new set of reasons."""
    texts = tuple(r.text for r in reasons)
    earlier = tuple(r.get("text", "") for r in send.reasons or [])
    send.status, send.next_attempt_at, send.lease_until = "blocked", retry_at, None
    send.reasons = [{"code": r.code, "text": r.text} for r in reasons]
    if texts != earlier:
        timeline.append(
            (
                send.customer_id,
                NewActivity(
                    kind="blocked",
                    channel=send.channel,
                    summary=f"{send.channel.upper()} reminder not sent: {'; '.join(texts)}."
                    f" Next try {retry_at:%d %b %H:%M} UTC",
                    details={"send_id": send.id, "reasons": send.reasons},
                ),
            )
        )
    return Outcome(send.send_key, "blocked", texts, tuple(r.code for r in reasons))


def _post_letter(
    session: Session, send: Send, step: DunningStep, facts: SendFacts, message: Message, agency: AgencyInfo | None
) -> Outcome:
    """A letter is done once its PDF is on the account: printing follows from the run's file."""
    document_id, letter = write_letter(
        session,
        _batch_actor(),
        send,
        facts,
        stage=step.stage,
        subject=message.subject,
        text=message.text,
        agency=agency,
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
