"""Reports on the bench book: every report timed as the Reports page runs it (default period:
the twelve months to the book's day), aging against a hand-written aggregate of the same figures,
and the peak memory of a Streamlit server while a manager opens the Reports page (all of its
reports run on that one page) in Chromium."""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from sqlalchemy import Connection, text

from bench.dashboard import Timings, time_runs
from core import db
from core.roles import Actor, Role
from core.services import aging_snapshot, reports, users
from core.services.reports import ReportFilter

log = logging.getLogger(__name__)
HAND_WRITTEN = Path(__file__).parent / "sql" / "aging_by_hand.sql"
CHROMIUM = os.environ.get("RECOUP_CHROMIUM", "/usr/bin/chromium")
TARGET_AGING_MS = 500
TARGET_AGING_VS_HAND = 1.2
TARGET_REPORT_MS = 2000
TARGET_SERVER_MB = 400


@dataclass
class ReportFigures:
    timings: dict[str, Timings] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    hand_written_aging: Timings | None = None
    hand_written_aging_month_end: Timings | None = None
    hand_written_aging_past_day: Timings | None = None
    server_peak_mb: float | None = None
    server_error: str | None = None

    @property
    def aging_vs_hand(self) -> float | None:
        """Every customer's aging row through the service ÷ the same rows by hand-written SQL."""
        return self._ratio("aging, every customer", self.hand_written_aging)

    @property
    def month_end_aging_vs_hand(self) -> float | None:
        """The same as of the last month end, which the snapshot also holds."""
        return self._ratio("aging, every customer, month end", self.hand_written_aging_month_end)

    @property
    def past_day_aging_vs_hand(self) -> float | None:
        """The same as of a day mid-month, which the service computes from the invoices."""
        return self._ratio("aging, every customer, mid-month", self.hand_written_aging_past_day)

    def _ratio(self, name: str, by_hand: Timings | None) -> float | None:
        aging = self.timings.get(name)
        if aging is None or by_hand is None:
            return None
        return aging.median_ms / by_hand.median_ms


def build_aging(connection: Connection, *, as_of: date) -> tuple[int, float]:
    """The aging snapshot for the book's day and the last month end, as the day's first reminder
    batch builds it (one transaction, timed), then analyzed for the planner like the work queue's
    summaries. Returns its rows (both days) and the seconds the build took."""
    started = time.perf_counter()
    with db.transaction() as session:
        rows = sum(aging_snapshot.rows(session, day) for day in aging_snapshot.rebuild(session, as_of))
    seconds = time.perf_counter() - started
    with connection.begin():
        connection.execute(text("ANALYZE aging_balances"))
    return rows, seconds


def time_reports(*, as_of: date, runs: int) -> ReportFigures:
    actor = Actor.system_process("bench")
    start, _ = reports.period_default(as_of)
    chosen = ReportFilter(as_of=as_of, start=start, end=as_of)
    # Aging as of the last month end reads the snapshot too; as of mid-month before it, no snapshot
    # holds the day, so it is computed from the invoices.
    _, month_end = aging_snapshot.days_kept(as_of)
    mid_month = month_end.replace(day=15)
    past, mid = replace(chosen, as_of=month_end), replace(chosen, as_of=mid_month)
    figures = ReportFigures()
    cases = {
        # As the Reports page runs them: the largest SHOWN_ROWS rows of each currency and every total,
        # as of the book's day (read from the aging snapshot the day's first reminder batch built).
        "aging by customer": lambda s: reports.aging_overview(s, actor, chosen).largest,
        "aging by country": lambda s: reports.aging_overview(s, actor, chosen, group_by="country").largest,
        # What a download reads: every customer's row, into pandas.
        "aging, every customer": lambda s: reports.aging(s, actor, chosen, group_by="customer"),
        "aging by customer, month end": lambda s: reports.aging_overview(s, actor, past).largest,
        "aging by country, month end": lambda s: reports.aging_overview(s, actor, past, group_by="country").largest,
        "aging, every customer, month end": lambda s: reports.aging(s, actor, past, group_by="customer"),
        "aging by customer, mid-month": lambda s: reports.aging_overview(s, actor, mid).largest,
        "aging by country, mid-month": lambda s: reports.aging_overview(s, actor, mid, group_by="country").largest,
        "aging, every customer, mid-month": lambda s: reports.aging(s, actor, mid, group_by="customer"),
        "DSO and CEI": lambda s: reports.monthly(s, actor, chosen),
        "recovery": lambda s: reports.recovery(s, actor, chosen),
        "late payers": lambda s: reports.late_payers(s, actor, chosen, shown=reports.SHOWN_ROWS),
        "late payers, every customer": lambda s: reports.late_payers(s, actor, chosen),
        "collectors": lambda s: reports.collectors(s, actor, chosen),
        "promises": lambda s: reports.promises(s, actor, chosen),
        "cash forecast": lambda s: reports.forecast(s, actor, chosen),
        "disputes": lambda s: reports.disputes(s, actor, chosen),
    }
    for name, read in cases.items():
        timings, frame = time_runs(read, runs=runs)
        figures.timings[name], figures.rows[name] = timings, len(frame)
        log.info("report %s: median %.0f ms, %s rows", name, timings.median_ms, f"{len(frame):,}")
    query = text(HAND_WRITTEN.read_text())
    figures.hand_written_aging, _ = time_runs(lambda s: s.execute(query, {"as_of": as_of}).all(), runs=runs)
    figures.hand_written_aging_month_end, _ = time_runs(
        lambda s: s.execute(query, {"as_of": month_end}).all(), runs=runs
    )
    figures.hand_written_aging_past_day, _ = time_runs(
        lambda s: s.execute(query, {"as_of": mid_month}).all(), runs=runs
    )
    return figures


