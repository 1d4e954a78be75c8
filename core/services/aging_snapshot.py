"""Today's aging, precomputed (aging_balances): each customer's open balance per currency and
bucket as of the snapshot's day, so the Reports page draws aging for a book of a million
invoices without summing them per request.

The rows are written by report_aging.sql itself (its :computed mode), so the snapshot and a
computation from the invoices are one definition. The reminder batch rebuilds the snapshot on
its first run of a day (`python -m core build-aging` does it by hand); in between, every service
that changes what an account owes refreshes its customers here, through refresh_accounts().
The report reads the snapshot only when it is for the day asked about and was written by the
aging query as it is now (definition: a hash of report_aging.sql), and otherwise computes from
the invoices, so a snapshot that was never built, is from yesterday or from an older release is
slower, never wrong.

Locks: a refresh takes ROW EXCLUSIVE on aging_balances before it reads the snapshot's day, and a
rebuild EXCLUSIVE, which lets the report read on. A rebuild therefore waits for the
transactions that refreshed before it and computes with what they wrote; one that refreshes
after it waits for it, then recomputes its customers. While it holds its lock the rebuild locks
nothing else (aging_balances has no foreign key), so it cannot deadlock with them; it gives up
after LOCK_WAIT rather than queue every refresh behind a long transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache
from hashlib import md5

from sqlalchemy import TextClause, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session
from sqlalchemy.types import Integer

from core.models import AgingBalance, AgingSnapshot
from core.reports import report_sql, tune_for_reports

_CLEAR = text(
    "DELETE FROM aging_balances WHERE CAST(:ids AS integer[]) IS NULL OR customer_id = ANY(CAST(:ids AS integer[]))"
).bindparams(bindparam("ids", type_=ARRAY(Integer)))
LOCK_WAIT = "10s"
_COLUMNS = "customer_id, currency, current_amount, due_1_30, due_31_60, due_61_90, due_91_180, due_over_180, total"


@cache
def _write() -> TextClause:
    """report_aging.sql's every-customer rows, by customer, from the invoices, into aging_balances."""
    report = report_sql("report_aging").text
    return text(
        f"INSERT INTO aging_balances ({_COLUMNS}, invoices, overdue_invoices) "
        'SELECT CAST(r.group_key AS integer), r.currency, r."current", r."1-30", r."31-60", r."61-90",'
        ' r."91-180", r."180+", r.total, r.invoices, r.overdue_invoices '
        f"FROM ({report}) r WHERE r.kind = 'group'"
    ).bindparams(bindparam("ids", type_=ARRAY(Integer)))


@cache
def definition() -> str:
    """The aging query's own fingerprint: a snapshot written by another version is not read."""
    return md5(report_sql("report_aging").text.encode()).hexdigest()


def _compute(session: Session, day: date, ids: Sequence[int] | None) -> None:
    tune_for_reports(session)
    session.execute(
        _write(),
        {
            "as_of": day,
            "computed": True,
            "definition": definition(),
            "ids": ids,
            "group_by": "customer",
            "shown": None,
            "currency": None,
            "country": None,
            "segment": None,
            "collector_id": None,
        },
    )


def snapshot_day(session: Session) -> date | None:
    """The day aging_balances is for (None: never built, or by another version of the query)."""
    return session.scalar(select(AgingSnapshot.day).where(AgingSnapshot.definition == definition()))


def refresh(session: Session, customer_ids: Sequence[int] | None) -> None:
    """Recompute these customers' rows (None: every customer) as of the snapshot's day, in the
    caller's transaction. Nothing to do before the first rebuild."""
    ids = None if customer_ids is None else list(customer_ids)
    if ids == []:
        return
    session.execute(text("LOCK TABLE aging_balances IN ROW EXCLUSIVE MODE"))
    day = snapshot_day(session)
    if day is None:
        return
    session.execute(_CLEAR, {"ids": ids})
    _compute(session, day, ids)


def rebuild(session: Session, day: date, *, unless_current: bool = False) -> bool:
    """Make the snapshot for this day from the invoices (the daily rebuild), in the caller's
    transaction; the report reads the previous one until it commits. unless_current: leave a
    snapshot already for this day alone, without taking the lock. True if it was rebuilt."""
    if unless_current and snapshot_day(session) == day:
        return False
    session.flush()
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
    session.execute(text("LOCK TABLE aging_balances IN EXCLUSIVE MODE"))
    session.execute(text("SET LOCAL lock_timeout = 0"))
    if unless_current and snapshot_day(session) == day:  # another run built it while we waited
        return False
    stamp = insert(AgingSnapshot).values(id=True, day=day, definition=definition())
    session.execute(
        stamp.on_conflict_do_update(
            index_elements=["id"], set_={"day": day, "definition": definition(), "built_at": func.now()}
        )
    )
    session.execute(_CLEAR, {"ids": None})
    _compute(session, day, None)
    return True


def rows(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AgingBalance)) or 0
