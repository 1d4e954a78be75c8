"""The figures of one bench run: a table on screen and bench/results/<date>.json."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from bench.dashboard import DemoSeed, Timings
from bench.imports import ChildRun
from bench.reminders import ReminderFigures, reminder_lines
from bench.reports import ReportFigures, report_lines
from bench.work_queue import DEEP_PAGE, PAGE_SIZE, AccountRun, QueueFigures, Summaries
from core.config import PROJECT_ROOT

RESULTS = Path(__file__).resolve().parent / "results"
# What the import path should reach; reported as met or missed, never asserted.
TARGET_IMPORT_VS_COPY = 3.0
TARGET_IMPORT_ROWS_PER_SECOND = 50_000
TARGET_PEAK_RSS_MB = 500
# What the work queue should reach (medians); reported the same way.
TARGET_QUEUE_FIRST_PAGE_MS = 500
TARGET_QUEUE_FILTER_MS = 1000
TARGET_ACCOUNT_PAGE_MS = 300
TARGET_QUEUE_VS_HAND_WRITTEN = 1.2
STDERR_TAIL = 20
SERVER_SETTINGS = (
    "autovacuum",
    "fsync",
    "max_wal_size",
    "shared_buffers",
    "synchronous_commit",
    "work_mem",
    "max_parallel_workers_per_gather",
)


@dataclass(frozen=True)
class Step:
    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class ImportStep:
    rows: int
    run: ChildRun

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.run.seconds if self.run.ok and self.run.seconds else 0.0


@dataclass
class Figures:
    """Filled in as the run goes; a step that did not run stays None."""

    options: dict[str, Any]
    machine: dict[str, Any]
    book: Step | None = None
    book_tables: dict[str, int] = field(default_factory=dict)
    import_file: Step | None = None
    import_file_bytes: int = 0
    first_import: ImportStep | None = None
    reimport: ImportStep | None = None
    raw_copy: Step | None = None
    dashboard: Timings | None = None
    dashboard_after_import: Timings | None = None
    summaries: Summaries | None = None
    aging_snapshot: Step | None = None  # the day's first reminder batch rebuilds it
    queue: QueueFigures | None = None
    reminders: ReminderFigures | None = None
    reports: ReportFigures | None = None
    demo_seed: DemoSeed | None = None
    demo_seed_error: str | None = None

    @property
    def import_vs_copy(self) -> float | None:
        if self.first_import is None or not self.first_import.run.ok or self.raw_copy is None:
            return None
        return self.first_import.run.seconds / self.raw_copy.seconds


def server_facts(connection: Connection) -> dict[str, str]:
    """The server's version and the settings that move bulk-load and report timings most."""
    with connection.begin():
        rows = connection.execute(
            text("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(:names) ORDER BY name"),
            {"names": list(SERVER_SETTINGS)},
        )
        return {"version": connection.execute(text("SHOW server_version")).scalar_one()} | dict(rows.tuples().all())


def machine_facts(postgresql: dict[str, str]) -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "memory_mb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20),
        "python": platform.python_version(),
        "postgresql": postgresql,
        "platform": platform.platform(),
        "commit": _git_commit(),
    }


def _git_commit() -> str | None:
    try:
        found = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return found.stdout.strip()


