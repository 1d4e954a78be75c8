"""Dunning sequences and the planner: which customers have a step due, written to the send ledger
(one row per customer, step, currency and cycle) before anything is sent. A paused account or an
earlier step that a later one supersedes is recorded too, with its reason: nothing goes unsaid."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import String, any_, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from core import dunning
from core.errors import Conflict, ValidationError
from core.models import (
    DUNNING_CHANNELS,
    DUNNING_STAGES,
    STEP_MODES,
    Customer,
    DunningSequence,
    DunningStep,
    Send,
    SequenceAssignment,
)
from core.money import Money
from core.reports import report_sql
from core.roles import Actor, Permission
from core.services import audit

INSERT_CHUNK = 5_000  # rows per INSERT: nine parameters each stays under PostgreSQL's 65,535
FLAG_REASONS = {
    "on_hold": "on hold",
    "bankrupt": "bankrupt",
    "attorney_on_record": "attorney on record",
    "deceased": "deceased",
    "do_not_contact": "do not contact",
    "legal": "handed over to legal",
}


@dataclass(frozen=True)
class NewStep:
    offset_days: int
    channel: str
    stage: str
    template_key: str = ""  # default: the stage
    mode: str = "auto"
    business_days: bool = False
    attach_invoices: bool = False
    conditions: dict[str, Any] = field(default_factory=dict)
    step_id: int | None = None  # editing: the step this row was; None: a new step


CONDITION_LISTS = ("segments", "countries", "risk_tiers")


def check_steps(steps: list[NewStep]) -> None:
    """Every step's channel, stage, mode and conditions, each refusal naming the step."""
    if not steps:
        raise ValidationError("A sequence needs at least one step.")
    for number, step in enumerate(steps, start=1):
        for value, allowed, what in (
            (step.channel, DUNNING_CHANNELS, "channel"),
            (step.stage, DUNNING_STAGES, "stage"),
            (step.mode, STEP_MODES, "mode"),
        ):
            if value not in allowed:
                raise ValidationError(
                    f"Step {number}: {value!r} is not a step {what}: use one of {', '.join(allowed)}."
                )
        unknown = set(step.conditions) - {"min_overdue", *CONDITION_LISTS}
        if unknown:
            raise ValidationError(f"Step {number}: unknown condition {', '.join(sorted(unknown))}.")
        for currency, amount in (step.conditions.get("min_overdue") or {}).items():
            try:
                Money(Decimal(str(amount)), currency)
            except (ArithmeticError, ValueError) as error:
                raise ValidationError(f"Step {number}: minimum overdue {currency} {amount}: {error}") from None
            if Decimal(str(amount)) < 0:
                raise ValidationError(f"Step {number}: a minimum overdue balance cannot be negative.")
        for key in CONDITION_LISTS:
            values = step.conditions.get(key) or []
            if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
                raise ValidationError(f"Step {number}: {key.replace('_', ' ')} must be a list of names.")


