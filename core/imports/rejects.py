"""The list of refused rows (and warnings) of one import: kept on disk, a preview in memory."""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

PREVIEW_ROWS = 1_000
SORT_LIMIT = 500_000  # beyond this the file of problems stays in the order they were found
COLUMNS = ("row", "column", "value", "reason")


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    value: str
    reason: str


class ProblemLog:
    """Every problem goes to a CSV file (so a million bad rows cost no memory); the first
    PREVIEW_ROWS are also kept for the screen. Rows are counted once however many problems they have."""

    def __init__(self, directory: Path | None = None, *, prefix: str = "rejects-") -> None:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in close()
            "w", newline="", encoding="utf-8", suffix=".csv", prefix=prefix, dir=directory, delete=False
        )
        self.path = Path(handle.name)
        self._handle = handle
        self._writer = csv.writer(handle)
        self._writer.writerow(COLUMNS)
        self._rows: set[int] = set()
        self.preview: list[Problem] = []
        self.count = 0

    @property
    def rows(self) -> int:
        return len(self._rows)

    def row_numbers(self) -> set[int]:
        return set(self._rows)

    def add(self, row: int, column: str, value: object, reason: str) -> None:
        self.add_frame(pd.DataFrame([{"row": row, "column": column, "value": value, "reason": reason}]))

    def add_frame(self, problems: pd.DataFrame) -> None:
        """problems: columns row, column, value, reason."""
        if problems.empty:
            return
        problems = problems.loc[:, list(COLUMNS)].sort_values("row", kind="stable")
        records = list(problems.astype({"row": int}).itertuples(index=False, name=None))
        self._writer.writerows(records)
        self._rows.update(int(r[0]) for r in records)
        self.count += len(records)
        room = PREVIEW_ROWS - len(self.preview)
        if room > 0:
            self.preview.extend(
                Problem(int(r), str(c), "" if v is None else str(v), str(why)) for r, c, v, why in records[:room]
            )

    def close(self) -> None:
        """Finish the file, in row order (problems are found cell by cell, then across the file)."""
        if self._handle.closed:
            return
        self._handle.close()
        if 0 < self.count <= SORT_LIMIT:
            problems = pd.read_csv(self.path, dtype={"value": str}, keep_default_na=False)
            problems.sort_values("row", kind="stable").to_csv(self.path, index=False)
        self.preview.sort(key=lambda problem: problem.row)
