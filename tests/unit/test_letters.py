"""Letters: printable reminder and demand PDFs, one batch file per run, and the limitation check."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from core.errors import ValidationError
from core.letters import (
    DEMAND_HEADING,
    FONT_DIRS,
    Letter,
    LetterInvoice,
    LetterParty,
    LetterTotal,
    is_time_barred,
    limitation_for,
    render_letter,
    render_letters,
    totals_by_currency,
)
from core.money import Money

needs_dejavu = pytest.mark.skipif(
    not any((folder / "DejaVuSans.ttf").is_file() for folder in FONT_DIRS), reason="DejaVu Sans is not installed"
)


def make_letter(**changes: Any) -> Letter:
    letter = Letter(
        sender=LetterParty("Bayanihan Supplies Inc.", ("12 Ayala Avenue", "Makati City 1226")),
        recipient=LetterParty("José Peñafrancia", ("45 Rizal Street", "Quezon City")),
        dated=date(2026, 3, 5),
        subject="Overdue invoices on account ACC-0042",
        body="Dear Mr Peñafrancia,\n\nOur records show the invoices below are unpaid.\nPlease settle them.",
        reference="SK-7f3a",
        invoices=(LetterInvoice("INV-1001", date(2025, 12, 1), date(2026, 1, 1), "₱12,500.00"),),
        totals=(LetterTotal("PHP", "₱12,500.00"),),
    )
    return replace(letter, **changes)


def pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def invoices(count: int) -> tuple[LetterInvoice, ...]:
    return tuple(LetterInvoice(f"INV-{n:04d}", date(2025, 1, 1), date(2025, 2, 1), "₱1,000.00") for n in range(count))


@needs_dejavu
def test_a_demand_letter_is_a_pdf_with_heading_name_subject_invoice_and_peso_total():
    pdf = render_letter(make_letter(kind="demand", signatory="Ana Cruz"))

    assert pdf.startswith(b"%PDF-")
    text = "\n".join(pages(pdf))
    for expected in (DEMAND_HEADING, "José Peñafrancia", "Overdue invoices on account ACC-0042", "INV-1001"):
        assert expected in text
    assert "Total due (PHP): ₱12,500.00" in text
    assert "Ana Cruz" in text and "Bayanihan Supplies Inc." in text


def test_a_reminder_has_no_demand_heading_and_no_signature_line():
    text = "\n".join(pages(render_letter(make_letter())))

    assert DEMAND_HEADING not in text
    assert "Yours faithfully" not in text
    assert "Reference: SK-7f3a" in text


def test_each_letter_of_a_batch_starts_on_its_own_page():
    names = ["Maria Santos", "Liang Wei", "Ñora Dela Cruz"]
    letters = [make_letter(recipient=LetterParty(name), reference=f"SK-{n}") for n, name in enumerate(names)]

    text = pages(render_letters(letters))

    assert len(text) >= len(names)
    assert [next(name for name in names if name in page) for page in text] == names


def test_a_sixty_invoice_letter_runs_onto_a_second_page_with_the_table_heading_repeated():
    text = pages(render_letter(make_letter(invoices=invoices(60))))

    assert len(text) > 1
    assert "INV-0000" in text[0]
    assert "INV-0059" in "".join(text[1:])
    assert sum("Invoice Issued Due Amount" in page for page in text) >= 2
    assert "Ref. SK-7f3a · page 2" in text[1]


def test_totals_are_printed_one_line_per_currency():
    totals = totals_by_currency([Money("100", "PHP"), Money("5", "USD"), Money("50.25", "PHP")])

    assert totals == (LetterTotal("PHP", "₱150.25"), LetterTotal("USD", "$5.00"))
    text = "\n".join(pages(render_letter(make_letter(totals=totals))))
    assert "Total due (PHP): ₱150.25" in text and "Total due (USD): $5.00" in text


def test_a_recipient_without_a_postal_address_gets_the_name_only():
    text = pages(render_letter(make_letter(recipient=LetterParty("Liang Wei"))))[0]

    assert "Liang Wei" in text
    assert "45 Rizal Street" not in text


@needs_dejavu
def test_non_latin1_text_prints_with_the_unicode_font():
    letter = make_letter(recipient=LetterParty("Nguyễn Thị Ánh — Ñino"), subject="Paalala: ₱ sisingilin")

    text = "\n".join(pages(render_letter(letter)))

    assert "Nguyễn Thị Ánh — Ñino" in text
    assert "Paalala: ₱ sisingilin" in text


def test_without_the_unicode_font_the_peso_sign_becomes_php_and_accents_stay(tmp_path: Path):
    letter = make_letter(recipient=LetterParty("Nguyễn — Peñafrancia"))

    text = "\n".join(pages(render_letter(letter, font_dir=tmp_path)))

    assert "Nguyen - Peñafrancia" in text
    assert "Total due (PHP): PHP 12,500.00" in text


def test_long_unbroken_text_and_windows_line_ends_do_not_break_rendering():
    body = "Pay at https://pay.example.com/" + "x" * 400 + "\r\n\r\nThank you."

    text = "\n".join(pages(render_letter(make_letter(body=body))))

    assert "Thank you." in text


def test_an_empty_batch_or_an_unknown_kind_is_refused():
    with pytest.raises(ValidationError, match="no letters"):
        render_letters([])
    with pytest.raises(ValidationError, match="'reminder' or a 'demand'"):
        make_letter(kind="lawsuit")
    with pytest.raises(ValidationError, match="recipient's name"):
        make_letter(recipient=LetterParty("  "))


@pytest.mark.parametrize(
    ("as_of", "barred"),
    [(date(2030, 3, 14), False), (date(2030, 3, 15), True), (date(2030, 3, 16), True)],
)
def test_a_claim_is_time_barred_from_the_anniversary_itself(as_of: date, barred: bool):
    assert is_time_barred(date(2020, 3, 15), as_of, 10) is barred


def test_a_leap_day_due_date_is_barred_from_28_february():
    assert not is_time_barred(date(2024, 2, 29), date(2030, 2, 27), 6)
    assert is_time_barred(date(2024, 2, 29), date(2030, 2, 28), 6)


def test_a_zero_year_period_bars_at_once_and_a_negative_one_is_refused():
    assert is_time_barred(date(2026, 1, 1), date(2026, 1, 1), 0)
    with pytest.raises(ValidationError):
        is_time_barred(date(2026, 1, 1), date(2026, 1, 1), -1)


def test_limitation_comes_from_the_country_default_unless_overridden():
    assert [limitation_for(country) for country in ("PH", "sg", "US", "GB")] == [10, 6, 6, 6]
    assert limitation_for("US", {"US": 3}) == 3
    assert limitation_for("JP", {"JP": 5}) == 5
    with pytest.raises(ValidationError, match="No limitation period is known for JP"):
        limitation_for("jp")