def server_peak_mb(figures: ReportFigures) -> None:
    """A manager opens the Reports page on a fresh server; the server's peak resident memory after."""
    try:
        from playwright.sync_api import expect, sync_playwright

        from tests.e2e.server import settled, start_server
        from tests.e2e.test_sign_in import sign_in
    except ImportError as error:  # a bench without the dev tools
        figures.server_error = f"not measured: {error}"
        return
    password = "bench-reports-password"
    with db.transaction() as session:
        if users.find_active_user(session, "bench_manager") is None:
            users.create_user(
                session,
                Actor.system_process("bench"),
                username="bench_manager",
                name="Bench Manager",
                email="bench_manager@bench.test",
                role=Role.MANAGER,
                password=password,
            )
    server = start_server({"manager": "bench_manager"}, password)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.set_default_timeout(300_000)
            page.goto(server.url)
            sign_in(page, "bench_manager", password)
            settled(page)
            page.goto(f"{server.url}/reports")
            page.get_by_role("heading", name="Reports").wait_for()
            page.wait_for_timeout(500)  # the run has started; now wait for every report on the page
            app = expect(page.get_by_test_id("stApp"))
            app.to_have_attribute("data-test-script-state", "notRunning", timeout=300_000)
            browser.close()
        status = Path(f"/proc/{server.process.pid}/status").read_text()
        found = re.search(r"VmHWM:\s+(\d+) kB", status)
        figures.server_peak_mb = int(found.group(1)) / 1024 if found else None
    except Exception as error:  # reported, not fatal: the other figures stand
        figures.server_error = f"not measured: {error}"
        log.warning("reports: server memory %s", figures.server_error)
    finally:
        server.stop()


def report_lines(figures: ReportFigures | None) -> list[str]:
    if figures is None:
        return []
    lines = [""]
    for name, timings in figures.timings.items():
        target = TARGET_AGING_MS if name.startswith("aging by") else TARGET_REPORT_MS
        verdict = "met" if timings.median_ms <= target else "MISSED"
        lines.append(
            f"report: {name:<28} median {timings.median_ms:,.0f} ms, worst {timings.worst_ms:,.0f} ms,"
            f" {figures.rows[name]:,} rows  target ≤ {target:,} ms: {verdict}"
        )
    for day, by_hand, ratio in (
        ("the book's day", figures.hand_written_aging, figures.aging_vs_hand),
        ("month end", figures.hand_written_aging_month_end, figures.month_end_aging_vs_hand),
        ("mid-month", figures.hand_written_aging_past_day, figures.past_day_aging_vs_hand),
    ):
        if by_hand is None or ratio is None:
            continue
        lines.append(f"report: aging, hand-written SQL, {day}  median {by_hand.median_ms:,.0f} ms")
        lines.append(
            f"report: aging ratio (service ÷ by hand), {day} {ratio:.2f}×"
            f" (target ≤ {TARGET_AGING_VS_HAND}×: {'met' if ratio <= TARGET_AGING_VS_HAND else 'MISSED'})"
        )
    if figures.server_peak_mb is not None:
        verdict = "met" if figures.server_peak_mb <= TARGET_SERVER_MB else "MISSED"
        lines.append(
            f"report: Streamlit server peak RSS opening Reports {figures.server_peak_mb:,.0f} MB"
            f"  target ≤ {TARGET_SERVER_MB} MB: {verdict}"
        )
    elif figures.server_error:
        lines.append(f"report: Streamlit server memory {figures.server_error}")
    return lines
