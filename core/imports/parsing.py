"""Turning the text of spreadsheet cells into dates, amounts, codes and flags, a column at a time.

Every parser takes a column of strings and returns the parsed column plus a column of reasons
(empty where the cell is fine), so one file's thousands of rows are checked without a Python loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import pandas as pd
from babel import Locale
from babel.numbers import get_decimal_symbol, get_group_symbol

from core.errors import ValidationError
from core.imports.reading import CellStyle
from core.models import PAYMENT_METHODS
from core.money import known_currencies, minor_unit

# Label shown to the user -> (strptime format, the shape a cell must have to be read that way).
DATE_FORMATS: dict[str, tuple[str, str]] = {
    "YYYY-MM-DD": ("%Y-%m-%d", r"\d{4}-\d{1,2}-\d{1,2}"),
    "DD/MM/YYYY": ("%d/%m/%Y", r"\d{1,2}/\d{1,2}/\d{4}"),
    "MM/DD/YYYY": ("%m/%d/%Y", r"\d{1,2}/\d{1,2}/\d{4}"),
    "DD.MM.YYYY": ("%d.%m.%Y", r"\d{1,2}\.\d{1,2}\.\d{4}"),
    "DD-MM-YYYY": ("%d-%m-%Y", r"\d{1,2}-\d{1,2}-\d{4}"),
    "MM-DD-YYYY": ("%m-%d-%Y", r"\d{1,2}-\d{1,2}-\d{4}"),
    "YYYY/MM/DD": ("%Y/%m/%d", r"\d{4}/\d{1,2}/\d{1,2}"),
    "DD Mon YYYY": ("%d %b %Y", r"\d{1,2} [A-Za-z]{3} \d{4}"),
    "DD-Mon-YYYY": ("%d-%b-%Y", r"\d{1,2}-[A-Za-z]{3}-\d{4}"),
}

# How amounts are written -> the babel locale whose group and decimal symbols that is.
AMOUNT_STYLES: dict[str, str] = {"1,234.56": "en", "1.234,56": "de", "1 234,56": "fr", "1'234.56": "de_CH"}

_CURRENCY_AFFIX = r"(?:[A-Z]{3}|US\$|S\$|[$€£¥₱])"
_MAX_INTEGER_DIGITS = 15  # NUMERIC(19, 4)

TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1", "x"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0", ""})

METHOD_WORDS: dict[str, str] = {
    **{method: method for method in PAYMENT_METHODS},
    **{method.replace("_", " "): method for method in PAYMENT_METHODS},
    "transfer": "bank_transfer",
    "bank": "bank_transfer",
    "wire": "bank_transfer",
    "instapay": "bank_transfer",
    "pesonet": "bank_transfer",
    "giro": "direct_debit",
    "cheque": "check",
    "credit card": "card",
    "debit card": "card",
    "gcash": "e_wallet",
    "maya": "e_wallet",
    "paymaya": "e_wallet",
    "paynow": "e_wallet",
    "e-wallet": "e_wallet",
    "ewallet": "e_wallet",
    "": "bank_transfer",
}


class AmbiguousDates(ValidationError):
    """The dates in a file read equally well in more than one format; the user must choose."""

    def __init__(self, formats: list[str], examples: list[str]) -> None:
        self.formats = formats
        super().__init__(
            f"The dates in this file (e.g. {', '.join(examples)}) fit both {' and '.join(formats)}. "
            "Choose the date format; Recoup never guesses between them."
        )


@dataclass(frozen=True)
class Parsed:
    values: pd.Series  # parsed values (missing where the cell was refused)
    reasons: pd.Series  # empty string where fine, else why the cell was refused


def _no_reasons(values: pd.Series) -> pd.Series:
    return pd.Series("", index=values.index, dtype=str)


def _why(reasons: pd.Series, mask: pd.Series, values: pd.Series | None, text: str | pd.Series) -> pd.Series:
    """Give the rows in mask a reason: "'<cell>' <text>" (or just text when values is None).
    Only those rows are formatted, since nearly every cell of a real file is fine."""
    mask = mask.fillna(False).astype(bool)
    if not mask.any():
        return reasons
    if values is None:
        why = text[mask] if isinstance(text, pd.Series) else text
    else:
        why = "'" + values[mask].astype(str) + "' " + (text[mask] if isinstance(text, pd.Series) else text)
    reasons = reasons.copy()
    reasons[mask] = why
    return reasons


def _date_parse(values: pd.Series, label: str) -> tuple[pd.Series, pd.Series]:
    """(parsed dates, shape_ok) for one format."""
    fmt, shape = DATE_FORMATS[label]
    shape_ok = values.str.fullmatch(shape).fillna(False).astype(bool)
    parsed = pd.to_datetime(values.where(shape_ok), format=fmt, errors="coerce")
    return parsed, shape_ok


def detect_date_format(values: pd.Series) -> str | None:
    """The one format every (or the most) non-empty date reads in; None when no date is given.

    When two formats read the same number of cells (e.g. 03/04/2024 as D/M/Y and M/D/Y),
    raise AmbiguousDates rather than pick one.
    """
    sample = values[values != ""].drop_duplicates().head(20_000)
    if sample.empty:
        return None
    fits = {label: int(_date_parse(sample, label)[0].notna().sum()) for label in DATE_FORMATS}
    best = max(fits.values())
    if best == 0:
        examples = ", ".join(repr(v) for v in sample.head(3))
        raise ValidationError(
            f"No date format reads the dates in this file (e.g. {examples}). Recoup reads {', '.join(DATE_FORMATS)}."
        )
    winners = [label for label, count in fits.items() if count == best]
    if len(winners) > 1:
        raise AmbiguousDates(winners, list(sample.head(3)))
    return winners[0]


def parse_dates(values: pd.Series, label: str) -> Parsed:
    """Dates in the chosen format, as datetime64 (NaT where missing or refused); empty cells get
    no reason (callers decide whether a date is required)."""
    parsed, shape_ok = _date_parse(values, label)
    reasons = _why(_no_reasons(values), ~shape_ok & (values != ""), values, f"is not a date in {label} form")
    reasons = _why(reasons, shape_ok & parsed.isna(), values, f"is not a real date ({label})")
    return Parsed(parsed, reasons)


@cache
def _amount_pattern(style: str) -> re.Pattern[str]:
    locale = AMOUNT_STYLES[style]
    group = get_group_symbol(locale)
    decimal = re.escape(get_decimal_symbol(locale))
    if group.isspace():
        group_class = "[\\s\u00a0\u202f]"  # real characters: RE2 (pyarrow) has no \\u escapes
    elif group in ("’", "'"):
        group_class = "['’]"
    else:
        group_class = re.escape(group)
    # [0-9], not \d: Python's \d also takes full-width and other scripts' digits, which PostgreSQL refuses.
    return re.compile(
        rf"(?P<sign>[-+]?)(?P<int>[0-9]{{1,3}}(?:{group_class}[0-9]{{3}})+|[0-9]+)(?:{decimal}(?P<frac>[0-9]*))?"
    )


def cell_style(amount_style: str, date_format: str | None) -> CellStyle:
    """How XLSX number and date cells should read for this mapping (see reading.CellStyle)."""
    decimal = get_decimal_symbol(AMOUNT_STYLES.get(amount_style, "en"))
    return CellStyle(decimal=decimal, date_format=DATE_FORMATS[date_format][0] if date_format else "%Y-%m-%d")


def parse_amounts(values: pd.Series, style: str, currencies: pd.Series) -> Parsed:
    """Amounts written in `style`, as plain decimal text ("1234.50"), more than zero, with no more
    decimals than each row's currency has."""
    if style not in AMOUNT_STYLES:
        raise ValidationError(f"{style!r} is not an amount style: use one of {', '.join(AMOUNT_STYLES)}.")
    decimal = re.escape(get_decimal_symbol(AMOUNT_STYLES[style]))
    text = values.str.strip()
    # Most cells are plain digits with an optional decimal part: split those without a regex
    # per cell, and give only the rest (groups, signs, symbols, brackets) the full treatment.
    plain = text.str.fullmatch(rf"[0-9]+(?:{decimal}[0-9]+)?").fillna(False).astype(bool)
    integer = text.str.replace(rf"{decimal}[0-9]*$", "", regex=True)
    fraction = text.str.replace(rf"^[0-9]+{decimal}?", "", regex=True).where(plain, "")
    negative = pd.Series(False, index=values.index)
    shape_ok = plain.copy()
    named = pd.Series(None, index=values.index, dtype=object)
    if not plain.all():
        rest = _amount_parts(text[~plain], style)
        integer = integer.where(plain, rest["int"])
        fraction = fraction.where(plain, rest["frac"])
        negative = negative.where(plain, rest["negative"]).astype(bool)
        shape_ok = shape_ok.where(plain, rest["ok"]).astype(bool)
        named = named.where(plain, rest["named"])
    integer = integer.fillna("").str.lstrip("0").replace("", "0")
    fraction = fraction.fillna("").str.rstrip("0")
    zero = (integer == "0") & (fraction == "")
    allowed = {code: _decimals_allowed(code) for code in currencies.dropna().unique()}
    decimals_allowed = currencies.map(allowed).fillna(4).astype(int)
    normalized = integer.where(fraction == "", integer + "." + fraction)

    reasons = _why(_no_reasons(values), ~shape_ok, values, f"is not an amount written like {style}")
    reasons = _why(reasons, shape_ok & (negative | zero), values, "must be more than zero")
    too_precise = shape_ok & ~negative & ~zero & (fraction.str.len() > decimals_allowed)
    reasons = _why(reasons, too_precise, values, "has more decimals than " + currencies + " allows")
    reasons = _why(reasons, shape_ok & (integer.str.len() > _MAX_INTEGER_DIGITS), values, "is too large")
    other = named.notna() & (named != currencies)
    reasons = _why(
        reasons, shape_ok & other, values, "is in " + named.fillna("") + ", but the row's currency is " + currencies
    )
    reasons = reasons.mask(text == "", "")  # callers decide whether an amount is required
    return Parsed(normalized.where(reasons == ""), reasons)


