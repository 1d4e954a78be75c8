"""Aging, precomputed (aging_balances): each customer's open balance per currency and bucket as
of today and of the last month end, so the Reports page draws aging for a book of a million
invoices without summing them per request, for the two days it is asked about most.

The rows are written by report_aging.sql itself (its :computed mode), so the snapshot and a
computation from the invoices are one definition. The reminder batch rebuilds the snapshot on
its first run of a day (`python -m core build-aging` does it by hand); in between, every service
that changes what an account owes refreshes its customers here, through refresh_accounts(), for
both days: a payment received before the month end, an invoice issued before it or a write-off
changes that day's aging too. A change to more than PAST_REFRESH_LIMIT customers at once (an
import) drops the month end instead, and the reminder batch's next run builds it again.
The report reads the snapshot only when it holds the day asked about, written by the aging query
as it is now (definition: a hash of report_aging.sql), and otherwise computes from the invoices,
so a snapshot that was never built, is from yesterday or from an older release is slower, never
wrong.

Locks: a refresh takes ROW EXCLUSIVE on aging_balances before it reads the snapshot's days, and a
rebuild EXCLUSIVE, which lets the report read on. A rebuild therefore waits for the
transactions that refreshed before it and computes with what they wrote; one that refreshes
after it waits for it, then recomputes its customers. While it holds its lock the rebuild locks
nothing else (aging_balances has no foreign key), so it cannot deadlock with them; it gives up
after LOCK_WAIT rather than queue every refresh behind a long transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from functools import cache
from hashlib import md5

from sqlalchemy import TextClause, bindparam, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import Integer

from core.models import AgingBalance, AgingSnapshot
from core.reports import report_sql, tune_for_reports

_CLEAR = text(
    "DELETE FROM aging_balances WHERE day = :day"
    " AND (CAST(:ids AS integer[]) IS NULL OR customer_id = ANY(CAST(:ids AS integer[])))"
).bindparams(bindparam("ids", type_=ARRAY(Integer)))
LOCK_WAIT = "10s"
# A refresh of more customers than this leaves a past day's snapshot to the next rebuild rather
# than recompute it too (an import's hundred thousand customers would take it twice as long).
PAST_REFRESH_LIMIT = 1000
_COLUMNS = "day, customer_id, currency, current_amount, due_1_30, due_31_60, due_61_90, due_91_180, due_over_180, total"


@cache
def _write() -> TextClause:
    """report_aging.sql's every-customer rows, by customer, from the invoices, into aging_balances."""
    report = report_sql("report_aging").text
    return text(
        f"INSERT INTO aging_balances ({_COLUMNS}, invoices, overdue_invoices) "
        "SELECT CAST(:as_of AS date), CAST(r.group_key AS integer), r.currency,"
        ' r."current", r."1-30", r."31-60", r."61-90", r."91-180", r."180+", r.total, r.invoices, r.overdue_invoices '
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


def days_kept(day: date) -> list[date]:
    """The days a rebuild for this day makes: the day itself and the last month end before it,
    the day month-end aging is asked about."""
    return [day, day.replace(day=1) - timedelta(days=1)]


def snapshot_days(session: Session) -> list[date]:
    """The days aging_balances holds, newest first (by this version of the query only)."""
    found = select(AgingSnapshot.day).where(AgingSnapshot.definition == definition())
    return list(session.scalars(found.order_by(AgingSnapshot.day.desc())))


def refresh(session: Session, customer_ids: Sequence[int] | None) -> None:
    """Recompute these customers' rows (None: every customer) for each day of the snapshot, in the
    caller's transaction. A past day (the month end) is recomputed for up to PAST_REFRESH_LIMIT
    customers; for more it is dropped from the snapshot, read from the invoices until the next
    rebuild. Nothing to do before the first rebuild."""
    ids = None if customer_ids is None else list(customer_ids)
    if ids == []:
        return
    session.execute(text("LOCK TABLE aging_balances IN ROW EXCLUSIVE MODE"))
    days = snapshot_days(session)
    for day in days:
        if day != days[0] and (ids is None or len(ids) > PAST_REFRESH_LIMIT):
            session.execute(delete(AgingSnapshot).where(AgingSnapshot.day == day))
            continue
        session.execute(_CLEAR, {"day": day, "ids": ids})
        _compute(session, day, ids)


def rebuild(session: Session, day: date, *, unless_current: bool = False) -> list[date]:
    """Make the snapshot for this day and the last month end from the invoices (the daily
    rebuild), in the caller's transaction; the report reads the previous one until it commits.
    Other days are dropped. unless_current: leave a day already built alone, and take no lock if
    both are. Returns the days built."""
    wanted = days_kept(day)
    if unless_current and set(wanted) <= set(snapshot_days(session)):
        return []
    session.flush()
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
    session.execute(text("LOCK TABLE aging_balances IN EXCLUSIVE MODE"))
    session.execute(text("SET LOCAL lock_timeout = 0"))
    # Days already built for this version of the query (another run may have built them while we waited).
    built = set(snapshot_days(session)) & set(wanted) if unless_current else set()
    session.execute(delete(AgingSnapshot).where(AgingSnapshot.day.not_in(built)))
    session.execute(delete(AgingBalance).where(AgingBalance.day.not_in(built)))
    for each in wanted:
        if each in built:
            continue
        session.execute(insert(AgingSnapshot).values(day=each, definition=definition()))
        _compute(session, each, None)
    return [each for each in wanted if each not in built]


def rows(session: Session, day: date) -> int:
    """How many customer balances (a customer's in one currency) the snapshot holds for the day."""
    return session.scalar(select(func.count()).select_from(AgingBalance).where(AgingBalance.day == day)) or 0
