"""Bad files get a specific message and, with "nothing" chosen, write nothing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func, select

from core.errors import ValidationError
from core.imports.fields import Mapping, guess_columns
from core.imports.parsing import AmbiguousDates
from core.imports.reading import headers, inspect
from core.models import AuditEntry, Customer, Invoice
from core.services import imports
from tests.factories import SYSTEM

HEADER = "customer_ref,invoice_number,issue_date,due_date,amount,currency\n"


def write(tmp_path: Path, body: str, *, name: str = "invoices.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(body.encode(encoding))
    return path


def run(session, path: Path, kind: str = "invoices", **options):
    sheet = options.pop("sheet", None)
    valid_only = options.pop("valid_only", False)
    mapping = Mapping(kind=kind, columns=guess_columns(kind, headers(path, inspect(path), sheet=sheet)))
    mapping = mapping.with_options(**{"country": "PH", **options})
    return imports.import_file(session, SYSTEM, path, mapping=mapping, sheet=sheet, valid_only=valid_only)


# Other tiers commit their own customers to the shared test database: look only at this file's.
def invoice_count(session, ref: str = "B1") -> int:
    return session.scalar(select(func.count(Invoice.id)).join(Customer).where(Customer.external_ref == ref)) or 0


def invoice(session, number: str = "INV-1", ref: str = "B1") -> Invoice:
    return session.scalar(select(Invoice).join(Customer).where(Customer.external_ref == ref, Invoice.number == number))


def customer_name(session, ref: str = "B1") -> str | None:
    return session.scalar(select(Customer.name).where(Customer.external_ref == ref))


def import_audits(session) -> int:
    return session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "import.invoices")) or 0


def reasons(result) -> list[tuple[int, str, str]]:
    return [(p.row, p.column, p.reason) for p in result.problems]


def test_a_refused_row_means_nothing_is_written_unless_valid_rows_are_chosen(session, tmp_path):
    path = write(
        tmp_path, HEADER + "B1,INV-1,2024-03-01,2024-03-31,100.00,PHP\nB1,INV-2,2024-03-01,2024-03-31,abc,PHP\n"
    )

    audits = import_audits(session)

    refused = run(session, path)

    assert (refused.written, refused.new, refused.rejected) == (False, 1, 1)
    assert invoice_count(session) == 0
    assert customer_name(session) is None
    assert import_audits(session) == audits
    assert reasons(refused) == [(3, "amount", "'abc' is not an amount written like 1,234.56")]

    valid = run(session, path, valid_only=True)
    assert (valid.written, valid.new, valid.rejected) == (True, 1, 1)
    assert invoice_count(session) == 1


def test_duplicate_invoice_numbers_in_one_file_refuse_every_copy(session, tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "B1,INV-1,2024-03-01,2024-03-31,100.00,PHP\n"
        + "B1,INV-2,2024-03-01,2024-03-31,50.00,PHP\n"
        + "B1,INV-1,2024-03-02,2024-04-01,120.00,PHP\n",
    )

    result = run(session, path, valid_only=True)

    assert result.new == 1
    assert reasons(result) == [
        (2, "invoice_number", "invoice INV-1 of customer B1 is on rows 2, 4 of this file; an invoice may appear once"),
        (4, "invoice_number", "invoice INV-1 of customer B1 is on rows 2, 4 of this file; an invoice may appear once"),
    ]


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("-5.00", "'-5.00' must be more than zero"),
        ("(5.00)", "'(5.00)' must be more than zero"),
        ("0", "'0' must be more than zero"),
        ("0.00", "'0.00' must be more than zero"),
        ("12,34", "'12,34' is not an amount written like 1,234.56"),
        ("ten", "'ten' is not an amount written like 1,234.56"),
        ("1.005", "'1.005' has more decimals than PHP allows"),
        ("", "the amount is empty"),
        ("12345678901234567", "'12345678901234567' is too large"),
    ],
)
def test_a_bad_amount_is_refused_with_its_reason(session, tmp_path, amount, reason):
    path = write(tmp_path, HEADER + f'B1,INV-1,2024-03-01,2024-03-31,"{amount}",PHP\n')

    result = run(session, path)

    assert [p.reason for p in result.problems] == [reason]
    assert invoice_count(session) == 0


def test_an_unknown_currency_code_is_refused(session, tmp_path):
    path = write(tmp_path, HEADER + "B1,INV-1,2024-03-01,2024-03-31,10.00,PHX\n")

    result = run(session, path)

    assert reasons(result) == [(2, "currency", "'PHX' is not an ISO 4217 currency code (e.g. PHP, SGD, USD)")]


def test_unparseable_and_impossible_dates_are_refused(session, tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "B1,INV-1,31/02/2024,15/03/2024,10.00,PHP\n"
        + "B1,INV-2,someday,15/03/2024,10.00,PHP\n"
        + "B1,INV-3,14/03/2024,15/03/2024,10.00,PHP\n",
    )

    result = run(session, path)

    assert result.date_format == "DD/MM/YYYY"
    assert reasons(result) == [
        (2, "issue_date", "'31/02/2024' is not a real date (DD/MM/YYYY)"),
        (3, "issue_date", "'someday' is not a date in DD/MM/YYYY form"),
    ]


def test_dates_that_read_both_ways_are_not_guessed(session, tmp_path):
    path = write(tmp_path, HEADER + "B1,INV-1,03/04/2024,05/04/2024,10.00,PHP\n")

    with pytest.raises(AmbiguousDates) as refused:
        run(session, path)

    assert refused.value.formats == ["DD/MM/YYYY", "MM/DD/YYYY"]
    assert "Choose the date format" in str(refused.value)
    chosen = run(session, path, date_format="MM/DD/YYYY")
    assert chosen.written and str(invoice(session).issue_date) == "2024-03-04"


def test_a_due_date_before_the_issue_date_is_refused(session, tmp_path):
    path = write(tmp_path, HEADER + "B1,INV-1,2024-03-31,2024-03-01,10.00,PHP\n")

    result = run(session, path)

    assert reasons(result) == [(2, "due_date", "the due date is before the issue date 2024-03-31")]


def test_a_missing_required_column_is_named(session, tmp_path):
    path = write(tmp_path, "customer_ref,issue_date,due_date,amount,currency\nB1,2024-03-01,2024-03-31,10.00,PHP\n")

    with pytest.raises(ValidationError, match=r"missing required column: Invoice number"):
        run(session, path)


@pytest.mark.parametrize("body", ["", "   \n\n"])
def test_an_empty_file_is_refused(session, tmp_path, body):
    with pytest.raises(ValidationError, match=r"invoices.csv is empty"):
        run(session, write(tmp_path, body))


def test_a_header_only_file_is_refused(session, tmp_path):
    with pytest.raises(ValidationError, match=r"has a header row but no data rows"):
        run(session, write(tmp_path, HEADER))


def test_a_formula_in_a_name_is_kept_as_text_with_a_warning(session, tmp_path):
    path = write(
        tmp_path,
        "customer_ref,customer_name,invoice_number,issue_date,due_date,amount,currency\n"
        + 'B1,"=HYPERLINK(""http://evil.example"",""Click"")",INV-1,2024-03-01,2024-03-31,10.00,PHP\n',
    )

    result = run(session, path)

    assert result.written
    assert [(w.row, w.column) for w in result.warnings] == [(2, "customer_name")]
    assert "spreadsheet formula" in result.warnings[0].reason
    assert customer_name(session) == '=HYPERLINK("http://evil.example","Click")'


def test_cp1252_text_is_read_right(session, tmp_path):
    body = "customer_ref,customer_name,invoice_number,issue_date,due_date,amount,currency\n"
    body += "B1,Peñafrancia Café,INV-1,2024-03-01,2024-03-31,10.00,PHP\n"
    path = write(tmp_path, body, encoding="cp1252")

    result = run(session, path)

    assert (result.written, result.encoding) == (True, "cp1252")
    assert customer_name(session) == "Peñafrancia Café"


def test_utf8_with_a_byte_order_mark_and_semicolons_and_european_amounts(session, tmp_path):
    body = "\ufeffcustomer_ref;invoice_number;issue_date;due_date;amount;currency\n"
    body += "B1;INV-1;01.03.2024;31.03.2024;1.234,50;EUR\n"
    path = write(tmp_path, body)

    result = run(session, path, amount_style="1.234,56")

    assert (result.written, result.date_format) == (True, "DD.MM.YYYY")
    assert str(invoice(session).amount) == "1234.5000"


def test_an_xlsx_with_several_sheets_asks_which_and_reads_the_chosen_one(session, tmp_path):
    path = tmp_path / "book.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "Notes"
    workbook.active.append(["nothing to import here"])
    sheet = workbook.create_sheet("Invoices")
    sheet.append(["customer_ref", "invoice_number", "issue_date", "due_date", "amount", "currency"])
    sheet.append(["B1", "INV-1", datetime(2024, 3, 1), datetime(2024, 3, 31), 1234.5, "PHP"])
    workbook.save(path)

    with pytest.raises(ValidationError, match=r"several sheets \(Notes, Invoices\); choose one"):
        run(session, path)
    result = run(session, path, sheet="Invoices")

    assert (result.written, result.new, result.date_format) == (True, 1, "YYYY-MM-DD")
    assert str(invoice(session).amount) == "1234.5000"


def test_a_50_mb_file_is_read_in_chunks_and_imported(session, tmp_path):
    path = tmp_path / "big.csv"
    notes = "x" * 1_000
    with path.open("w") as handle:
        handle.write("customer_ref,invoice_number,issue_date,due_date,amount,currency,notes\n")
        for n in range(52_000):
            handle.write(f"BIG{n % 500},INV-{n},2024-03-01,2024-03-31,{n % 900 + 1}.25,PHP,{notes}\n")
    assert path.stat().st_size > 50 * 1_048_576
    seen: list[tuple[int, int | None]] = []

    mapping = Mapping(kind="invoices", columns=guess_columns("invoices", headers(path, inspect(path))), country="PH")
    result = imports.import_file(session, SYSTEM, path, mapping=mapping, progress=lambda d, e: seen.append((d, e)))

    assert (result.rows, result.new, result.rejected) == (52_000, 52_000, 0)
    assert len(seen) == 2 and seen[-1] == (52_000, 52_000)
    assert result.details["customers_created"] == 500


def test_a_file_over_the_size_limit_is_refused_before_reading(session, tmp_path, monkeypatch):
    from core.config import get_settings

    monkeypatch.setenv("RECOUP_IMPORT_MAX_MB", "0.001")
    get_settings.cache_clear()
    try:
        with pytest.raises(ValidationError, match=r"imports take files up to"):
            run(session, write(tmp_path, HEADER + "B1,INV-1,2024-03-01,2024-03-31,10.00,PHP\n" * 30))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_an_old_excel_file_or_binary_is_refused_plainly(session, tmp_path):
    with pytest.raises(ValidationError, match=r"old Excel file"):
        run(session, _binary(tmp_path, b"\xd0\xcf\x11\xe0rest"))
    with pytest.raises(ValidationError, match=r"not a text \(CSV\) file"):
        run(session, _binary(tmp_path, b"abc\x00def"))


def _binary(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    return path


def test_a_new_customer_without_a_country_is_refused_by_name(session, tmp_path):
    path = write(tmp_path, HEADER + "NEW1,INV-1,2024-03-01,2024-03-31,10.00,PHP\n")

    mapping = Mapping(kind="invoices", columns=guess_columns("invoices", headers(path, inspect(path))))
    result = imports.import_file(session, SYSTEM, path, mapping=mapping)

    assert reasons(result) == [
        (
            2,
            "customer_ref",
            "customer NEW1 is not in Recoup and the file gives no country to create it: "
            "map a country column or choose a country for new customers",
        )
    ]


def test_a_changed_invoice_is_updated_and_its_paid_status_follows_the_new_amount(session, tmp_path):
    settled = "customer_ref,invoice_number,issue_date,due_date,amount,currency,settled_date\n"
    run(session, write(tmp_path, settled + "B1,INV-1,2024-03-01,2024-03-31,100.00,PHP,2024-03-20\n"))
    first = invoice(session)
    assert (first.status, first.version) == ("paid", 2)

    raised = run(session, write(tmp_path, HEADER + "B1,INV-1,2024-03-01,2024-04-15,150.00,PHP\n"))

    assert (raised.new, raised.updated, raised.unchanged) == (0, 1, 0)
    session.refresh(first)
    assert (str(first.amount), str(first.due_date), first.status, first.version) == (
        "150.0000",
        "2024-04-15",
        "open",
        3,
    )


def test_an_invoice_cannot_drop_below_or_change_currency_from_what_is_paid(session, tmp_path):
    settled = "customer_ref,invoice_number,issue_date,due_date,amount,currency,settled_date\n"
    run(session, write(tmp_path, settled + "B1,INV-1,2024-03-01,2024-03-31,100.00,PHP,2024-03-20\n"))

    lower = run(session, write(tmp_path, HEADER + "B1,INV-1,2024-03-01,2024-03-31,90.00,PHP\n"))
    dollars = run(session, write(tmp_path, HEADER + "B1,INV-1,2024-03-01,2024-03-31,100.00,USD\n"))

    assert reasons(lower) == [
        (2, "amount", "invoice INV-1 already has PHP 100.00 paid; the amount cannot drop below that")
    ]
    assert reasons(dollars) == [
        (2, "amount", "invoice INV-1 is in PHP and already has payments; its currency cannot change to USD")
    ]
    assert str(invoice(session).amount) == "100.0000"


def test_uploads_left_behind_for_a_day_are_swept(tmp_path, monkeypatch):
    import os
    import time

    from core.config import get_settings

    monkeypatch.setenv("RECOUP_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        directory = get_settings().import_dir
        directory.mkdir(parents=True)
        old, fresh = directory / "upload-old.csv", directory / "upload-new.csv"
        old.write_text("x")
        fresh.write_text("y")
        two_days_ago = time.time() - 2 * 86_400
        os.utime(old, (two_days_ago, two_days_ago))

        assert imports.sweep_import_dir() == 1
        assert not old.exists() and fresh.exists()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_a_formula_imported_in_a_customer_name_comes_out_inert_in_csv_and_xlsx(session, tmp_path):
    import io

    from openpyxl import load_workbook

    from core.export import csv_bytes, xlsx_bytes
    from core.services.customers import find_customers

    formula = '=HYPERLINK("http://evil.example","Pay here")'
    body = "customer_ref,customer_name,invoice_number,issue_date,due_date,amount,currency\n"
    quoted = formula.replace('"', '""')
    path = write(tmp_path, body + f'EVIL1,"{quoted}",INV-1,2024-03-01,2024-03-31,10,PHP\n')
    run(session, path)
    [hit] = find_customers(session, SYSTEM, "EVIL1")
    table = pd.DataFrame([{"Customer": hit.name, "Ref": hit.external_ref}])

    csv_cell = pd.read_csv(io.BytesIO(csv_bytes(table)), encoding="utf-8-sig", dtype=str)["Customer"][0]
    cell = load_workbook(io.BytesIO(xlsx_bytes(table))).active["A2"]

    assert hit.name == formula
    assert csv_cell == "'" + formula
    assert (cell.value, cell.data_type) == ("'" + formula, "s")


def test_xlsx_number_and_date_cells_read_right_whatever_the_chosen_styles(session, tmp_path):
    path = tmp_path / "european.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["customer_ref", "invoice_number", "issue_date", "due_date", "amount", "currency"])
    workbook.active.append(["B1", "INV-1", datetime(2024, 3, 1), datetime(2024, 3, 31), 1000.5, "EUR"])
    workbook.active.append(["B1", "INV-2", datetime(2024, 3, 1), datetime(2024, 3, 31), 0.1 + 0.2, "EUR"])
    workbook.active.append(["B1", "INV-3", "03/02/2024", "03/30/2024", "1.234,50", "EUR"])
    workbook.save(path)

    result = run(session, path, amount_style="1.234,56", date_format="MM/DD/YYYY")

    assert (result.new, result.rejected) == (3, 0)
    assert [str(invoice(session, n).amount) for n in ("INV-1", "INV-2", "INV-3")] == [
        "1000.5000",
        "0.3000",
        "1234.5000",
    ]
    assert str(invoice(session, "INV-1").issue_date) == "2024-03-01"


def test_a_header_named_twice_is_refused_by_name(session, tmp_path):
    path = write(tmp_path, "customer_ref,invoice_number,issue_date,due_date,amount,amount ,currency\n")

    with pytest.raises(ValidationError, match=r"The column name 'amount' appears twice \(columns 5 and 6\)"):
        run(session, path)


def test_a_nul_character_deep_in_a_file_is_refused_by_row_not_by_a_traceback(session, tmp_path):
    rows = "".join(f"B1,INV-{n},2024-03-01,2024-03-31,10.00,PHP\n" for n in range(3_000))
    path = write(tmp_path, HEADER + rows + "B1,INV-X\x00,2024-03-01,2024-03-31,10.00,PHP\n")

    result = run(session, path)

    assert [(p.row, p.column) for p in result.problems] == [(3_002, "invoice_number")]
    assert "NUL character" in result.problems[0].reason
