"""The audit trail: writing one row per action (refusals included) and browsing it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import PermissionDenied
from core.models import AuditEntry, Base
from core.roles import Actor, Permission


def _json_safe(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def snapshot(row: Base, *, exclude: tuple[str, ...] = ("created_at", "updated_at")) -> dict[str, Any]:
    """A JSON-safe copy of a row's columns, for the before/after of an audit entry."""
    return {
        column.key: _json_safe(getattr(row, column.key))
        for column in row.__table__.columns
        if column.key not in exclude
    }


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor_id=actor.user_id,
            actor=actor.username,
            action=action,
            entity_type=entity_type,
            entity_id=None if entity_id is None else str(entity_id),
            before=before,
            after=after,
        )
    )


@contextmanager
def changing(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    row: Base,
    *,
    exclude: tuple[str, ...] = ("created_at", "updated_at"),
) -> Iterator[None]:
    """Around one change to a versioned row: snapshot it before, then bump its version, flush
    and write the action's one audit row with before and after. Nothing is written on error."""
    before = snapshot(row, exclude=exclude)
    yield
    row.version += 1  # type: ignore[attr-defined]  # every changeable table has one
    session.flush()
    entity_id = row.id  # type: ignore[attr-defined]
    record(session, actor, action, entity_type, entity_id, before=before, after=snapshot(row, exclude=exclude))


def require(actor: Actor, permission: Permission, action: str, entity_type: str, entity_id: object = None) -> None:
    """Raise PermissionDenied (audited by the unit of work) unless the actor holds the permission."""
    if not actor.may(permission):
        deny(actor, f"Your role ({actor.role}) may not {permission.value}.", action, entity_type, entity_id)


def deny(actor: Actor, message: str, action: str, entity_type: str, entity_id: object = None) -> None:
    raise PermissionDenied(
        message,
        actor_id=actor.user_id,
        actor=actor.username,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
    )


def record_refusal(session: Session, denied: PermissionDenied) -> None:
    session.add(
        AuditEntry(
            actor_id=denied.actor_id,
            actor=denied.actor,
            action=f"{denied.action}.refused",
            entity_type=denied.entity_type,
            entity_id=denied.entity_id,
            after={"reason": str(denied)},
        )
    )


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int


def list_audit(
    session: Session,
    actor: Actor,
    *,
    actor_name: str | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 200,
    offset: int = 0,
) -> AuditPage:
    """Newest first. `action` matches a prefix, so "user." finds every user action."""
    require(actor, Permission.VIEW_AUDIT_LOG, "audit.view", "audit_log")
    query = select(AuditEntry)
    if actor_name:
        query = query.where(AuditEntry.actor == actor_name)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if entity_type:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    if since:
        query = query.where(AuditEntry.at >= datetime.combine(since, time.min).astimezone())
    if until:
        query = query.where(AuditEntry.at < datetime.combine(until + timedelta(days=1), time.min).astimezone())
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    entries = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset))
    rows = [AuditRow(e.id, e.at, e.actor, e.action, e.entity_type, e.entity_id, e.before, e.after) for e in entries]
    return AuditPage(rows=rows, total=total)


def audit_facets(session: Session, actor: Actor) -> tuple[list[str], list[str]]:
    """The actor names and entity types present, for the browser's filter choices."""
    require(actor, Permission.VIEW_AUDIT_LOG, "audit.view", "audit_log")
    actors = list(session.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor)))
    entities = list(session.scalars(select(AuditEntry.entity_type).distinct().order_by(AuditEntry.entity_type)))
    return actors, entities
