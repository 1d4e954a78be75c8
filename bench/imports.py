"""The import path timed end to end: the invoice file, `python -m core import` in a child, raw COPY."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from bench.book import Scale, sql_file
from core.config import PROJECT_ROOT

log = logging.getLogger(__name__)
HEADER = "customer_ref,invoice_number,issue_date,due_date,amount,currency"
COPY_INTO = (
    "COPY bench_invoice_copy (customer_ref, invoice_number, issue_date, due_date, amount, currency)"
    " FROM STDIN WITH (FORMAT csv, HEADER true)"
)
BLOCK = 1 << 20


@dataclass(frozen=True)
class ChildRun:
    """One run of the import command in its own process."""

    exit_code: int
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def _psycopg(connection: Connection) -> Any:
    return connection.connection.driver_connection


def write_import_file(connection: Connection, path: Path, scale: Scale, *, rows: int) -> int:
    """Write the invoice file on this (prepared) connection; returns its size in bytes."""
    params = {"seed": scale.seed, "as_of": scale.as_of, "customers": scale.customers, "rows": rows}
    with (
        connection.begin(),
        _psycopg(connection).cursor() as cursor,
        cursor.copy(sql_file("import_file"), params) as copy,
        path.open("wb") as out,
    ):
        for block in copy:
            out.write(block)
    with path.open() as written:
        header = written.readline().strip()
    if header != HEADER:
        raise RuntimeError(f"the import file's header is {header!r}, not {HEADER!r}")
    return path.stat().st_size


def settle(connection: Connection) -> None:
    """Flush what earlier steps left dirty, so each timed step starts from the same state and does
    not pay for its predecessor's writes. Needs superuser or pg_checkpoint; skipped without."""
    try:
        with connection.begin():
            connection.execute(text("CHECKPOINT"))
    except DBAPIError as error:
        log.warning("no CHECKPOINT before the timed step (%s); figures may vary more", error.orig)


def import_command(path: Path) -> list[str]:
    return [sys.executable, "-m", "core", "import", "invoices", str(path), "--valid-only"]


def run_import(path: Path) -> ChildRun:
    """Run the import CLI on the file against core's current database, in a child process.

    Its peak memory comes from wait4() on that very child: RUSAGE_CHILDREN would report the
    largest of all children waited for so far, which says nothing once an earlier one was bigger.
    """
    # INFO logs the import's own phase timings (read and check, then write) into its stderr tail.
    env = os.environ | {"RECOUP_ENV": "test", "PYTHONUNBUFFERED": "1", "RECOUP_LOG_LEVEL": "INFO"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(import_command(path), stdout=out, stderr=err, cwd=PROJECT_ROOT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    kib = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss  # bytes on macOS, KiB on Linux
    return ChildRun(child.returncode, seconds, kib / 1024, stdout, stderr)


def time_raw_copy(connection: Connection, path: Path) -> float:
    """COPY the same file into a table shaped like invoices; seconds from first byte to commit.
    Each step is a transaction of its own on the (otherwise idle) connection."""
    raw = _psycopg(connection)
    with connection.begin(), raw.cursor() as cursor:
        cursor.execute(sql_file("copy_table"))
    started = time.perf_counter()
    with (
        connection.begin(),
        raw.cursor() as cursor,
        cursor.copy(COPY_INTO) as copy,
        path.open("rb") as source,
    ):
        while block := source.read(BLOCK):
            copy.write(block)
    seconds = time.perf_counter() - started
    with connection.begin(), raw.cursor() as cursor:
        cursor.execute("DROP TABLE bench_invoice_copy")
    return seconds
