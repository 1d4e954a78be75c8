"""Opening an uploaded CSV or XLSX file and reading it in chunks of text cells, with row numbers.

Nothing here loads a whole file: CSV is streamed by pandas, XLSX by openpyxl's read-only mode.
Row numbers are the ones a person sees in a spreadsheet: the header is row 1.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd

from core.errors import ValidationError

ROW = "_row"  # the column holding each row's number in the file
CHUNK_ROWS = 50_000
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class FileFacts:
    name: str
    size: int
    kind: str  # "csv" or "xlsx"
    encoding: str | None = None
    delimiter: str | None = None
    sheets: tuple[str, ...] = field(default_factory=tuple)


def inspect(path: Path, *, name: str | None = None, max_bytes: int | None = None) -> FileFacts:
    """What the file is: CSV (encoding, delimiter) or XLSX (sheets). Refuses what cannot be read."""
    name = name or path.name
    size = path.stat().st_size
    if size == 0:
        raise ValidationError(f"{name} is empty.")
    if max_bytes is not None and size > max_bytes:
        raise ValidationError(
            f"{name} is {size / 1_048_576:.1f} MB; imports take files up to {max_bytes / 1_048_576:.0f} MB. "
            "Split the file, or raise RECOUP_IMPORT_MAX_MB."
        )
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if zipfile.is_zipfile(path):
        try:
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception:  # openpyxl raises many kinds for a zip that is not a workbook
            raise ValidationError(f"{name} is a zip file but not an Excel workbook (.xlsx).") from None
        sheets = tuple(workbook.sheetnames)
        workbook.close()
        return FileFacts(name, size, "xlsx", sheets=sheets)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ValidationError(f"{name} is an old Excel file (.xls); save it as .xlsx or CSV and upload that.")
    if b"\x00" in head:
        raise ValidationError(f"{name} is not a text (CSV) file or an Excel workbook.")
    encoding = _encoding(path)
    text = head.decode(encoding, errors="ignore").lstrip("\ufeff")
    if not text.strip():
        raise ValidationError(f"{name} is empty.")
    return FileFacts(name, size, "csv", encoding=encoding, delimiter=_delimiter(text))


def _encoding(path: Path) -> str:
    """UTF-8 (with or without a byte-order mark) if every byte decodes as such, else cp1252."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        first = handle.read(3)
        if first == codecs.BOM_UTF8:
            return "utf-8-sig"
        try:
            decoder.decode(first)
            while block := handle.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def _delimiter(text: str) -> str:
    header = text.splitlines()[0]
    try:
        return csv.Sniffer().sniff(header + "\n", delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def headers(path: Path, facts: FileFacts, *, sheet: str | None = None) -> list[str]:
    chunk = next(read_chunks(path, facts, sheet=sheet, rows=1, allow_empty=True))
    return [column for column in chunk.columns if column != ROW]


@dataclass(frozen=True)
class CellStyle:
    """How an XLSX cell holding a real number or date is turned into text: the way the mapping
    says the file writes them, so such cells read exactly like typed ones."""

    decimal: str = "."
    date_format: str = "%Y-%m-%d"


def read_chunks(
    path: Path,
    facts: FileFacts,
    *,
    sheet: str | None = None,
    rows: int = CHUNK_ROWS,
    allow_empty: bool = False,
    style: CellStyle = CellStyle(),
) -> Iterator[pd.DataFrame]:
    """DataFrames of text cells ("" for blank) plus the ROW column; fully blank rows are dropped."""
    xlsx = facts.kind == "xlsx"
    chunks = _xlsx_chunks(path, facts, sheet, rows, style) if xlsx else _csv_chunks(path, facts, rows)
    seen_rows = False
    for chunk in chunks:
        if not allow_empty:
            chunk = chunk[(chunk.drop(columns=ROW) != "").any(axis=1)]
        if len(chunk) or allow_empty:
            seen_rows = seen_rows or bool(len(chunk))
            yield chunk
    if not seen_rows and not allow_empty:
        raise ValidationError(f"{facts.name} has a header row but no data rows.")


def _clean_headers(names: list[object]) -> list[str]:
    cleaned = [str(name).strip().lstrip("\ufeff") if name is not None else "" for name in names]
    if not any(cleaned):
        raise ValidationError("The first row must hold the column names, and it is empty.")
    seen: dict[str, int] = {}
    for position, name in enumerate(cleaned, start=1):
        if name and name in seen:
            raise ValidationError(
                f"The column name {name!r} appears twice (columns {seen[name]} and {position}); "
                "rename one so each column can be mapped."
            )
        seen[name] = position
    return cleaned


def _csv_chunks(path: Path, facts: FileFacts, rows: int) -> Iterator[pd.DataFrame]:
    try:
        reader = pd.read_csv(
            path,
            sep=facts.delimiter,
            encoding=facts.encoding,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            chunksize=rows,
        )
        first_row = 2
        with reader:
            for chunk in reader:
                chunk.columns = _clean_headers(list(chunk.columns))
                chunk[ROW] = range(first_row, first_row + len(chunk))
                first_row += len(chunk)
                yield chunk
    except pd.errors.EmptyDataError:
        raise ValidationError(f"{facts.name} is empty.") from None
    except pd.errors.ParserError as error:
        raise ValidationError(f"{facts.name} is not a well-formed CSV file: {str(error).strip()}") from None
    except UnicodeDecodeError as error:
        raise ValidationError(f"{facts.name} is not in the {facts.encoding} text encoding ({error.reason}).") from None


def _cell_text(value: object, style: CellStyle) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().strftime(style.date_format)
    if isinstance(value, date):
        return value.strftime(style.date_format)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        number = Decimal(repr(value))
        if -number.as_tuple().exponent > 6:  # type: ignore[operator]  # binary noise: 0.30000000000000004
            number = number.quantize(Decimal("0.000001")).normalize()
        return format(number, "f").replace(".", style.decimal)
    return str(value).strip()


def _xlsx_chunks(
    path: Path, facts: FileFacts, sheet: str | None, rows: int, style: CellStyle
) -> Iterator[pd.DataFrame]:
    if sheet is None:
        if len(facts.sheets) > 1:
            raise ValidationError(f"{facts.name} has several sheets ({', '.join(facts.sheets)}); choose one.")
        sheet = facts.sheets[0]
    if sheet not in facts.sheets:
        raise ValidationError(f"{facts.name} has no sheet {sheet!r}; it has {', '.join(facts.sheets)}.")
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        lines = workbook[sheet].iter_rows(values_only=True)
        columns: list[str] | None = None
        header_row = 0
        for number, values in enumerate(lines, start=1):
            if any(v not in (None, "") for v in values):
                columns, header_row = _clean_headers(list(values)), number
                break
        if columns is None:
            raise ValidationError(f"Sheet {sheet!r} of {facts.name} is empty.")
        width, batch, numbers = len(columns), [], []
        for number, values in enumerate(lines, start=header_row + 1):
            batch.append([_cell_text(v, style) for v in values[:width]] + [""] * (width - len(values)))
            numbers.append(number)
            if len(batch) == rows:
                yield _frame(batch, columns, numbers)
                batch, numbers = [], []
        if batch or header_row:
            yield _frame(batch, columns, numbers)
    finally:
        workbook.close()


def _frame(batch: list[list[str]], columns: list[str], numbers: list[int]) -> pd.DataFrame:
    frame = pd.DataFrame(batch, columns=columns, dtype=str) if batch else pd.DataFrame(columns=columns, dtype=str)
    frame[ROW] = numbers
    return frame