def _decimals_allowed(code: str) -> int:
    return minor_unit(code) if code in known_currencies() else 4


# Currency marks whose currency is certain ("$" and "¥" are not: USD or SGD, JPY or CNY).
_SYMBOL_CURRENCY = {"€": "EUR", "£": "GBP", "₱": "PHP", "S$": "SGD", "US$": "USD"}


def _amount_parts(text: pd.Series, style: str) -> pd.DataFrame:
    """Sign, digits and decimals of amounts with group separators, signs, brackets or symbols,
    and the currency the cell itself names, if it names one for certain."""
    affix = text.str.extract(rf"^(?P<lead>{_CURRENCY_AFFIX})\s*|\s*(?P<trail>{_CURRENCY_AFFIX})$")
    named = affix["lead"].fillna(affix["trail"]).astype(object)
    named = named.map(
        lambda mark: _SYMBOL_CURRENCY.get(mark, mark if isinstance(mark, str) and len(mark) == 3 else None)
    )
    text = text.str.replace(rf"^{_CURRENCY_AFFIX}\s*|\s*{_CURRENCY_AFFIX}$", "", regex=True)
    bracketed = text.str.fullmatch(r"\(.*\)").fillna(False).astype(bool)
    text = text.mask(bracketed, "-" + text.str.slice(1, -1))
    parts = text.astype(object).str.extract("^" + _amount_pattern(style).pattern + "$")
    return pd.DataFrame(
        {
            "int": parts["int"].str.replace(r"[^0-9]", "", regex=True),
            "frac": parts["frac"].fillna(""),
            "negative": parts["sign"].fillna("") == "-",
            "ok": parts["int"].notna(),
            "named": named,
        },
        index=text.index,
    )


