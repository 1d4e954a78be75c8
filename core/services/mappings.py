"""Mapping profiles: named, reusable ways to read a kind of file. Some ship with Recoup."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound, ValidationError
from core.fields import required_text
from core.imports.fields import Mapping, check_mapping, fields_for
from core.models import ImportMapping
from core.roles import Actor, Permission
from core.services import audit

PROFILES_DIR = Path(__file__).resolve().parent.parent / "imports" / "profiles"


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str
    builtin: bool
    mapping: Mapping
    about: str = ""


@cache
def builtin_profiles() -> dict[str, Profile]:
    profiles = {}
    for path in sorted(PROFILES_DIR.glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        mapping = Mapping.from_saved(raw["name"], raw["kind"], raw["columns"], raw.get("options", {}))
        profiles[raw["name"]] = Profile(raw["name"], raw["kind"], True, mapping, raw.get("about", ""))
    return profiles


def list_profiles(session: Session, kind: str | None = None) -> list[Profile]:
    saved = [
        Profile(row.name, row.kind, False, Mapping.from_saved(row.name, row.kind, row.columns, row.options))
        for row in session.scalars(select(ImportMapping).order_by(ImportMapping.name))
    ]
    every = [*builtin_profiles().values(), *saved]
    return [profile for profile in every if kind is None or profile.kind == kind]


def get_profile(session: Session, name: str) -> Profile:
    for profile in list_profiles(session):
        if profile.name.lower() == name.strip().lower():
            return profile
    names = ", ".join(repr(p.name) for p in list_profiles(session)) or "none yet"
    raise NotFound(f"No mapping profile named {name!r}. Profiles: {names}.")


def save_profile(session: Session, actor: Actor, name: str, mapping: Mapping) -> None:
    """Save (or replace) a named profile. The ones Recoup ships cannot be overwritten."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "import_mapping.save", "import_mapping")
    name = required_text(name, ImportMapping.name, "Profile name")
    if name.lower() in (builtin.lower() for builtin in builtin_profiles()):
        raise ValidationError(f"{name!r} ships with Recoup and cannot be changed; save under another name.")
    fields_for(mapping.kind)
    known = {spec.key for spec in fields_for(mapping.kind)}
    if unknown := set(mapping.columns) - known:
        raise ValidationError(f"Not fields of a {mapping.kind} import: {', '.join(sorted(unknown))}.")
    check_mapping(mapping, list(mapping.columns.values()))
    row = session.scalar(select(ImportMapping).where(ImportMapping.name == name).with_for_update())
    options = {k: v for k, v in mapping.options().items() if v is not None}
    if row is None:
        row = ImportMapping(
            name=name, kind=mapping.kind, columns=mapping.columns, options=options, created_by=actor.username, version=1
        )
        session.add(row)
        session.flush()
        audit.record(session, actor, "import_mapping.save", "import_mapping", row.id, after=audit.snapshot(row))
        return
    with audit.changing(session, actor, "import_mapping.save", "import_mapping", row):
        row.kind, row.columns, row.options = mapping.kind, dict(mapping.columns), options