def create_sequence(session: Session, actor: Actor, *, name: str, steps: list[NewStep], description: str = "") -> int:
    """A named sequence with its steps in order of their offsets."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "dunning.sequence_create", "dunning_sequence")
    name = name.strip()
    if not name:
        raise ValidationError("Give the sequence a name.")
    if session.scalar(select(DunningSequence.id).where(DunningSequence.name == name)) is not None:
        raise Conflict(f"A sequence named {name!r} already exists.")
    check_steps(steps)
    sequence = DunningSequence(name=name, description=description, updated_by=actor.username, version=1)
    session.add(sequence)
    session.flush()
    for position, step in enumerate(sorted(steps, key=lambda s: s.offset_days), start=1):
        session.add(
            DunningStep(
                sequence_id=sequence.id,
                position=position,
                offset_days=step.offset_days,
                channel=step.channel,
                stage=step.stage,
                template_key=step.template_key or step.stage,
                mode=step.mode,
                business_days=step.business_days,
                attach_invoices=step.attach_invoices,
                conditions=step.conditions,
            )
        )
    session.flush()
    audit.record(
        session,
        actor,
        "dunning.sequence_create",
        "dunning_sequence",
        sequence.id,
        after={"name": name, "steps": [s.__dict__ for s in steps]},
    )
    return sequence.id


def update_sequence(
    session: Session,
    actor: Actor,
    sequence_id: int,
    *,
    version: int,
    name: str,
    description: str,
    active: bool,
    steps: list[NewStep],
) -> int:
    """Change a sequence: its name, description, whether it runs, and its steps (edited in place,
    added, or removed). A step with sends in the ledger stays: its send keys are what stop a step
    from going out twice. Refused, naming who saved, if someone changed the sequence since
    `version` was read. Returns the new version."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "dunning.sequence_update", "dunning_sequence", sequence_id)
    sequence = session.get(DunningSequence, sequence_id, with_for_update=True)
    if sequence is None:
        raise ValidationError(f"There is no sequence #{sequence_id}.")
    if sequence.version != version:
        raise Conflict(
            f"{sequence.name!r} was changed by {sequence.updated_by} since you opened it (version {sequence.version},"
            f" you had {version}); nothing was saved. Its current steps are shown again."
        )
    name = name.strip()
    if not name:
        raise ValidationError("Give the sequence a name.")
    taken = select(DunningSequence.id).where(DunningSequence.name == name, DunningSequence.id != sequence_id)
    if session.scalar(taken) is not None:
        raise ValidationError(f"A sequence named {name!r} already exists: choose another name.")
    check_steps(steps)
    existing = {s.id: s for s in session.scalars(select(DunningStep).where(DunningStep.sequence_id == sequence_id))}
    before = _sequence_snapshot(sequence, list(existing.values()))
    kept_ids = {step.step_id for step in steps if step.step_id is not None}
    if stray := kept_ids - set(existing):
        raise ValidationError(f"Step #{min(stray)} is not a step of {sequence.name!r}; reload the page.")
    for gone in sorted(set(existing) - kept_ids):
        used = session.scalar(select(func.count()).select_from(Send).where(Send.step_id == gone)) or 0
        if used:
            old = existing[gone]
            raise ValidationError(
                f"The {old.stage.replace('_', ' ')} step on day {old.offset_days} has {used} reminder(s) in the send"
                " ledger, so it cannot be removed: change it, or make this sequence inactive and start a new one."
            )
        session.delete(existing.pop(gone))
    session.flush()
    for kept in existing.values():  # out of the way of the unique (sequence, position) while renumbering
        kept.position = -kept.id
    session.flush()
    for position, step in enumerate(sorted(steps, key=lambda s: s.offset_days), start=1):
        found = existing.get(step.step_id) if step.step_id is not None else None
        row = found or DunningStep(sequence_id=sequence_id)
        if found is None:
            session.add(row)
        row.position, row.offset_days, row.channel, row.stage = position, step.offset_days, step.channel, step.stage
        row.template_key, row.mode = step.template_key or step.stage, step.mode
        row.business_days, row.attach_invoices, row.conditions = (
            step.business_days,
            step.attach_invoices,
            step.conditions,
        )
    sequence.name, sequence.description, sequence.active = name, description.strip(), active
    sequence.version += 1
    sequence.updated_by = actor.username
    session.flush()
    rows = list(session.scalars(select(DunningStep).where(DunningStep.sequence_id == sequence_id)))
    audit.record(
        session,
        actor,
        "dunning.sequence_update",
        "dunning_sequence",
        sequence_id,
        before=before,
        after=_sequence_snapshot(sequence, rows),
    )
    return sequence.version


def _sequence_snapshot(sequence: DunningSequence, steps: list[DunningStep]) -> dict[str, Any]:
    return {
        "name": sequence.name,
        "description": sequence.description,
        "active": sequence.active,
        "steps": [
            {
                "offset_days": s.offset_days,
                "channel": s.channel,
                "stage": s.stage,
                "mode": s.mode,
                "template_key": s.template_key,
                "business_days": s.business_days,
                "attach_invoices": s.attach_invoices,
                "conditions": s.conditions,
            }
            for s in sorted(steps, key=lambda s: s.position)
        ],
    }


