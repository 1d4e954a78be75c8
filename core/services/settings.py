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
    values = weights_as_dict(weights)
    save_setting(session, actor, WEIGHTS_KEY, values, version=version, permission=Permission.TUNE_QUEUE, what="weights")


def setting_row(session: Session, key: str) -> Setting | None:
    return session.get(Setting, key)


def save_setting(
    session: Session,
    actor: Actor,
    key: str,
    value: dict[str, Any],
    *,
    version: int,
    permission: Permission = Permission.MANAGE_ACCOUNTS,
    what: str | None = None,
) -> None:
    """Store a setting's new value, audited with before and after. version is what the form loaded
    (0: never saved); if someone saved since, nothing is written and the Conflict names who."""
    what = what or key.replace("_", " ")
    audit.require(actor, permission, f"settings.{key}", "setting", key)
    row = session.get(Setting, key, with_for_update=True)
    if (0 if row is None else row.version) != version:
        who = row.updated_by if row is not None else "someone"
        raise Conflict(f"{who} changed the {what} since you opened them; reload to see theirs.")
    before = None if row is None else dict(row.value)
    if row is None:
        session.add(Setting(key=key, value=value, version=1, updated_by=actor.username))
    else:
        row.value, row.version, row.updated_by = value, row.version + 1, actor.username
        row.updated_at = datetime.now(UTC)
    session.flush()
    audit.record(session, actor, f"settings.{key}", "setting", key, before=before, after=value)
