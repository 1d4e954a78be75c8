"""Reading cells: date formats are detected only when unambiguous; amounts by the chosen style."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from core.errors import ValidationError
from core.imports.fields import guess_columns
from core.imports.parsing import AmbiguousDates, detect_date_format, parse_amounts, parse_dates, parse_flags
from core.services.matching import reference_tokens


def cells(*values: str) -> pd.Series:
    return pd.Series(list(values), dtype=str)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (("2024-03-31", "2024-01-02"), "YYYY-MM-DD"),
        (("31/03/2024", "01/02/2024"), "DD/MM/YYYY"),
        (("3/31/2024", "1/2/2024"), "MM/DD/YYYY"),
        (("31.03.2024",), "DD.MM.YYYY"),
        (("31 Mar 2024",), "DD Mon YYYY"),
        (("", ""), None),
    ],
)
def test_a_date_format_is_detected_when_only_one_fits(values, expected):
    assert detect_date_format(cells(*values)) == expected


def test_dates_that_fit_day_first_and_month_first_are_ambiguous():
    with pytest.raises(AmbiguousDates) as raised:
        detect_date_format(cells("03/04/2024", "11/12/2024"))
    assert raised.value.formats == ["DD/MM/YYYY", "MM/DD/YYYY"]


def test_a_file_of_non_dates_is_refused():
    with pytest.raises(ValidationError, match="No date format reads"):
        detect_date_format(cells("soon", "later"))


def test_impossible_and_malformed_dates_get_different_reasons():
    parsed = parse_dates(cells("29/02/2024", "31/02/2024", "tomorrow", ""), "DD/MM/YYYY")
    assert [None if pd.isna(v) else v.date() for v in parsed.values] == [date(2024, 2, 29), None, None, None]
    assert list(parsed.reasons) == [
        "",
        "'31/02/2024' is not a real date (DD/MM/YYYY)",
        "'tomorrow' is not a date in DD/MM/YYYY form",
        "",
    ]


@pytest.mark.parametrize(
    ("style", "text", "expected"),
    [
        ("1,234.56", "1,234.50", "1234.5"),
        ("1,234.56", "1234.5", "1234.5"),
        ("1,234.56", "$1,234,567.00", "1234567"),
        ("1,234.56", "PHP 12.30", "12.3"),
        ("1.234,56", "1.234,50", "1234.5"),
        ("1.234,56", "€ 7,05", "7.05"),
        ("1 234,56", "1\u202f234,50", "1234.5"),
        ("1 234,56", "1 234,50", "1234.5"),
        ("1'234.56", "1'234.50", "1234.5"),
    ],
)
def test_amounts_are_read_in_the_chosen_style(style, text, expected):
    parsed = parse_amounts(cells(text), style, cells("EUR" if "€" in text else "PHP"))
    assert (parsed.values[0], parsed.reasons[0]) == (expected, "")


def test_a_currency_written_in_the_cell_must_be_the_rows_currency():
    parsed = parse_amounts(cells("USD 1,500.00", "€200", "$5", "PHP 7"), "1,234.56", cells("PHP", "JPY", "SGD", "PHP"))
    assert list(parsed.reasons) == [
        "'USD 1,500.00' is in USD, but the row's currency is PHP",
        "'€200' is in EUR, but the row's currency is JPY",
        "",
        "",
    ]


def test_digits_of_other_scripts_are_refused_not_passed_to_the_database():
    parsed = parse_amounts(cells("１０００", "1,０00"), "1,234.56", cells("JPY", "JPY"))
    assert [reason.endswith("is not an amount written like 1,234.56") for reason in parsed.reasons] == [True, True]


def test_an_amount_in_the_other_style_is_refused_not_misread():
    parsed = parse_amounts(cells("1.234,50", "1,234.50"), "1,234.56", cells("PHP", "PHP"))
    assert list(parsed.reasons) == ["'1.234,50' is not an amount written like 1,234.56", ""]


def test_decimals_follow_the_currency():
    parsed = parse_amounts(cells("100.5", "100", "1.234"), "1,234.56", cells("JPY", "JPY", "KWD"))
    assert list(parsed.reasons) == ["'100.5' has more decimals than JPY allows", "", ""]


def test_yes_no_flags():
    parsed = parse_flags(cells("Yes", "no", "", "Y", "maybe"))
    assert list(parsed.values[:4]) == [True, False, False, True]
    assert parsed.reasons[4] == "'maybe' is not yes or no"


def test_headers_are_guessed_whatever_their_case_and_punctuation():
    guessed = guess_columns("invoices", ["Customer ID", "Invoice No.", "Invoice Date", "Due Date", "Total", "CCY"])
    assert guessed == {
        "customer_ref": "Customer ID",
        "invoice_number": "Invoice No.",
        "issue_date": "Invoice Date",
        "due_date": "Due Date",
        "amount": "Total",
        "currency": "CCY",
    }


def test_invoice_numbers_are_found_in_a_bank_reference():
    assert reference_tokens("PAYMENT FOR INV-1001/2024, 611365.", None) >= {"INV-1001/2024", "611365"}
