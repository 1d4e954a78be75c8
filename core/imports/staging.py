"""Checking one chunk of cells, and moving the rows that pass into a temporary staging table by COPY.

The staged rows are then upserted with a few set-based statements: no per-row round trips.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, cast

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import CursorResult, Result, text
from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.imports.fields import Mapping, fields_for
from core.imports.parsing import looks_like_formula, parse_amounts, parse_currencies, text_too_long
from core.imports.reading import ROW
from core.imports.rejects import ProblemLog


class Checks:
    """Per-cell reasons for one chunk; rows with any reason are refused, each reason reported."""

    def __init__(self, chunk: pd.DataFrame, mapping: Mapping) -> None:
        self.chunk = chunk
        self.mapping = mapping
        self.rows = chunk[ROW]
        self.refused = pd.Series(False, index=chunk.index)
        self._problems: list[pd.DataFrame] = []
        self._warnings: list[pd.DataFrame] = []
        self._labels = {spec.key: spec.label for spec in fields_for(mapping.kind)}
        for key, header in mapping.columns.items():  # PostgreSQL text cannot hold a NUL character
            nul = chunk[header].str.contains("\x00", regex=False)
            self.refuse(key, nul, "contains a NUL character, which cannot be stored; is this really a text file?")

    def cells(self, key: str) -> pd.Series | None:
        """The mapped column's text, trimmed; None when the field is not mapped."""
        header = self.mapping.columns.get(key)
        return None if header is None else self.chunk[header].str.strip()

    def _frame(self, key: str, mask: pd.Series, reasons: pd.Series | str, values: pd.Series | None) -> pd.DataFrame:
        header = self.mapping.columns.get(key) or self._labels.get(key, key)
        shown = values[mask] if values is not None else ""
        why = reasons[mask] if isinstance(reasons, pd.Series) else reasons
        return pd.DataFrame({"row": self.rows[mask], "column": header, "value": shown, "reason": why})

    def refuse(self, key: str, mask: pd.Series, reasons: pd.Series | str, values: pd.Series | None = None) -> None:
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            self._problems.append(self._frame(key, mask, reasons, values))
            self.refused |= mask

    def explain(self, key: str, reasons: pd.Series, values: pd.Series | None = None) -> None:
        self.refuse(key, reasons != "", reasons, values)

    def warn(self, key: str, mask: pd.Series, reason: str, values: pd.Series | None = None) -> None:
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            self._warnings.append(self._frame(key, mask, reason, values))

    def required(self, key: str, what: str) -> pd.Series:
        values = self.cells(key)
        if values is None:  # check_mapping makes sure required fields are mapped
            raise KeyError(key)
        self.refuse(key, values == "", f"{what} is empty")
        return values

    def text(self, key: str, limit: int, *, formula_warning: bool = False) -> pd.Series | None:
        values = self.cells(key)
        if values is None:
            return None
        self.explain(key, text_too_long(values, limit), values)
        if formula_warning:
            self.warn(
                key,
                looks_like_formula(values),
                "starts like a spreadsheet formula; kept as text, and Recoup's exports neutralise it",
                values,
            )
        return values

    def currencies(self) -> pd.Series:
        """Each row's currency: the mapped column's, or the one chosen for the whole file."""
        cells = self.cells("currency")
        if cells is None:
            return pd.Series(self.mapping.currency, index=self.chunk.index, dtype=object)
        parsed = parse_currencies(cells)
        self.explain("currency", parsed.reasons, cells)
        return parsed.values

    def amounts(self, currencies: pd.Series) -> pd.Series:
        """The required amount column as plain decimal text, checked against each row's currency."""
        parsed = parse_amounts(self.required("amount", "the amount"), self.mapping.amount_style, currencies.fillna(""))
        self.explain("amount", parsed.reasons, self.cells("amount"))
        return parsed.values

    def finish(self, rejects: ProblemLog, warnings: ProblemLog) -> pd.Series:
        """Report this chunk's problems; return the mask of rows that passed."""
        if self._problems:
            rejects.add_frame(pd.concat(self._problems, ignore_index=True))
        if self._warnings:
            warnings.add_frame(pd.concat(self._warnings, ignore_index=True))
        return ~self.refused


def create_stage(session: Session, columns: Sequence[tuple[str, str]]) -> None:
    """A temporary table for this import, gone at the end of the transaction."""
    spec = ", ".join(f"{name} {sql_type}" for name, sql_type in columns)
    session.execute(text(f"CREATE TEMPORARY TABLE import_stage (row_no integer NOT NULL, {spec}) ON COMMIT DROP"))


def copy_rows(session: Session, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """COPY a chunk's staged columns (row_no first) into import_stage. Empty cells become NULL.

    pyarrow writes the CSV (in C++, several times faster than pandas' to_csv); it quotes every
    text, so FORCE_NULL turns a quoted empty text into NULL as an unquoted one already is.
    """
    if frame.empty:
        return
    buffer = io.BytesIO()
    table = pa.Table.from_pandas(frame.loc[:, ["row_no", *columns]], preserve_index=False)
    for i, column in enumerate(table.columns):  # parsed dates arrive as timestamps; the stage wants dates
        if pa.types.is_timestamp(column.type):
            table = table.set_column(i, table.field(i).name, column.cast(pa.date32()))
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    raw = session.connection().connection.driver_connection
    names = ", ".join(columns)
    statement = f"COPY import_stage (row_no, {names}) FROM STDIN (FORMAT csv, FORCE_NULL ({names}))"
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            copy.write(buffer.getbuffer())
    except psycopg.Error as error:  # every cell was checked; this is a safety net, never a traceback
        first_row, last_row = int(frame["row_no"].min()), int(frame["row_no"].max())
        reason = str(error).strip().splitlines()[0]
        raise ValidationError(
            f"The database refused rows {first_row}–{last_row}: {reason}. Nothing was imported."
        ) from None


def refuse_duplicates(
    session: Session, rejects: ProblemLog, *, keys: tuple[str, ...], column: str, named: str, once: str
) -> None:
    """Refuse every row whose key is on more than one row of the file, naming those rows.

    keys and named are SQL written in the calling module (never text from the file): the key
    columns of the stage, and the expression that names the record ("'customer ' || s.external_ref").
    """
    key_list = ", ".join(keys)
    same = " AND ".join(f"s.{key} = dup.{key}" for key in keys)
    refuse_from_sql(
        session,
        rejects,
        f"""
        WITH dup AS (SELECT {key_list}, string_agg(row_no::text, ', ' ORDER BY row_no) AS rows_list
                     FROM import_stage GROUP BY {key_list} HAVING count(*) > 1)
        DELETE FROM import_stage s USING dup WHERE {same}
        RETURNING s.row_no, :column, s.{keys[-1]},
            {named} || ' is on rows ' || dup.rows_list || ' of this file; ' || :once
        """,
        column=column,
        once=once,
    )


def rowcount(result: Result[Any]) -> int:
    """How many rows a data-changing statement wrote."""
    return cast("CursorResult[Any]", result).rowcount


def refuse_from_sql(session: Session, rejects: ProblemLog, sql: str, **params: object) -> int:
    """Run a statement that deletes staged rows and RETURNs (row_no, column, value, reason)."""
    found = session.execute(text(sql), params).all()
    if found:
        rejects.add_frame(pd.DataFrame(found, columns=["row", "column", "value", "reason"]))
    return len(found)
