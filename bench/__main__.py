"""`python -m bench`: a synthetic book at scale, the invoice import timed against raw COPY, the dashboard,
the work queue and the account page."""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from bench.book import Scale, generate_book
from bench.dashboard import time_dashboard, time_demo_seed
from bench.database import throwaway_database
from bench.imports import ChildRun, import_command, run_import, settle, time_raw_copy, write_import_file
from bench.reminders import time_reminders
from bench.report import Figures, ImportStep, Step, machine_facts, render_table, server_facts, tail, write_results
from bench.reports import build_aging, server_peak_mb, time_reports
from bench.work_queue import build_summaries, time_queue
from core import db, migrations

app = typer.Typer(add_completion=False, help=__doc__)
log = logging.getLogger("bench")
SHOWN_LINES = 40


def _show(label: str, run: ChildRun) -> None:
    typer.echo(f"--- {label}: exit code {run.exit_code} after {run.seconds:.1f} s")
    if run.stdout.strip():
        if len(run.stdout.splitlines()) > SHOWN_LINES:
            typer.echo(f"(last {SHOWN_LINES} lines of its output)")
        typer.echo(tail(run.stdout, SHOWN_LINES))
    if not run.ok:
        typer.secho(f"{label} failed; the last lines it wrote to stderr:", fg=typer.colors.RED, err=True)
        typer.echo(tail(run.stderr, 20) or "(nothing)", err=True)


def _time_import(connection: Connection, label: str, path: Path, rows: int) -> ImportStep:
    settle(connection)
    log.info("%s: %s", label, " ".join(import_command(path)))
    step = ImportStep(rows, run_import(path))
    _show(label, step.run)
    return step


def _bench_book(
    connection: Connection, figures: Figures, scale: Scale, *, import_rows: int, runs: int, reminder_sample: int
) -> None:
    log.info(
        "generating %s customers, %s invoices, %s payments (seed %s)",
        *(f"{n:,}" for n in (scale.customers, scale.invoices, scale.payments)),
        scale.seed,
    )
    started = time.perf_counter()
    with connection.begin():
        counts = generate_book(connection, scale)
    figures.book = Step(counts.rows, time.perf_counter() - started)
    figures.book_tables = {
        "customers": counts.customers,
        "contacts": counts.contacts,
        "invoices": counts.invoices,
        "paid_invoices": counts.paid_invoices,
        "payments": counts.payments,
        "allocations": counts.allocations,
    }
    with connection.begin():
        connection.execute(text("DROP TABLE bench_invoice_plan"))
    # What autovacuum's insert-triggered vacuum (PostgreSQL 13+) does to a freshly loaded book before
    # anyone reads it: it also marks pages all-visible, which index-only scans (aging) rely on. The
    # bench's server may run with autovacuum off, so it is done here, untimed, once.
    started = time.perf_counter()
    with connection.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as vacuuming:
        vacuuming.execute(text("VACUUM (ANALYZE) customers, invoices, payments, allocations"))
    log.info(
        "book generated in %.1f s and vacuumed in %.1f s; building the work queue's summaries",
        figures.book.seconds,
        time.perf_counter() - started,
    )
    figures.summaries = build_summaries(connection)
    log.info(
        "summaries built in %.1f s (%s accounts, %s in the queue); building the aging snapshot",
        figures.summaries.seconds,
        f"{figures.summaries.accounts:,}",
        f"{figures.summaries.in_queue:,}",
    )
    figures.aging_snapshot = Step(*build_aging(connection, as_of=scale.as_of))
    log.info("aging snapshot built in %.1f s; timing the dashboard", figures.aging_snapshot.seconds)
    figures.dashboard = time_dashboard(as_of=scale.as_of, runs=runs)
    log.info("timing the work queue and the account page")
    figures.queue = time_queue(connection, as_of=scale.as_of, runs=runs)
    log.info("timing the reports")
    figures.reports = time_reports(as_of=scale.as_of, runs=runs)
    log.info("the Streamlit server's memory while a manager opens Reports")
    server_peak_mb(figures.reports)
    if reminder_sample:
        log.info("timing the reminder batch")
        figures.reminders = time_reminders(connection, as_of=scale.as_of, sample=reminder_sample)

    with tempfile.TemporaryDirectory(prefix="recoup-bench-") as folder:
        path = Path(folder) / "invoices.csv"
        started = time.perf_counter()
        figures.import_file_bytes = write_import_file(connection, path, scale, rows=import_rows)
        figures.import_file = Step(import_rows, time.perf_counter() - started)
        log.info(
            "import file: %s rows, %.0f MB in %.1f s",
            f"{import_rows:,}",
            figures.import_file_bytes / 2**20,
            figures.import_file.seconds,
        )
        figures.first_import = _time_import(connection, "import (first)", path, import_rows)
        if figures.first_import.run.ok:
            figures.reimport = _time_import(connection, "re-import", path, import_rows)
        else:
            log.warning("re-import skipped: the first import failed")
        settle(connection)
        log.info("raw COPY of the same file")
        figures.raw_copy = Step(import_rows, time_raw_copy(connection, path))
    if figures.first_import.run.ok:
        log.info("timing the dashboard after the import")
        figures.dashboard_after_import = time_dashboard(as_of=scale.as_of, runs=runs)


