"""One import of a customers, invoices or payments file: check every row, then write all the
valid rows or nothing, and record it as one audit entry (who, file, hash, counts)."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import chain
from pathlib import Path
from types import ModuleType

import pandas as pd
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from core.config import get_settings
from core.errors import ValidationError
from core.imports import customers, invoices, payments
from core.imports.fields import DATE_FIELDS, Mapping, check_mapping, fields_for
from core.imports.parsing import cell_style, detect_date_format
from core.imports.reading import FileFacts, headers, inspect, read_chunks
from core.imports.rejects import Problem, ProblemLog
from core.imports.staging import Checks, copy_rows, create_stage
from core.roles import Actor, Permission
from core.services import audit
from core.services.assignment import assign_by_rules
from core.services.summaries import refresh_accounts

KINDS: dict[str, ModuleType] = {"customers": customers, "invoices": invoices, "payments": payments}
_TEMP_TABLES = "import_stage, import_touched, import_changed_later, import_new_customers"

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]  # rows read so far, rows expected (None if unknown)


@dataclass(frozen=True)
class ImportResult:
    kind: str
    file_name: str
    sha256: str
    rows: int
    new: int
    updated: int
    unchanged: int
    rejected: int  # rows refused (a row with three bad cells counts once)
    written: bool
    dry_run: bool
    date_format: str | None
    encoding: str | None = None  # of a CSV file: utf-8, utf-8-sig or cp1252 (when it is not UTF-8)
    details: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)  # the first ones, for the screen
    problem_count: int = 0
    problems_file: Path | None = None  # every problem, as CSV
    warnings: list[Problem] = field(default_factory=list)
    warning_count: int = 0

    @property
    def valid(self) -> int:
        return self.rows - self.rejected


def describe_file(path: Path, *, name: str | None = None, sheet: str | None = None) -> tuple[FileFacts, list[str]]:
    """The file's facts (kind, sheets, encoding) and its column headers, or a plain refusal."""
    facts = inspect(path, name=name, max_bytes=_max_bytes())
    if facts.kind == "xlsx" and sheet is None and len(facts.sheets) > 1:
        return facts, []
    return facts, headers(path, facts, sheet=sheet)


def sweep_import_dir(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete uploads and refused-row lists left behind by sessions that never finished."""
    directory = get_settings().import_dir
    if not directory.exists():
        return 0
    cutoff = time.time() - older_than.total_seconds()
    swept = 0
    for path in directory.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            swept += 1
    return swept


def _max_bytes() -> int:
    return int(get_settings().import_max_mb * 1_048_576)


def _fingerprint(path: Path, facts: FileFacts) -> tuple[str, int | None]:
    """The file's SHA-256 and, for a CSV, about how many rows it holds, in one read."""
    digest, lines = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            lines += block.count(b"\n")
    return digest.hexdigest(), max(lines - 1, 1) if facts.kind == "csv" else None


def _date_format(mapping: Mapping, first: pd.DataFrame) -> str | None:
    if mapping.date_format:
        return mapping.date_format
    columns = [mapping.columns[key] for key in DATE_FIELDS if key in mapping.columns]
    if not columns:
        return None
    return detect_date_format(pd.concat([first[c].str.strip() for c in columns], ignore_index=True))


def import_file(
    session: Session,
    actor: Actor,
    path: Path,
    *,
    mapping: Mapping,
    file_name: str | None = None,
    sheet: str | None = None,
    dry_run: bool = False,
    valid_only: bool = False,
    progress: Progress | None = None,
    today: date | None = None,
) -> ImportResult:
    """Read, check and (unless dry_run, or rows were refused without valid_only) write a file.

    Runs inside a savepoint of the caller's transaction: a dry run or a refused file leaves
    nothing behind, and the counts are exactly what a real run would write.
    """
    kind = mapping.kind
    fields_for(kind)  # refuses a kind Recoup does not import
    module = KINDS[kind]
    audit.require(actor, Permission.MANAGE_ACCOUNTS, f"import.{kind}", "import")
    facts = inspect(path, name=file_name, max_bytes=_max_bytes())
    check_mapping(mapping, headers(path, facts, sheet=sheet))
    today = today or date.today()
    directory = get_settings().import_dir
    directory.mkdir(parents=True, exist_ok=True)
    rejects, warnings = ProblemLog(directory), ProblemLog(directory, prefix="warnings-")
    sha256, expected = _fingerprint(path, facts)
    try:
        chunks = read_chunks(path, facts, sheet=sheet, style=cell_style(mapping.amount_style, mapping.date_format))
        first = next(chunks)
        date_format = _date_format(mapping, first)
        savepoint = session.begin_nested()
        try:
            # Room for the hash joins and aggregates over a large file, for this transaction only.
            session.execute(text("SET LOCAL work_mem = '128MB'"))
            create_stage(session, module.STAGE)
            rows, started = 0, time.perf_counter()
            for chunk in chain([first], chunks):
                checks = Checks(chunk, mapping)
                staged = module.check_chunk(checks, date_format, today)
                passed = checks.finish(rejects, warnings)
                copy_rows(session, staged[passed], [name for name, _ in module.STAGE])
                rows += len(chunk)
                if progress:
                    progress(rows, expected)
            staged_at = time.perf_counter()
            session.execute(text("ANALYZE import_stage"))  # a temporary table has no statistics otherwise
            counts = module.apply(session, actor, mapping, rejects, file_name=facts.name)
            touched = list(session.scalars(text(module.TOUCHED), {"source": mapping.source}))
            refresh_accounts(session, touched, actor=actor)
            counts["assigned"] = assign_by_rules(session, actor, touched)
            log.info(
                "%s: %d rows read, checked and staged in %.1f s, written in %.1f s",
                facts.name,
                rows,
                staged_at - started,
                time.perf_counter() - staged_at,
            )
            session.execute(text(f"DROP TABLE IF EXISTS {_TEMP_TABLES}"))
        except (IntegrityError, DataError) as error:
            savepoint.rollback()
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            raise ValidationError(f"The database refused {facts.name}: {reason}. Nothing was imported.") from None
        except BaseException:
            savepoint.rollback()
            raise
        rejects.close()
        warnings.close()
        write = not dry_run and (valid_only or rejects.rows == 0)
        if write:
            savepoint.commit()
        else:
            savepoint.rollback()
        result = ImportResult(
            kind=kind,
            file_name=facts.name,
            sha256=sha256,
            rows=rows,
            new=counts.pop("new"),
            updated=counts.pop("updated"),
            unchanged=counts.pop("unchanged"),
            rejected=rejects.rows,
            written=write,
            dry_run=dry_run,
            date_format=date_format,
            encoding=facts.encoding,
            details=counts,
            problems=list(rejects.preview),
            problem_count=rejects.count,
            problems_file=rejects.path,
            warnings=list(warnings.preview),
            warning_count=warnings.count,
        )
        if write:
            audit.record(
                session,
                actor,
                f"import.{kind}",
                "import",
                result.sha256,
                after={
                    "file": result.file_name,
                    "sha256": result.sha256,
                    "mapping": mapping.name,
                    "source": mapping.source,
                    "rows": rows,
                    "new": result.new,
                    "updated": result.updated,
                    "unchanged": result.unchanged,
                    "rejected": result.rejected,
                    "valid_only": valid_only,
                    **result.details,
                },
            )
        return result
    finally:
        rejects.close()
        warnings.close()
        warnings.path.unlink(missing_ok=True)