def tail(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _row(label: str, step: Step | None) -> str:
    if step is None:
        return f"{label:<26}{'not run':>12}"
    return f"{label:<26}{step.rows:>12,}{step.seconds:>10.1f}{step.rows_per_second:>12,.0f}"


def _import_row(label: str, step: ImportStep | None) -> str:
    if step is None:
        return f"{label:<26}{'not run':>12}"
    if not step.run.ok:
        return f"{label:<26}{step.rows:>12,}{step.run.seconds:>10.1f}{'FAILED':>12}  exit code {step.run.exit_code}"
    return (
        f"{label:<26}{step.rows:>12,}{step.run.seconds:>10.1f}{step.rows_per_second:>12,.0f}"
        f"  peak RSS {step.run.peak_rss_mb:,.0f} MB"
    )


def _timings(label: str, timings: Timings | None) -> str | None:
    if timings is None:
        return None
    return f"{label:<34}median {timings.median_ms:,.0f} ms, worst {timings.worst_ms:,.0f} ms ({len(timings.runs)} runs)"


def _target(timings: Timings, target_ms: float) -> str:
    return f"  target ≤ {target_ms:,.0f} ms: {_verdict(timings.median_ms <= target_ms)}"


def _accounts(count: int) -> str:
    return f"{count:,} account{'' if count == 1 else 's'}"


def _account_line(label: str, run: AccountRun | None) -> list[str]:
    if run is None:
        return []
    return [
        f"{_timings(label, run.timings)}, customer {run.customer_id} ({run.invoices:,} invoices)"
        f"{_target(run.timings, TARGET_ACCOUNT_PAGE_MS)}"
    ]


def _queue_lines(queue: QueueFigures | None) -> list[str]:
    if queue is None:
        return []
    lines = [
        "",
        f"work queue as of {queue.as_of.isoformat()}: {queue.queue_accounts:,} accounts in the default queue",
        f"{_timings('queue, first page', queue.first_page)}{_target(queue.first_page, TARGET_QUEUE_FIRST_PAGE_MS)}",
    ]
    for run in queue.filters:
        lines.append(
            f"{_timings('  ' + run.name, run.timings)}, {_accounts(run.accounts)}"
            f"{_target(run.timings, TARGET_QUEUE_FILTER_MS)}  [{run.given}]"
        )
    lines += [f"{'  not timed':<34}{note}" for note in queue.skipped]
    slowest = queue.slowest_filter
    if slowest is not None:
        lines.append(
            f"{'slowest filter':<34}{slowest.name} ({slowest.given}), median {slowest.timings.median_ms:,.0f} ms"
            f"{_target(slowest.timings, TARGET_QUEUE_FILTER_MS)}"
        )
    if queue.deep_page is not None:
        lines.append(f"{_timings(f'queue, page {DEEP_PAGE}', queue.deep_page)}, {queue.deep_page_rows} rows")
    lines += _account_line("account page data, top of queue", queue.account_top)
    lines += _account_line("account page data, most invoices", queue.account_most_invoices)
    lines.append(_timings("queue, hand-written SQL", queue.hand_written) or f"{'queue, hand-written SQL':<34}not run")
    ratio = queue.ratio
    if ratio is not None:
        lines.append(
            f"{'queue ratio (service ÷ by hand)':<34}{ratio:.2f}× (target ≤ {TARGET_QUEUE_VS_HAND_WRITTEN:g}×: "
            f"{_verdict(ratio <= TARGET_QUEUE_VS_HAND_WRITTEN)})"
        )
    return lines


def render_table(figures: Figures) -> str:
    lines = [
        f"{'':<26}{'rows':>12}{'seconds':>10}{'rows/s':>12}",
        _row("book generation", figures.book),
        _row(
            "summaries built",
            None if figures.summaries is None else Step(figures.summaries.accounts, figures.summaries.seconds),
        ),
        _row("aging snapshot built", figures.aging_snapshot),
        _row("import file written", figures.import_file),
        _import_row("import (first)", figures.first_import),
        _import_row("re-import (unchanged)", figures.reimport),
        _row("raw COPY, same file", figures.raw_copy),
        "",
    ]
    ratio = figures.import_vs_copy
    if ratio is None:
        lines.append(f"{'import ÷ raw COPY':<34}n/a (target ≤ {TARGET_IMPORT_VS_COPY:g}×)")
    else:
        lines.append(
            f"{'import ÷ raw COPY':<34}{ratio:.1f}× (target ≤ {TARGET_IMPORT_VS_COPY:g}×: "
            f"{_verdict(ratio <= TARGET_IMPORT_VS_COPY)})"
        )
    first = figures.first_import
    if first is not None and first.run.ok:
        speed, peak = first.rows_per_second, first.run.peak_rss_mb
        lines.append(
            f"{'import rows/s':<34}{speed:,.0f} (target ≥ {TARGET_IMPORT_ROWS_PER_SECOND:,}: "
            f"{_verdict(speed >= TARGET_IMPORT_ROWS_PER_SECOND)})"
        )
        lines.append(
            f"{'import child peak RSS':<34}{peak:,.0f} MB (target ≤ {TARGET_PEAK_RSS_MB} MB: "
            f"{_verdict(peak <= TARGET_PEAK_RSS_MB)})"
        )
    else:
        lines.append(f"{'import rows/s, peak RSS':<34}n/a: the import did not succeed")
    if figures.reimport is not None and figures.reimport.run.ok:
        lines.append(f"{'re-import child peak RSS':<34}{figures.reimport.run.peak_rss_mb:,.0f} MB")
    lines += [
        line
        for line in (
            _timings("dashboard, generated book", figures.dashboard),
            _timings("dashboard, after the import", figures.dashboard_after_import),
        )
        if line
    ]
    lines += _queue_lines(figures.queue)
    lines += reminder_lines(figures.reminders)
    lines += report_lines(figures.reports)
    demo = figures.demo_seed
    if demo is not None:
        lines.append(
            f"{'seed-demo':<34}{demo.customers} customers, {demo.invoices} invoices, {demo.payments} payments "
            f"in {demo.seconds:.1f} s"
        )
        lines.append(_timings("dashboard, demo book", demo.dashboard) or "")
    if figures.demo_seed_error:
        lines.append(f"{'seed-demo':<34}FAILED: {figures.demo_seed_error}")
    return "\n".join(lines)


def _step(step: Step | None, **extra: Any) -> dict[str, Any] | None:
    if step is None:
        return None
    figures = {"rows": step.rows, "seconds": round(step.seconds, 3), "rows_per_second": round(step.rows_per_second)}
    return figures | extra


def _import(step: ImportStep | None) -> dict[str, Any] | None:
    if step is None:
        return None
    run = step.run
    return {
        "rows": step.rows,
        "ok": run.ok,
        "exit_code": run.exit_code,
        "seconds": round(run.seconds, 3),
        "rows_per_second": round(step.rows_per_second) if run.ok else None,
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "stdout_tail": tail(run.stdout, STDERR_TAIL),
        "stderr_tail": tail(run.stderr, STDERR_TAIL),
    }


def _median_ms(timings: Timings | None) -> float | None:
    return None if timings is None else round(timings.median_ms, 1)


def _ratio(ratio: float | None) -> float | None:
    return None if ratio is None else round(ratio, 2)


def _dashboard(timings: Timings | None) -> dict[str, Any] | None:
    if timings is None:
        return None
    return {
        "median_ms": round(timings.median_ms, 1),
        "worst_ms": round(timings.worst_ms, 1),
        "runs_ms": [round(t * 1000, 1) for t in timings.runs],
    }


def _account(run: AccountRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"customer_id": run.customer_id, "invoices": run.invoices} | (_dashboard(run.timings) or {})


def _queue(queue: QueueFigures | None) -> dict[str, Any] | None:
    if queue is None:
        return None
    slowest = queue.slowest_filter
    return {
        "as_of": queue.as_of.isoformat(),
        "accounts": queue.queue_accounts,
        "page_size": PAGE_SIZE,
        "first_page": _dashboard(queue.first_page),
        "filters": [
            {"filter": run.name, "given": run.given, "accounts": run.accounts} | (_dashboard(run.timings) or {})
            for run in queue.filters
        ],
        "not_timed": queue.skipped,
        "slowest_filter": None if slowest is None else slowest.name,
        "deep_page": _dashboard(queue.deep_page) | {"page": DEEP_PAGE, "rows": queue.deep_page_rows}
        if queue.deep_page
        else None,
        "account_top_of_queue": _account(queue.account_top),
        "account_most_invoices": _account(queue.account_most_invoices),
        "hand_written": _dashboard(queue.hand_written),
        "ratio": round(queue.ratio, 2) if queue.ratio is not None else None,
    }


def as_json(figures: Figures, *, finished: datetime) -> dict[str, Any]:
    first = figures.first_import
    demo = figures.demo_seed
    return {
        "date": finished.date().isoformat(),
        "finished_at": finished.isoformat(timespec="seconds"),
        "options": figures.options,
        "machine": figures.machine,
        "book_generation": _step(figures.book, tables=figures.book_tables),
        "import_file": _step(figures.import_file, bytes=figures.import_file_bytes),
        "import_first": _import(first),
        "reimport": _import(figures.reimport),
        "raw_copy": _step(figures.raw_copy),
        "import_vs_copy": round(figures.import_vs_copy, 2) if figures.import_vs_copy is not None else None,
        "dashboard": _dashboard(figures.dashboard),
        "dashboard_after_import": _dashboard(figures.dashboard_after_import),
        "summaries": None
        if figures.summaries is None
        else asdict(figures.summaries)
        | {
            "seconds": round(figures.summaries.seconds, 3),
            "analyze_seconds": round(figures.summaries.analyze_seconds, 3),
        },
        "aging_snapshot": _step(figures.aging_snapshot),
        "queue": _queue(figures.queue),
        "demo_seed": None
        if demo is None
        else asdict(demo) | {"seconds": round(demo.seconds, 3), "dashboard": _dashboard(demo.dashboard)},
        "demo_seed_error": figures.demo_seed_error,
        "reminders": None
        if figures.reminders is None
        else asdict(figures.reminders)
        | {
            "one_worker_per_second": round(figures.reminders.one_worker_rate, 1),
            "two_workers_per_second": round(figures.reminders.two_workers_rate, 1),
            "speedup": round(figures.reminders.speedup, 2),
            "full_run_estimate_seconds": round(figures.reminders.full_run_estimate_seconds, 1),
        },
        "reports": None
        if figures.reports is None
        else {
            "median_ms": {name: round(t.median_ms, 1) for name, t in figures.reports.timings.items()},
            "worst_ms": {name: round(t.worst_ms, 1) for name, t in figures.reports.timings.items()},
            "rows": figures.reports.rows,
            "hand_written_aging_ms": _median_ms(figures.reports.hand_written_aging),
            "aging_vs_hand": _ratio(figures.reports.aging_vs_hand),
            "hand_written_aging_month_end_ms": _median_ms(figures.reports.hand_written_aging_month_end),
            "month_end_aging_vs_hand": _ratio(figures.reports.month_end_aging_vs_hand),
            "hand_written_aging_past_day_ms": _median_ms(figures.reports.hand_written_aging_past_day),
            "past_day_aging_vs_hand": _ratio(figures.reports.past_day_aging_vs_hand),
            "server_peak_mb": round(figures.reports.server_peak_mb, 1) if figures.reports.server_peak_mb else None,
            "server_error": figures.reports.server_error,
        },
        "targets": {
            "import_vs_copy_max": TARGET_IMPORT_VS_COPY,
            "import_rows_per_second_min": TARGET_IMPORT_ROWS_PER_SECOND,
            "import_peak_rss_mb_max": TARGET_PEAK_RSS_MB,
            "queue_first_page_ms_max": TARGET_QUEUE_FIRST_PAGE_MS,
            "queue_filter_ms_max": TARGET_QUEUE_FILTER_MS,
            "account_page_ms_max": TARGET_ACCOUNT_PAGE_MS,
            "queue_vs_hand_written_max": TARGET_QUEUE_VS_HAND_WRITTEN,
        },
    }


def write_results(figures: Figures, *, finished: datetime) -> Path:
    """bench/results/<date>.json; a run later the same day replaces it."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{finished.date().isoformat()}.json"
    path.write_text(json.dumps(as_json(figures, finished=finished), indent=2, ensure_ascii=False) + "\n")
    return path
