"""The work queue on the bench book: its summaries built, its first page, each filter, a deep page,
the account page's data, and the first page again as one hand-written query (bench/sql)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from bench.book import sql_file
from bench.dashboard import Timings, time_runs
from core import db
from core.roles import Actor, Role
from core.services.accounts import account_timeline, view_account
from core.services.queue import QueueFilter, QueuePage, list_work_queue
from core.services.settings import get_weights
from core.services.summaries import refresh_accounts

log = logging.getLogger(__name__)
PAGE_SIZE = 50
DEEP_PAGE = 20


@dataclass(frozen=True)
class Summaries:
    accounts: int  # account_summaries rows: one per customer
    balances: int  # account_balances rows: one per customer and currency owed
    in_queue: int  # accounts with an open balance and a due date
    seconds: float  # refresh_accounts(session, None), committed
    analyze_seconds: float  # ANALYZE of the two tables afterwards, as autovacuum would


@dataclass(frozen=True)
class FilterRun:
    name: str  # which QueueFilter field
    given: str  # what it was given
    timings: Timings
    accounts: int  # the queue's total with this filter


@dataclass(frozen=True)
class AccountRun:
    customer_id: int
    invoices: int
    timings: Timings


@dataclass
class QueueFigures:
    as_of: date
    first_page: Timings
    queue_accounts: int  # the default queue's total
    filters: list[FilterRun] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # filters the bench book cannot exercise, and why
    deep_page: Timings | None = None
    deep_page_rows: int = 0
    account_top: AccountRun | None = None  # the customer at the top of the queue
    account_most_invoices: AccountRun | None = None
    hand_written: Timings | None = None

    @property
    def slowest_filter(self) -> FilterRun | None:
        return max(self.filters, key=lambda run: run.timings.median_ms, default=None)

    @property
    def ratio(self) -> float | None:
        """The service's first page ÷ the hand-written query's, medians."""
        if self.hand_written is None or not self.hand_written.median_ms:
            return None
        return self.first_page.median_ms / self.hand_written.median_ms


def build_summaries(connection: Connection) -> Summaries:
    """The bench book is written in raw SQL, so its summaries are empty: build them for the whole
    book as the services would (one transaction), then analyze them for the planner."""
    started = time.perf_counter()
    with db.transaction() as session:
        refresh_accounts(session, None)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    with connection.begin():
        connection.execute(text("ANALYZE account_summaries, account_balances"))
    analyze_seconds = time.perf_counter() - started
    with connection.begin():
        counts = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM account_summaries) AS accounts,"
                " (SELECT count(*) FROM account_balances) AS balances,"
                " (SELECT count(*) FROM account_summaries WHERE oldest_due_date IS NOT NULL) AS in_queue"
            )
        ).one()
    return Summaries(counts.accounts, counts.balances, counts.in_queue, seconds, analyze_seconds)


def _page(actor: Actor, chosen: QueueFilter, *, as_of: date, page: int = 1) -> Callable[[Session], QueuePage]:
    def read(session: Session) -> QueuePage:
        return list_work_queue(session, actor, chosen, as_of=as_of, sort="priority", page=page, page_size=PAGE_SIZE)

    return read


def _account_page(customer_id: int, *, as_of: date) -> Callable[[Session], None]:
    actor = Actor.system_process("bench")

    def read(session: Session) -> None:  # what pages/account.py shows: the account and its timeline
        view_account(session, actor, customer_id, as_of=as_of)
        account_timeline(session, actor, customer_id)

    return read


def _score_params(session: Session, *, as_of: date) -> dict[str, Any]:
    """The hand-written query's binds: the day and the weights the service scores with (the defaults,
    on the bench book), read once so the timed runs are the query alone, as in psql."""
    weights = get_weights(session)
    params: dict[str, Any] = {
        "as_of": as_of,
        "broken_promise": weights.broken_promise,
        "promise_due_today": weights.promise_due_today,
        "missed_instalment": weights.missed_instalment,
        "balance_top_5_percent": weights.balance_top_5_percent,
        "balance_top_20_percent": weights.balance_top_20_percent,
        "never_contacted": weights.never_contacted,
        "contacted_yesterday": weights.contacted_yesterday,
        "contacted_this_week": weights.contacted_this_week,
        "bucket_180_plus": weights.bucket["180+"],
    }
    for bucket in ("current", "1-30", "31-60", "61-90", "91-180"):
        params["bucket_" + bucket.replace("-", "_")] = weights.bucket[bucket]
    for tier in ("low", "medium", "high"):
        params["risk_" + tier] = weights.risk.get(tier, 0)
    return params


def _hand_written(params: dict[str, Any]) -> Callable[[Session], list[Any]]:
    statement = text(sql_file("queue_first_page"))

    def read(session: Session) -> list[Any]:
        # The same session settings the service uses (no JIT, 32 MB work_mem), so the ratio
        # measures what the service adds, not a difference in settings.
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '32MB'"))
        return list(session.execute(statement, params))

    return read


def _most_common(connection: Connection, sql: str) -> Any:
    return connection.execute(text(sql)).scalar()


def time_queue(connection: Connection, *, as_of: date, runs: int) -> QueueFigures:
    """Every timing through core's services, one transaction per run as a page would; the book's
    summaries must be built. Raises if the hand-written query disagrees with the service."""
    system = Actor.system_process("bench")
    log.info("queue: first page")
    first_page, page = time_runs(_page(system, QueueFilter(), as_of=as_of), runs=runs)
    figures = QueueFigures(as_of=as_of, first_page=first_page, queue_accounts=page.total)
    if not page.rows:
        figures.skipped.append("everything else: the default queue is empty")
        return figures
    top = page.rows[0].customer_id

    with connection.begin():
        currency = _most_common(
            connection, "SELECT currency FROM invoices GROUP BY currency ORDER BY count(*) DESC, currency LIMIT 1"
        )
        country = _most_common(
            connection, "SELECT country FROM customers GROUP BY country ORDER BY count(*) DESC, country LIMIT 1"
        )
        segment = _most_common(
            connection,
            "SELECT segment FROM customers WHERE segment IS NOT NULL"
            " GROUP BY segment ORDER BY count(*) DESC, segment LIMIT 1",
        )
        collector = connection.execute(
            text("SELECT id, username, name FROM users WHERE role = 'collector' AND active ORDER BY id LIMIT 1")
        ).first()
        name = connection.execute(text("SELECT name FROM customers WHERE id = :id"), {"id": top}).scalar_one()
        number = connection.execute(
            text(
                "SELECT number FROM invoices WHERE customer_id = :id AND status = 'open' ORDER BY due_date, id LIMIT 1"
            ),
            {"id": top},
        ).scalar()
        email = connection.execute(
            text("SELECT email FROM contacts WHERE customer_id = :id AND email IS NOT NULL ORDER BY id LIMIT 1"),
            {"id": top},
        ).scalar()
        most = connection.execute(
            text(
                "SELECT customer_id, count(*) AS invoices FROM invoices"
                " GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 1"
            )
        ).one()
        top_invoices = connection.execute(
            text("SELECT count(*) FROM invoices WHERE customer_id = :id"), {"id": top}
        ).scalar_one()
    fragment = max(name.split(), key=len)[:6].lower()  # a few letters of the top account's name

    filters: list[tuple[str, str, QueueFilter, Actor]] = [
        ("buckets", "91-180", QueueFilter(buckets=("91-180",)), system),
        ("currencies", currency, QueueFilter(currencies=(currency,)), system),
        ("countries", country, QueueFilter(countries=(country,)), system),
    ]
    if segment is not None:
        filters.append(("segments", segment, QueueFilter(segments=(segment,)), system))
    else:
        figures.skipped.append("segments: no customer of the bench book has one")
    filters += [
        ("broken_promise", "true", QueueFilter(broken_promise=True), system),
        ("promise_due_today", "true", QueueFilter(promise_due_today=True), system),
        ("flags", "on_hold", QueueFilter(flags=("on_hold",)), system),
        ("include_scheduled", "true", QueueFilter(include_scheduled=True), system),
    ]
    if collector is not None:
        me = Actor(username=collector.username, role=Role.COLLECTOR, user_id=collector.id, name=collector.name)
        filters.append(("mine", f"collector {collector.username}", QueueFilter(mine=True), me))
    else:
        figures.skipped.append("mine: the bench book has no user with the collector role")
    searches = [("search name", fragment), ("search invoice", number), ("search email", email)]
    for label, needle in searches:
        if needle:
            filters.append((label, needle, QueueFilter(search=needle), system))
        else:
            figures.skipped.append(f"{label}: the top account has none")
    for name_, given, chosen, actor in filters:
        log.info("queue: filter %s = %s", name_, given)
        timings, found = time_runs(_page(actor, chosen, as_of=as_of), runs=runs)
        figures.filters.append(FilterRun(name_, given, timings, found.total))

    log.info("queue: page %d", DEEP_PAGE)
    figures.deep_page, deep = time_runs(_page(system, QueueFilter(), as_of=as_of, page=DEEP_PAGE), runs=runs)
    figures.deep_page_rows = len(deep.rows)

    log.info("account page data: customer %d (top of the queue), %d (most invoices)", top, most.customer_id)
    timings, _ = time_runs(_account_page(top, as_of=as_of), runs=runs)
    figures.account_top = AccountRun(top, top_invoices, timings)
    timings, _ = time_runs(_account_page(most.customer_id, as_of=as_of), runs=runs)
    figures.account_most_invoices = AccountRun(most.customer_id, most.invoices, timings)

    log.info("queue: the first page as hand-written SQL")
    with db.transaction() as session:
        params = _score_params(session, as_of=as_of)
    figures.hand_written, rows = time_runs(_hand_written(params), runs=runs)
    _check_same_page(page, rows)
    return figures


def _check_same_page(page: QueuePage, rows: list[Any]) -> None:
    service = [row.customer_id for row in page.rows]
    by_hand = [row.id for row in rows]
    total = rows[0].total if rows else 0
    if service != by_hand or page.total != total:
        differ = next((i for i, (a, b) in enumerate(zip(service, by_hand, strict=False)) if a != b), None)
        raise RuntimeError(
            "bench/sql/queue_first_page.sql disagrees with list_work_queue's first page: "
            f"{len(by_hand)} ids of {total} vs {len(service)} of {page.total}, first difference at row {differ}; "
            f"service {service[:10]}…, hand-written {by_hand[:10]}…"
        )