def assign_sequence(
    session: Session, actor: Actor, sequence_id: int, *, segment: str | None = None, country: str | None = None
) -> int:
    """A rule: customers of this segment and country (None: any) follow this sequence. First match wins."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "dunning.assign", "dunning_sequence", sequence_id)
    position = (
        session.scalar(select(SequenceAssignment.position).order_by(SequenceAssignment.position.desc())) or 0
    ) + 1
    rule = SequenceAssignment(position=position, sequence_id=sequence_id, segment=segment, country=country)
    session.add(rule)
    session.flush()
    audit.record(
        session,
        actor,
        "dunning.assign",
        "dunning_sequence",
        sequence_id,
        after={"segment": segment, "country": country},
    )
    return rule.id


@dataclass(frozen=True)
class Book:
    """The sequences with their steps and the assignment rules, loaded once per run."""

    steps: dict[int, list[dunning.Step]]
    rules: list[tuple[str | None, str | None, int]]  # segment, country, sequence id

    def sequence_for(self, sequence_id: int | None, segment: str | None, country: str) -> int | None:
        if sequence_id is not None:
            return sequence_id if sequence_id in self.steps else None
        for rule_segment, rule_country, rule_sequence in self.rules:
            if rule_segment in (None, segment) and rule_country in (None, country) and rule_sequence in self.steps:
                return rule_sequence
        return None

    @property
    def lead_days(self) -> int:
        """How far before a due date the earliest step starts."""
        return max([0, *(-s.offset_days for steps in self.steps.values() for s in steps)])


def load_book(session: Session) -> Book:
    active = select(DunningSequence.id).where(DunningSequence.active)
    steps: dict[int, list[dunning.Step]] = {sequence_id: [] for sequence_id in session.scalars(active)}
    for row in session.scalars(select(DunningStep).where(DunningStep.sequence_id.in_(list(steps)))):
        steps[row.sequence_id].append(
            dunning.Step(
                row.id,
                row.position,
                row.offset_days,
                row.channel,
                row.stage,
                row.template_key,
                row.mode,
                row.business_days,
                dict(row.conditions),
            )
        )
    rules = [
        (r.segment, r.country, r.sequence_id)
        for r in session.scalars(select(SequenceAssignment).order_by(SequenceAssignment.position))
    ]
    return Book(steps, rules)


@dataclass(frozen=True)
class Planned:
    send_key: str
    customer_id: int
    step: dunning.Step
    currency: str
    cycle: date
    status: str  # planned, draft, blocked or skipped
    reasons: tuple[str, ...]
    next_attempt_at: datetime | None


@dataclass
class PlanResult:
    accounts: int = 0
    new: list[Planned] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(p.status for p in self.new)


def _account(row: Any, today: date) -> dunning.Account:
    blocked = tuple(label for flag, label in FLAG_REASONS.items() if getattr(row, flag))
    return dunning.Account(
        customer_id=row.customer_id,
        country=row.country,
        segment=row.segment,
        risk_tier=row.risk_tier,
        currency=row.currency,
        anchor=row.anchor,
        overdue=Money(row.overdue, row.currency),
        on_current_plan=row.on_current_plan,
        promise_until=row.promise_until,
        blocked_by=blocked,
    )


def plan_sends(session: Session, *, now: datetime, write: bool = True) -> PlanResult:
    """Find every account with a step due and write it to the send ledger (write=False: only say
    what would be written, for a dry run). Safe to run in several processes at once: a send key
    is inserted once, whoever comes first."""
    today = now.astimezone(UTC).date()
    book = load_book(session)
    result = PlanResult()
    if not book.steps:
        return result
    rows = session.execute(report_sql("dunning_candidates"), {"today": today, "lead_days": book.lead_days}).all()
    wanted: list[Planned] = []
    for row in rows:
        sequence_id = book.sequence_for(row.sequence_id, row.segment, row.country)
        if sequence_id is None:
            continue
        result.accounts += 1
        account = _account(row, today)
        due = dunning.due_step(book.steps[sequence_id], account, today)
        if due is None:
            continue
        wanted.append(_planned(account, due.step, now, today))
        for earlier in due.superseded:
            key = dunning.send_key(account.customer_id, earlier.step_id, account.currency, account.anchor)
            reason = f"superseded by step {due.step.position} ({due.step.stage}), due the same run"
            wanted.append(
                Planned(key, account.customer_id, earlier, account.currency, account.anchor, "skipped", (reason,), None)
            )
    if not wanted:
        return result
    keys = literal([p.send_key for p in wanted], ARRAY(String))  # one parameter, however many keys
    taken = set(session.scalars(select(Send.send_key).where(Send.send_key == any_(keys))))
    result.new = [p for p in wanted if p.send_key not in taken]
    for start in range(0, len(result.new) if write else 0, INSERT_CHUNK):
        chunk = result.new[start : start + INSERT_CHUNK]
        session.execute(
            insert(Send)
            .values(
                [
                    {
                        "send_key": p.send_key,
                        "customer_id": p.customer_id,
                        "step_id": p.step.step_id,
                        "currency": p.currency,
                        "cycle": p.cycle,
                        "channel": p.step.channel,
                        "status": p.status,
                        "reasons": [{"code": p.status, "text": reason} for reason in p.reasons],
                        "next_attempt_at": p.next_attempt_at,
                    }
                    for p in chunk
                ]
            )
            .on_conflict_do_nothing(index_elements=["send_key"])
        )
    return result


def _planned(account: dunning.Account, step: dunning.Step, now: datetime, today: date) -> Planned:
    """Due now. Pauses (holds, plans, promises) are not decided here: the batch re-checks them
    right before sending, records the block on the timeline and retries later."""
    key = dunning.send_key(account.customer_id, step.step_id, account.currency, account.anchor)
    status = "draft" if step.mode == "approval" else "planned"
    return Planned(key, account.customer_id, step, account.currency, account.anchor, status, (), now)


def set_customer_dunning(
    session: Session, actor: Actor, customer_id: int, *, sequence_id: int | None, excluded: bool
) -> None:
    """A customer's own sequence (None: the assignment rules decide), or no reminders at all."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "customer.dunning", "customer", customer_id)
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise ValidationError(f"No customer with id {customer_id}.")
    if sequence_id is not None and session.get(DunningSequence, sequence_id) is None:
        raise ValidationError(f"No sequence with id {sequence_id}.")
    before = {"sequence_id": customer.sequence_id, "dunning_excluded": customer.dunning_excluded}
    customer.sequence_id, customer.dunning_excluded = sequence_id, excluded
    customer.version += 1
    session.flush()
    audit.record(
        session,
        actor,
        "customer.dunning",
        "customer",
        customer_id,
        before=before,
        after={"sequence_id": sequence_id, "dunning_excluded": excluded},
    )


def sequence_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(DunningSequence.id, DunningSequence.name).order_by(DunningSequence.name)).all())


def customer_dunning(session: Session, customer_id: int) -> tuple[int | None, bool]:
    """The customer's own sequence (None: the rules decide) and whether reminders are off."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise ValidationError(f"No customer with id {customer_id}.")
    return customer.sequence_id, customer.dunning_excluded
