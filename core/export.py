"""Tables as CSV and XLSX files that a spreadsheet opens as data, never as a live formula."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# OWASP "CSV injection": a spreadsheet may run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of table in which every text cell and header that could start a formula gets a leading
    quote. Only text is touched: numbers (a negative one included), dates and booleans stay as they are."""
    safe = table.copy()
    safe.columns = [_defuse_value(column) for column in table.columns]
    for position, dtype in enumerate(table.dtypes):
        if pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):  # object included
            safe.isetitem(position, table.iloc[:, position].map(_defuse_value))
    return safe


def csv_bytes(table: pd.DataFrame) -> bytes:
    """The table, without its index, as defused CSV."""
    # With a byte-order mark Excel reads the file as UTF-8; without one it uses the machine's legacy
    # code page and "Peñafrancia" comes out as "PeÃ±afrancia". Other readers skip the mark.
    # CRLF line ends (RFC 4180) also make the writer quote a cell holding a bare carriage return,
    # which it leaves unquoted, splitting the row, when lines end in "\n".
    return defuse(table).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def xlsx_bytes(table: pd.DataFrame, *, sheet: str = "Export") -> bytes:
    """The table, without its index, as a one-sheet workbook of defused values: numbers and Decimals
    as numbers, text always as plain text, timezone-aware datetimes as naive UTC."""
    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    rows = [list(table.columns), *table.itertuples(index=False, name=None)]
    for row_number, row in enumerate(rows, start=1):
        for column_number, value in enumerate(row, start=1):
            cell = worksheet.cell(row=row_number, column=column_number, value=_excel_value(value))
            if isinstance(cell.value, str):
                # openpyxl stores any text starting with "=" as a formula; pin every text cell to
                # type "s" so the file stays inert even for text the quote rule did not catch.
                cell.data_type = "s"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _defuse_value(value: Any) -> Any:
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _excel_value(value: Any) -> Any:
    """value as openpyxl can write it: gaps empty, text defused, datetimes without a timezone."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    if isinstance(value, str):
        # Control characters other than tab, newline and carriage return are not allowed in XLSX.
        return _defuse_value(ILLEGAL_CHARACTERS_RE.sub("", value))
    if isinstance(value, datetime) and value.tzinfo is not None:
        # Excel has no timezones. UTC, unlike the server's own zone, means the same wherever the
        # app runs and has no daylight-saving hour that happens twice.
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
