"""Checks on free-text input: trimmed, present when required, and within its column's length."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import InstrumentedAttribute

from core.errors import ValidationError


def required_text(value: str | None, column: InstrumentedAttribute[Any], label: str) -> str:
    """The trimmed value, or a ValidationError naming the field; the limit comes from the model."""
    cleaned = (value or "").strip()
    if not cleaned:
        raise ValidationError(f"{label} is required.")
    column_type = column.property.columns[0].type
    if isinstance(column_type, String) and column_type.length and len(cleaned) > column_type.length:
        raise ValidationError(f"{label} can be at most {column_type.length} characters; this one has {len(cleaned)}.")
    return cleaned


def optional_text(value: str | None, column: InstrumentedAttribute[Any], label: str) -> str | None:
    """Like required_text, but blank means None."""
    return required_text(value, column, label) if value and value.strip() else None
