"""The reminder batch on the bench book: planning alone over the whole book (a dry run), then real
runs against a loopback SMTP sink — the same number of due sends with one worker and with two —
for the rate, the speed-up and the time a 100,000-send run would take at that rate."""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import Connection

from core import config, db
from core.roles import Actor
from core.services import reminders
from core.services.dunning import NewStep, assign_sequence, create_sequence

log = logging.getLogger(__name__)
FULL_RUN = 100_000  # sends the target is stated for


class _Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        return "250 OK"


def _serve_sink(port: int, ready: Any) -> None:
    """The SMTP sink in a process of its own, so it takes no interpreter time from the batch."""
    controller = Controller(_Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    threading.Event().wait()  # until the bench terminates it


@dataclass(frozen=True)
class ReminderFigures:
    planned_sends: int  # rows a run would write to the send ledger
    planning_seconds: float  # the dry run: planning alone over the whole book
    sample: int  # sends each timed run was allowed (--limit)
    one_worker_sends: int  # sends each run actually processed: fewer if the book ran out
    one_worker_seconds: float
    two_workers_sends: int
    two_workers_seconds: float
    outcomes: dict[str, int]  # of the two timed runs together

    @property
    def one_worker_rate(self) -> float:
        return self.one_worker_sends / self.one_worker_seconds if self.one_worker_seconds else 0.0

    @property
    def two_workers_rate(self) -> float:
        return self.two_workers_sends / self.two_workers_seconds if self.two_workers_seconds else 0.0

    @property
    def speedup(self) -> float:
        return self.two_workers_rate / self.one_worker_rate if self.one_worker_rate else 0.0

    @property
    def full_run_estimate_seconds(self) -> float:
        """A 100,000-send run with two workers, at the two-worker rate measured."""
        return FULL_RUN / self.two_workers_rate if self.two_workers_rate else 0.0


def time_reminders(connection: Connection, *, as_of: date, sample: int) -> ReminderFigures:
    """One email step the day after the due date, for every customer; a morning in Manila."""
    now = datetime.combine(as_of, clock(2, 0), UTC)
    system = Actor.system_process("bench")
    with db.transaction() as session:
        sequence_id = create_sequence(
            session, system, name="Bench", steps=[NewStep(offset_days=1, channel="email", stage="reminder")]
        )
        assign_sequence(session, system, sequence_id)
    started = time.perf_counter()
    dry = reminders.run(now=now, dry_run=True)
    planning = time.perf_counter() - started
    planned = sum(dry.planned.values())
    log.info("reminders: planning alone %.1f s for %s sends", planning, f"{planned:,}")

    with socket.socket() as probe:  # aiosmtpd needs a real port number to check it started
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    sink = context.Process(target=_serve_sink, args=(port, ready), daemon=True)
    sink.start()
    if not ready.wait(30):
        raise RuntimeError("the SMTP sink did not start")
    saved = {
        k: os.environ.get(k)
        for k in ("RECOUP_SMTP_HOST", "RECOUP_SMTP_PORT", "RECOUP_SMTP_SECURITY", "RECOUP_MAIL_FROM")
    }
    os.environ.update(
        RECOUP_SMTP_HOST="127.0.0.1",
        RECOUP_SMTP_PORT=str(port),
        RECOUP_SMTP_SECURITY="none",
        RECOUP_MAIL_FROM="ar@bench.test",
    )
    config.get_settings.cache_clear()
    try:
        reminders.run(now=now, limit=1)  # plans every send (written) and warms up; not timed
        started = time.perf_counter()
        one = reminders.run(now=now, limit=sample, workers=1)
        one_seconds = time.perf_counter() - started
        started = time.perf_counter()
        two = reminders.run(now=now, limit=sample, workers=2)
        two_seconds = time.perf_counter() - started
    finally:
        sink.terminate()
        sink.join()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        config.get_settings.cache_clear()
    outcomes = dict(one.outcomes + two.outcomes)
    if min(sum(one.outcomes.values()), sum(two.outcomes.values())) < sample:
        log.warning("reminders: the book ran out of due sends before a timed run had %s: rates use what ran", sample)
    log.info(
        "reminders: %s sends in %.1f s (1 worker), %.1f s (2 workers); %s", sample, one_seconds, two_seconds, outcomes
    )
    return ReminderFigures(
        planned_sends=planned,
        planning_seconds=planning,
        sample=sample,
        one_worker_sends=sum(one.outcomes.values()),
        one_worker_seconds=one_seconds,
        two_workers_sends=sum(two.outcomes.values()),
        two_workers_seconds=two_seconds,
        outcomes=outcomes,
    )


def reminder_lines(figures: ReminderFigures | None) -> list[str]:
    if figures is None:
        return []
    return [
        "",
        f"reminders: planning alone          {figures.planning_seconds:.1f} s for {figures.planned_sends:,} due sends"
        f"  target ≤ 30 s: {'met' if figures.planning_seconds <= 30 else 'MISSED'}",
        f"reminders: {figures.one_worker_sends:,} sends, 1 worker  {figures.one_worker_seconds:.1f} s"
        f" = {figures.one_worker_rate:,.0f}/s",
        f"reminders: {figures.two_workers_sends:,} sends, 2 workers {figures.two_workers_seconds:.1f} s"
        f" = {figures.two_workers_rate:,.0f}/s"
        f"  speed-up {figures.speedup:.2f}× (target ≥ 1.7×: {'met' if figures.speedup >= 1.7 else 'MISSED'})",
        f"reminders: 100,000 sends, 2 workers ≈ {figures.full_run_estimate_seconds:.0f} s at that rate"
        f"  target ≤ 60 s: {'met' if figures.full_run_estimate_seconds <= 60 else 'MISSED'}",
        f"reminders: outcomes {figures.outcomes}",
    ]
