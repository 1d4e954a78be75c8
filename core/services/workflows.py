"""What the Workflows page reads about dunning: the sequences with their steps, the rules that assign
them, the stored message templates, and the drafts waiting for approval with their text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import DunningSequence, DunningStep, MessageTemplate, Send, SequenceAssignment
from core.roles import Actor, Permission
from core.services import audit, send_review
from core.services.send_review import SendLine


@dataclass(frozen=True)
class StepView:
    step_id: int
    position: int
    offset_days: int  # from the oldest open due date; negative = before due
    channel: str
    stage: str
    template_key: str
    mode: str  # auto, or approval: the batch prepares a draft for a manager
    business_days: bool
    attach_invoices: bool
    conditions: dict[str, Any]


@dataclass(frozen=True)
class SequenceView:
    sequence_id: int
    name: str
    description: str
    active: bool
    version: int
    updated_by: str
    steps: tuple[StepView, ...]


@dataclass(frozen=True)
class RuleView:
    """Customers of this segment and country (None: any) follow the sequence; first match wins."""

    rule_id: int
    position: int
    sequence_id: int
    sequence: str
    segment: str | None
    country: str | None


@dataclass(frozen=True)
class TemplateView:
    key: str
    channel: str
    language: str
    subject: str
    version: int
    updated_by: str


@dataclass(frozen=True)
class Draft:
    line: SendLine
    subject: str
    body: str

    @property
    def prepared(self) -> bool:
        """The batch has written its text; until then there is nothing to read and approve."""
        return bool(self.body)


def list_sequences(session: Session, actor: Actor) -> list[SequenceView]:
    """Every sequence, by name, with its steps in order."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "dunning.view", "dunning_sequence")
    steps: dict[int, list[StepView]] = {}
    for s in session.scalars(select(DunningStep).order_by(DunningStep.sequence_id, DunningStep.position)):
        steps.setdefault(s.sequence_id, []).append(
            StepView(
                s.id,
                s.position,
                s.offset_days,
                s.channel,
                s.stage,
                s.template_key,
                s.mode,
                s.business_days,
                s.attach_invoices,
                dict(s.conditions),
            )
        )
    return [
        SequenceView(q.id, q.name, q.description, q.active, q.version, q.updated_by, tuple(steps.get(q.id, ())))
        for q in session.scalars(select(DunningSequence).order_by(DunningSequence.name))
    ]


def list_rules(session: Session, actor: Actor) -> list[RuleView]:
    """The assignment rules in the order they are tried."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "dunning.view", "dunning_sequence")
    rows = session.execute(
        select(SequenceAssignment, DunningSequence.name)
        .join(DunningSequence, DunningSequence.id == SequenceAssignment.sequence_id)
        .order_by(SequenceAssignment.position, SequenceAssignment.id)
    )
    return [RuleView(r.id, r.position, r.sequence_id, name, r.segment, r.country) for r, name in rows]


def list_templates(session: Session, actor: Actor) -> list[TemplateView]:
    """Templates a manager stored; a step with none for its key and channel uses the shipped text."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "dunning.view", "message_template")
    rows = session.scalars(
        select(MessageTemplate).order_by(MessageTemplate.key, MessageTemplate.channel, MessageTemplate.language)
    )
    return [TemplateView(t.key, t.channel, t.language, t.subject, t.version, t.updated_by) for t in rows]


def list_drafts(session: Session, actor: Actor, *, limit: int = 500) -> list[Draft]:
    """Sends waiting for a manager's approval, newest first, with the text the batch prepared."""
    lines = send_review.list_sends(session, actor, statuses=("draft",), limit=limit)
    texts = {
        send_id: (subject, body)
        for send_id, subject, body in session.execute(
            select(Send.id, Send.subject, Send.body).where(Send.id.in_([line.send_id for line in lines]))
        )
    }
    return [Draft(line, *texts.get(line.send_id, ("", ""))) for line in lines]
