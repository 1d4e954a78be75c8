"""Dashboard timings: book_summary on the bench book, and optionally on a freshly seeded demo book."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from sqlalchemy.orm import Session

from core import db
from core.roles import Actor
from core.services.dashboard import book_summary


@dataclass(frozen=True)
class Timings:
    runs: list[float]  # seconds, in the order they ran

    @property
    def median_ms(self) -> float:
        return statistics.median(self.runs) * 1000

    @property
    def worst_ms(self) -> float:
        return max(self.runs) * 1000


T = TypeVar("T")


def time_runs(read: Callable[[Session], T], *, runs: int) -> tuple[Timings, T]:
    """read() in its own transaction per run, as a page would, on core's current database;
    the timings and what the last run returned."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        with db.transaction() as session:
            result = read(session)
        timings.append(time.perf_counter() - started)
    return Timings(timings), result


@dataclass(frozen=True)
class DemoSeed:
    customers: int
    invoices: int
    payments: int
    seconds: float
    dashboard: Timings


def time_dashboard(*, as_of: date, runs: int) -> Timings:
    """book_summary on core's current database, one transaction per run as a page would."""
    actor = Actor.system_process("bench")
    timings, _ = time_runs(lambda session: book_summary(session, actor, as_of=as_of), runs=runs)
    return timings


def time_demo_seed(*, as_of: date, customers: int = 400, runs: int = 20) -> DemoSeed:
    """The old bench: seed the demo book through the services, then time the dashboard on it.
    Core must point at an empty, migrated database."""
    from core.demo import seed_demo

    started = time.perf_counter()
    with db.transaction() as session:
        result = seed_demo(session, customer_count=customers, as_of=as_of, password_for=lambda u: "bench-" + u * 3)
    seconds = time.perf_counter() - started
    return DemoSeed(result.customers, result.invoices, result.payments, seconds, time_dashboard(as_of=as_of, runs=runs))
