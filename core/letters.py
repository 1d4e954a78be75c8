"""Printable letters: reminder and formal demand letters as A4 PDF, and the limitation check before a demand."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from babel.dates import format_date
from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos

from core.errors import ValidationError
from core.money import Money

LetterKind = Literal["reminder", "demand"]
DEMAND_HEADING = "FORMAL DEMAND FOR PAYMENT"
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian, Ubuntu (fonts-dejavu-core)
    Path("/usr/share/fonts/dejavu-sans-fonts"),  # Fedora
    Path("/usr/share/fonts/TTF"),  # Arch
    Path("/usr/share/fonts/dejavu"),
)
_FAMILY = "DejaVu"
# Only used with the built-in PDF fonts, which know Latin-1 and nothing else.
_LATIN1_STANDINS = {"₱": "PHP ", "€": "EUR ", "‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "..."}

# Years after which a claim on a written contract can no longer be enforced in court. Defaults only:
# a market's own figure (set as an override) wins. Written acknowledgment or part payment restarts
# the period in all four, and in PH a written extrajudicial demand interrupts it (Civil Code Art. 1155),
# so pass the date the period last started, not necessarily the oldest due date.
LIMITATION_YEARS: Mapping[str, int] = MappingProxyType(
    {
        "PH": 10,  # Civil Code Art. 1144: actions upon a written contract
        "SG": 6,  # Limitation Act 1959 s 6(1)(a): contract
        "US": 6,  # state law, 3 to 15 years for written contracts; set the state's figure as an override
        "GB": 6,  # Limitation Act 1980 s 5 (England and Wales; Scotland prescribes after 5 years)
    }
)


@dataclass(frozen=True, slots=True)
class LetterParty:
    """A name and its postal address lines; the address may be empty (contacts carry none yet)."""

    name: str
    address: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LetterInvoice:
    number: str
    issue_date: date
    due_date: date
    amount: str  # already formatted, with its currency


@dataclass(frozen=True, slots=True)
class LetterTotal:
    currency: str
    amount: str  # already formatted


@dataclass(frozen=True, slots=True)
class Letter:
    """One letter, its text already rendered from a template. Totals stay one line per currency."""

    sender: LetterParty
    recipient: LetterParty
    dated: date
    subject: str
    body: str  # plain text; a blank line separates paragraphs
    reference: str  # the send key or account reference, printed on every page
    kind: LetterKind = "reminder"
    invoices: tuple[LetterInvoice, ...] = ()
    totals: tuple[LetterTotal, ...] = ()
    signatory: str = ""  # printed under the signature line of a demand
    locale: str = "en_US"

    def __post_init__(self) -> None:
        if self.kind not in ("reminder", "demand"):
            raise ValidationError(f"A letter is a 'reminder' or a 'demand', not {self.kind!r}.")
        if not self.recipient.name.strip():
            raise ValidationError("A letter needs the recipient's name.")


def totals_by_currency(amounts: Iterable[Money], *, locale: str = "en_US") -> tuple[LetterTotal, ...]:
    """One total per currency, in order of first appearance; amounts in different currencies are never added."""
    sums: dict[str, Money] = {}
    for amount in amounts:
        sums[amount.currency] = sums[amount.currency] + amount if amount.currency in sums else amount
    return tuple(LetterTotal(code, total.format(locale)) for code, total in sums.items())


def render_letter(letter: Letter, *, font_dir: Path | None = None) -> bytes:
    """One letter as an A4 PDF."""
    return render_letters([letter], font_dir=font_dir)


def render_letters(letters: Sequence[Letter], *, font_dir: Path | None = None) -> bytes:
    """All letters of a run in one printable PDF, each starting on a new page.

    Text is set in DejaVu Sans (found in font_dir or FONT_DIRS) so that "Peñafrancia" and "₱" print;
    without it the built-in Helvetica is used and characters outside Latin-1 are replaced ("₱" by "PHP").
    """
    if not letters:
        raise ValidationError("There are no letters to print.")
    pdf = _LetterPDF(font_dir)
    for letter in letters:
        pdf.start(letter)
        _write(pdf, letter)
    return bytes(pdf.output())


def is_time_barred(oldest_due: date, as_of: date, limitation_years: int) -> bool:
    """True from the anniversary itself: on as_of == oldest_due + N years the claim counts as barred.
    Erring a day early is the safe side: demanding or suing on a barred debt is what gets a collector fined."""
    if limitation_years < 0:
        raise ValidationError("A limitation period cannot be negative.")
    return as_of >= _add_years(oldest_due, limitation_years)


def limitation_for(country: str, overrides: Mapping[str, int] | None = None) -> int:
    """The limitation period in years for a country (ISO 3166 alpha-2), an override winning over the default."""
    code = country.upper()
    years = (overrides or {}).get(code, LIMITATION_YEARS.get(code))
    if years is None:
        raise ValidationError(f"No limitation period is known for {code}; set one before sending a demand.")
    return years


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        return day.replace(year=day.year + years, day=28)


class _LetterPDF(FPDF):
    def __init__(self, font_dir: Path | None) -> None:
        super().__init__(format="A4", unit="mm")
        self.set_margins(left=20, top=20, right=20)
        self.set_auto_page_break(auto=True, margin=22)
        self.is_unicode = _add_dejavu(self, font_dir)
        self.font_name = _FAMILY if self.is_unicode else "Helvetica"
        self.reference = ""
        self.first_page = 1

    def start(self, letter: Letter) -> None:
        self.reference = self.clean(letter.reference)
        self.add_page()
        self.first_page = self.page_no()

    def clean(self, value: str) -> str:
        return value if self.is_unicode else _latin1(value)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(self.font_name, size=8)
        page = self.page_no() - self.first_page + 1
        self.cell(0, 5, f"Ref. {self.reference} · page {page}")


def _add_dejavu(pdf: FPDF, font_dir: Path | None) -> bool:
    for folder in (font_dir,) if font_dir else FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file():
            pdf.add_font(_FAMILY, "", regular)
            pdf.add_font(_FAMILY, "B", bold if bold.is_file() else regular)
            return True
    return False


def _latin1(value: str) -> str:
    out = []
    for char in value:
        char = _LATIN1_STANDINS.get(char, char)
        if char.encode("latin-1", "ignore").decode("latin-1") != char:
            stripped = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            char = stripped if stripped.isascii() and stripped else "?"
        out.append(char)
    return "".join(out)


def _write(pdf: _LetterPDF, letter: Letter) -> None:
    width = pdf.epw
    pdf.set_font(pdf.font_name, "B", 11)
    pdf.cell(width, 5, pdf.clean(letter.sender.name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _lines(pdf, letter.sender.address, size=9)
    pdf.set_y(max(pdf.get_y() + 8, 50))  # the recipient sits where a window envelope shows it
    pdf.set_font(pdf.font_name, "", 11)
    _lines(pdf, (letter.recipient.name, *letter.recipient.address), size=11)
    pdf.ln(10)
    pdf.cell(width, 5, pdf.clean(format_date(letter.dated, format="long", locale=letter.locale)), align=Align.R)
    pdf.ln(5)
    pdf.set_font(pdf.font_name, "", 9)
    pdf.cell(width, 5, pdf.clean(f"Reference: {letter.reference}"), align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)
    if letter.kind == "demand":
        pdf.set_font(pdf.font_name, "B", 14)
        pdf.cell(width, 8, DEMAND_HEADING, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
    pdf.set_font(pdf.font_name, "B", 11)
    pdf.multi_cell(width, 6, pdf.clean(letter.subject), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font(pdf.font_name, "", 10)
    for paragraph in _paragraphs(letter.body):
        pdf.multi_cell(width, 5, pdf.clean(paragraph), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
    if letter.invoices:
        _invoice_table(pdf, letter)
    for total in letter.totals:
        pdf.set_font(pdf.font_name, "B", 10)
        label = f"Total due ({total.currency}): {total.amount}"
        pdf.cell(width, 6, pdf.clean(label), align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if letter.kind == "demand":
        _signature(pdf, letter)


def _lines(pdf: _LetterPDF, lines: Iterable[str], *, size: int) -> None:
    pdf.set_font(pdf.font_name, "", size)
    for line in lines:
        pdf.cell(pdf.epw, size * 0.45, pdf.clean(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _paragraphs(body: str) -> list[str]:
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    return [block.strip("\n") for block in text.split("\n\n") if block.strip()]


def _invoice_table(pdf: _LetterPDF, letter: Letter) -> None:
    pdf.set_font(pdf.font_name, "", 9)
    with pdf.table(
        col_widths=(40, 30, 30, 40),
        text_align=(Align.L, Align.L, Align.L, Align.R),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        line_height=6,
        repeat_headings=1,  # the heading row again on every page the table runs onto
    ) as table:
        table.row(("Invoice", "Issued", "Due", "Amount"))
        for invoice in letter.invoices:
            issued = format_date(invoice.issue_date, format="medium", locale=letter.locale)
            due = format_date(invoice.due_date, format="medium", locale=letter.locale)
            table.row(tuple(pdf.clean(value) for value in (invoice.number, issued, due, invoice.amount)))
    pdf.ln(3)


def _signature(pdf: _LetterPDF, letter: Letter) -> None:
    if pdf.will_page_break(40):  # keep the closing and the signature line together
        pdf.add_page()
    pdf.ln(8)
    pdf.set_font(pdf.font_name, "", 10)
    pdf.cell(pdf.epw, 5, "Yours faithfully,", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(16)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + 70, pdf.get_y())
    pdf.ln(1)
    _lines(pdf, (letter.signatory or "Authorised signatory", f"for and on behalf of {letter.sender.name}"), size=10)
