"""Settings managers change in the app, starting with the work queue's priority weights."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, ValidationError
from core.models import Setting
from core.priority import DEFAULT_WEIGHTS, Weights
from core.roles import Actor, Permission
from core.services import audit

WEIGHTS_KEY = "priority_weights"
_LIMIT = 1000  # points per reason: enough to dominate, small enough to keep a score readable


def weights_as_dict(weights: Weights) -> dict[str, Any]:
    values = {field.name: getattr(weights, field.name) for field in fields(weights)}
    return {key: dict(value) if isinstance(value, Mapping) else value for key, value in values.items()}


def weights_from_dict(values: dict[str, Any]) -> Weights:
    """Weights from stored or edited values; a reason missing from them keeps its default."""
    merged = {**weights_as_dict(DEFAULT_WEIGHTS), **values}
    for key, value in merged.items():
        numbers = value.values() if isinstance(value, dict) else [value]
        for number in numbers:
            if isinstance(number, bool) or not isinstance(number, int) or abs(number) > _LIMIT:
                raise ValidationError(f"Weight {key!r} must be a whole number from -{_LIMIT} to {_LIMIT}.")
    merged["bucket"] = {**weights_as_dict(DEFAULT_WEIGHTS)["bucket"], **merged["bucket"]}
    merged["risk"] = {**weights_as_dict(DEFAULT_WEIGHTS)["risk"], **merged["risk"]}
    try:
        return Weights(**merged)
    except (TypeError, ValueError) as error:
        raise ValidationError(f"These weights are not valid: {error}.") from None


def setting_value(session: Session, key: str) -> dict[str, Any] | None:
    """A stored setting's value as saved (None: never saved, the shipped defaults apply)."""
    row = session.get(Setting, key)
    return None if row is None else dict(row.value)


def get_weights(session: Session) -> Weights:
    row = session.get(Setting, WEIGHTS_KEY)
    return DEFAULT_WEIGHTS if row is None else weights_from_dict(row.value)


def weights_version(session: Session) -> int:
    return session.scalar(select(Setting.version).where(Setting.key == WEIGHTS_KEY)) or 0


def save_weights(session: Session, actor: Actor, weights: Weights, *, version: int) -> None:
    """Store new weights. version is what the editor loaded (0: never saved); if someone saved
    since, nothing is written and the Conflict names who."""
    audit.require(actor, Permission.TUNE_QUEUE, "settings.priority_weights", "setting", WEIGHTS_KEY)
    row = session.get(Setting, WEIGHTS_KEY, with_for_update=True)
    current = 0 if row is None else row.version
    if current != version:
        who = row.updated_by if row is not None else "someone"
        raise Conflict(f"{who} changed the weights since you opened them; reload to see theirs.")
    before = None if row is None else dict(row.value)
    values = weights_as_dict(weights)
    if row is None:
        session.add(Setting(key=WEIGHTS_KEY, value=values, version=1, updated_by=actor.username))
    else:
        row.value = values
        row.version += 1
        row.updated_by = actor.username
        row.updated_at = datetime.now(UTC)
    session.flush()
    audit.record(session, actor, "settings.priority_weights", "setting", WEIGHTS_KEY, before=before, after=values)
