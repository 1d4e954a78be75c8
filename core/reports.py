"""Loading the named report queries kept under sql/reports."""

from __future__ import annotations

from functools import cache

from sqlalchemy import TextClause, text

from core.config import PROJECT_ROOT


@cache
def report_sql(name: str) -> TextClause:
    return text((PROJECT_ROOT / "sql" / "reports" / f"{name}.sql").read_text())