@app.command()
def main(
    customers: Annotated[int, typer.Option(min=1, max=9_999_999, help="Customers in the book.")] = 100_000,
    invoices: Annotated[int, typer.Option(min=0, max=99_999_999, help="Invoices in the book.")] = 1_000_000,
    payments: Annotated[int, typer.Option(min=0, help="Payments, one per invoice paid.")] = 600_000,
    import_rows: Annotated[int, typer.Option(min=1, max=99_999_999, help="Rows in the imported file.")] = 1_000_000,
    seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, help="Same seed (and as-of), same book.")] = 7,
    as_of: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="The book's today. [default: today]")
    ] = None,
    dashboard_runs: Annotated[
        int,
        typer.Option(
            "--runs", "--dashboard-runs", min=1, help="Timings of each read: dashboard, queue page, account page."
        ),
    ] = 5,
    keep_db: Annotated[bool, typer.Option("--keep-db", help="Leave the bench database in place.")] = False,
    reminder_sample: Annotated[
        int, typer.Option(min=0, help="Reminder sends timed with 1 and with 2 workers (0: skip the batch).")
    ] = 10_000,
    demo_seed: Annotated[
        bool, typer.Option("--demo-seed", help="Also time seed-demo's 400-customer book (about 40 s).")
    ] = False,
) -> None:
    """Generate a book, time the invoice import against raw COPY, the dashboard, the work queue and the
    account page; write bench/results."""
    if payments > invoices:
        raise typer.BadParameter(
            f"one payment per invoice at most, {payments:,} > {invoices:,}", param_hint="--payments"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    book_day = as_of.date() if as_of else date.today()
    scale = Scale(customers=customers, invoices=invoices, payments=payments, seed=seed, as_of=book_day)
    options = {
        "customers": customers,
        "invoices": invoices,
        "payments": payments,
        "import_rows": import_rows,
        "seed": seed,
        "as_of": book_day.isoformat(),
        "dashboard_runs": dashboard_runs,
        "demo_seed": demo_seed,
        "reminder_sample": reminder_sample,
    }
    with throwaway_database(keep=keep_db):
        migrations.upgrade()
        engine = create_engine(db.database_url(), poolclass=NullPool)  # its session-local helpers die with it
        try:
            with engine.connect() as connection:
                figures = Figures(options, machine_facts(server_facts(connection)))
                _bench_book(
                    connection,
                    figures,
                    scale,
                    import_rows=import_rows,
                    runs=dashboard_runs,
                    reminder_sample=reminder_sample,
                )
        finally:
            engine.dispose()
    if demo_seed:
        with throwaway_database():
            migrations.upgrade()
            log.info("seeding the demo book through the services")
            try:
                figures.demo_seed = time_demo_seed(as_of=book_day)
            except Exception as error:  # the figures above are still worth reporting
                log.exception("seed-demo failed")
                figures.demo_seed_error = f"{type(error).__name__}: {error}"
    finished = datetime.now().astimezone()
    typer.echo("\n" + render_table(figures))
    typer.echo(f"\nfigures written to {write_results(figures, finished=finished)}")


if __name__ == "__main__":
    app()
