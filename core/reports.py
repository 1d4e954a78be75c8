"""Loading the named report queries kept under sql/reports."""

from __future__ import annotations

from functools import cache

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from core.config import PROJECT_ROOT


@cache
def report_sql(name: str) -> TextClause:
    return text((PROJECT_ROOT / "sql" / "reports" / f"{name}.sql").read_text())


def tune_for_reports(session: Session) -> None:
    """For the rest of this transaction. JIT compiling these plans costs more (about 150 ms) than
    it saves on a report that runs once, and can be set off by a wild row estimate on a query for
    one customer; a report's sorts and groupings over a whole book fit in 64 MB, not the default
    4 MB on disk."""
    session.execute(text("SET LOCAL jit = off"))
    session.execute(text("SET LOCAL work_mem = '64MB'"))