def parse_currencies(values: pd.Series) -> Parsed:
    codes = values.str.strip().str.upper()
    known = codes.isin(known_currencies())
    reasons = _why(_no_reasons(values), ~known, values, "is not an ISO 4217 currency code (e.g. PHP, SGD, USD)")
    reasons = reasons.mask(codes == "", "the currency is empty")
    return Parsed(codes.where(known), reasons)


@cache
def _countries() -> frozenset[str]:
    return frozenset(str(code) for code in Locale("en").territories if str(code).isalpha() and len(str(code)) == 2)


def parse_countries(values: pd.Series) -> Parsed:
    codes = values.str.strip().str.upper()
    known = codes.isin(_countries()) | (codes == "")
    reasons = _why(_no_reasons(values), ~known, values, "is not a two-letter ISO country code (e.g. PH, SG, US)")
    return Parsed(codes.where(known & (codes != "")), reasons)


def parse_flags(values: pd.Series) -> Parsed:
    words = values.str.strip().str.lower()
    yes, no = words.isin(TRUE_WORDS), words.isin(FALSE_WORDS)
    reasons = _why(_no_reasons(values), ~yes & ~no, values, "is not yes or no")
    return Parsed(yes.where(yes | no), reasons)


def parse_methods(values: pd.Series) -> Parsed:
    words = values.str.strip().str.lower()
    methods = words.map(METHOD_WORDS)
    known = f"({', '.join(PAYMENT_METHODS)}, GCash, PayNow…)"
    reasons = _why(_no_reasons(values), methods.isna(), values, f"is not a payment method {known}")
    return Parsed(methods, reasons)


def text_too_long(values: pd.Series, limit: int) -> pd.Series:
    return _why(_no_reasons(values), values.str.len() > limit, None, f"is longer than {limit} characters")


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(values: pd.Series) -> pd.Series:
    """Text a spreadsheet would run as a formula. Kept as text; exports neutralise it."""
    return values.str.startswith(FORMULA_PREFIXES) & ~values.str.fullmatch(r"[-+]?\d[\d.,\s]*").fillna(False)
