"""Exports: CSV and XLSX downloads never carry a live spreadsheet formula, and numbers stay numbers."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from core.export import csv_bytes, defuse, xlsx_bytes

HYPERLINK = '=HYPERLINK("http://x","y")'
RISKY = [HYPERLINK, "+1", "-2", "@SUM(A1)", "\tTAB", "\rCR"]


def csv_rows(table: pd.DataFrame) -> list[list[str]]:
    return pd.read_csv(
        io.BytesIO(csv_bytes(table)), encoding="utf-8-sig", dtype=str, keep_default_na=False
    ).values.tolist()


def sheet(table: pd.DataFrame, **kwargs: str) -> Worksheet:
    workbook = load_workbook(io.BytesIO(xlsx_bytes(table, **kwargs)))
    return workbook.active


def body(worksheet: Worksheet) -> list[list[object]]:
    return [[cell.value for cell in row] for row in worksheet.iter_rows(min_row=2)]


def test_a_formula_in_a_customer_name_comes_out_inert_in_the_csv():
    table = pd.DataFrame({"Customer": [HYPERLINK], "Balance": [1]})

    assert csv_rows(table) == [["'" + HYPERLINK, "1"]]
    assert csv_bytes(table).decode("utf-8-sig").splitlines()[1] == '"\'=HYPERLINK(""http://x"",""y"")",1'


def test_a_formula_in_a_customer_name_comes_out_inert_in_the_xlsx():
    worksheet = sheet(pd.DataFrame({"Customer": [HYPERLINK]}))

    cell = worksheet["A2"]
    assert cell.value == "'" + HYPERLINK
    assert cell.data_type != "f"


@pytest.mark.parametrize("risky", RISKY, ids=["equals", "plus", "minus", "at", "tab", "carriage return"])
def test_every_character_that_can_start_a_formula_is_quoted_in_both_files(risky):
    table = pd.DataFrame({"Customer": [risky]})

    assert csv_rows(table) == [["'" + risky]]
    cell = sheet(table)["A2"]
    assert cell.value == "'" + risky
    assert cell.data_type == "s"


def test_ordinary_text_and_text_that_only_contains_those_characters_is_left_alone():
    table = pd.DataFrame({"Customer": ["alice", "a=b", "x-1", "user@example.com", ""]})

    assert defuse(table)["Customer"].tolist() == ["alice", "a=b", "x-1", "user@example.com", ""]


def test_a_risky_header_is_quoted_too():
    table = pd.DataFrame({"=cmd": ["x"]})

    assert list(defuse(table).columns) == ["'=cmd"]
    assert sheet(table)["A1"].value == "'=cmd"


def test_text_in_a_mixed_column_is_quoted_and_the_numbers_beside_it_are_not():
    table = pd.DataFrame({"Mixed": ["-abc", Decimal("-5.25"), -3, None]})

    assert defuse(table)["Mixed"].tolist() == ["'-abc", Decimal("-5.25"), -3, None]


def test_negative_numbers_and_decimals_stay_numbers_in_the_xlsx():
    table = pd.DataFrame(
        {
            "Count": [-2, 3],
            "Share": [-0.5, 0.25],
            "Amount": [Decimal("-1234.56"), Decimal("51248472.10")],
        }
    )

    worksheet = sheet(table)

    assert body(worksheet) == [[-2, -0.5, -1234.56], [3, 0.25, 51248472.1]]
    assert all(cell.data_type == "n" for row in worksheet.iter_rows(min_row=2) for cell in row)


def test_negative_numbers_and_decimals_are_not_quoted_in_the_csv():
    table = pd.DataFrame({"Count": [-2], "Amount": [Decimal("-1234.56")]})

    assert csv_rows(table) == [["-2", "-1234.56"]]


def test_a_timezone_aware_datetime_column_is_written_as_naive_utc():
    manila = timezone(timedelta(hours=8))
    table = pd.DataFrame(
        {"At": pd.to_datetime([datetime(2025, 3, 1, 9, 30, tzinfo=manila)]), "Day": [date(2025, 3, 1)]}
    )

    worksheet = sheet(table)

    assert worksheet["A2"].value == datetime(2025, 3, 1, 1, 30)
    assert worksheet["A2"].is_date and worksheet["B2"].is_date
    assert csv_rows(table) == [["2025-03-01 09:30:00+08:00", "2025-03-01"]]


def test_timezone_aware_datetimes_in_a_plain_object_column_are_made_naive_too():
    table = pd.DataFrame({"At": pd.Series([datetime(2025, 3, 1, 12, tzinfo=UTC)], dtype=object)})

    assert sheet(table)["A2"].value == datetime(2025, 3, 1, 12)


def test_non_ascii_text_round_trips_in_both_files():
    table = pd.DataFrame({"Customer": ["Peñafrancia Trading", "José Rizal", "東京商事"]})

    assert csv_bytes(table).startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel looks for
    assert csv_rows(table) == [["Peñafrancia Trading"], ["José Rizal"], ["東京商事"]]
    assert body(sheet(table)) == [["Peñafrancia Trading"], ["José Rizal"], ["東京商事"]]


def test_gaps_are_empty_cells_and_control_characters_do_not_break_the_xlsx():
    table = pd.DataFrame({"Note": ["\x01=evil", None], "Amount": [float("nan"), 2.5]})

    worksheet = sheet(table)

    assert body(worksheet) == [["'=evil", None], [None, 2.5]]
    assert worksheet["A2"].data_type == "s"


def test_the_xlsx_has_a_header_row_and_the_named_sheet_but_no_index():
    table = pd.DataFrame({"Customer": ["a", "b"], "Balance": [1, 2]}, index=["x", "y"])

    worksheet = sheet(table, sheet="Audit")

    assert worksheet.title == "Audit"
    assert [cell.value for cell in worksheet[1]] == ["Customer", "Balance"]
    assert body(worksheet) == [["a", 1], ["b", 2]]


def test_defusing_leaves_the_original_table_unchanged():
    table = pd.DataFrame({"Customer": [HYPERLINK]})

    defuse(table)

    assert table["Customer"].tolist() == [HYPERLINK]
