"""What each kind of import reads: Recoup's fields, how headers are guessed, and the mapping."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from core.errors import ValidationError
from core.imports.parsing import AMOUNT_STYLES, DATE_FORMATS
from core.money import check_currency


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    whole_file: str | None = None  # the option that may stand in for the column (currency, country)


FIELDS: dict[str, tuple[Field, ...]] = {
    "customers": (
        Field("external_ref", "Customer ref", True, ("ref", "customer id", "customer no", "account", "code")),
        Field("name", "Name", True, ("customer name", "company", "debtor", "full name")),
        Field("kind", "Person or company", aliases=("type", "customer type")),
        Field("country", "Country (needed for new customers)", aliases=("country code",), whole_file="country"),
        Field("time_zone", "Time zone", aliases=("timezone", "tz")),
        Field("language", "Language", aliases=("lang", "locale")),
        Field("segment", "Segment", aliases=("group", "category", "class")),
        Field("postal_code", "Postal code", aliases=("zip", "zip code", "postcode", "post code", "zipcode")),
        Field("risk_tier", "Risk tier", aliases=("risk",)),
        Field("credit_limit", "Credit limit", aliases=("limit",)),
        Field("credit_currency", "Credit limit currency", aliases=("currency",)),
        Field("contact_name", "Contact name", aliases=("contact", "attention")),
        Field("email", "Email", aliases=("email address", "e-mail")),
        Field("phone", "Phone", aliases=("mobile", "phone number", "telephone", "tel")),
    ),
    "invoices": (
        Field("customer_ref", "Customer ref", True, ("customer id", "customer", "account", "customer no")),
        Field("invoice_number", "Invoice number", True, ("invoice no", "invoice", "number", "document no", "doc no")),
        Field("issue_date", "Issue date", True, ("invoice date", "date", "document date")),
        Field("due_date", "Due date", True, ("due", "payment due")),
        Field("amount", "Amount", True, ("invoice amount", "total", "amount due", "gross amount")),
        Field("currency", "Currency", True, ("ccy", "currency code"), whole_file="currency"),
        Field("customer_name", "Customer name", aliases=("name", "debtor", "company")),
        Field("country", "Country (new customers)", aliases=("country code",), whole_file="country"),
        Field("segment", "Segment (new customers)", aliases=("group", "category")),
        Field("disputed", "Disputed", aliases=("dispute", "in dispute")),
        Field("settled_date", "Settled date (paid in full on)", aliases=("settled", "paid date", "date paid")),
    ),
    "payments": (
        Field("reference", "Payment reference", True, ("reference", "ref", "transaction id", "description")),
        Field("received_on", "Received on", True, ("date", "value date", "payment date", "posting date")),
        Field("amount", "Amount", True, ("credit", "amount received", "paid")),
        Field("currency", "Currency", True, ("ccy",), whole_file="currency"),
        Field("customer_ref", "Customer ref", aliases=("customer id", "customer", "account")),
        Field("invoice_number", "Invoice number", aliases=("invoice no", "invoice")),
        Field("method", "Method", aliases=("payment method", "channel", "type")),
    ),
}

DATE_FIELDS = ("issue_date", "due_date", "settled_date", "received_on")


def fields_for(kind: str) -> tuple[Field, ...]:
    if kind not in FIELDS:
        raise ValidationError(f"{kind!r} is not something Recoup imports: choose {', '.join(FIELDS)}.")
    return FIELDS[kind]


@dataclass(frozen=True)
class Mapping:
    """Which header feeds which field, and how the file writes its dates and amounts."""

    kind: str
    columns: dict[str, str] = field(default_factory=dict)  # field key -> header in the file
    date_format: str | None = None  # None: detect, and ask when ambiguous
    amount_style: str = "1,234.56"
    currency: str | None = None  # for every row, when the file has no currency column
    country: str | None = None  # for new customers, when the file has no country column
    source: str = "import"  # names where invoices and payments came from; payments dedupe per source
    name: str | None = None  # the saved profile this came from

    def options(self) -> dict[str, Any]:
        return {
            "date_format": self.date_format,
            "amount_style": self.amount_style,
            "currency": self.currency,
            "country": self.country,
            "source": self.source,
        }

    @classmethod
    def from_saved(cls, name: str, kind: str, columns: dict[str, str], options: dict[str, Any]) -> Mapping:
        known = {"date_format", "amount_style", "currency", "country", "source"}
        return cls(kind=kind, columns=dict(columns), name=name, **{k: v for k, v in options.items() if k in known})

    def with_options(self, **changes: Any) -> Mapping:
        """Options given at import time win over the profile's; None leaves the profile's."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def guess_columns(kind: str, headers: list[str]) -> dict[str, str]:
    """Map each field to the header whose name matches its key, label or a common alias."""
    by_norm = {_norm(header): header for header in reversed(headers) if header}
    guessed: dict[str, str] = {}
    taken: set[str] = set()
    for spec in fields_for(kind):
        for name in (spec.key, spec.label, *spec.aliases):
            header = by_norm.get(_norm(name))
            if header is not None and header not in taken:
                guessed[spec.key] = header
                taken.add(header)
                break
    return guessed


def check_mapping(mapping: Mapping, headers: list[str]) -> None:
    """Refuse a mapping that lacks a required field or points at a header the file does not have."""
    problems: list[str] = []
    specs = {spec.key: spec for spec in fields_for(mapping.kind)}
    for key, header in mapping.columns.items():
        if key not in specs:
            problems.append(f"{key!r} is not a field of a {mapping.kind} import")
        elif header not in headers:
            problems.append(f"{specs[key].label} is mapped to column {header!r}, which the file does not have")
    for spec in specs.values():
        if not spec.required or spec.key in mapping.columns:
            continue
        if spec.whole_file and getattr(mapping, spec.whole_file):
            continue
        hint = f" or choose one {spec.whole_file} for the whole file" if spec.whole_file else ""
        problems.append(f"missing required column: {spec.label} (map one of the file's columns{hint})")
    if mapping.date_format is not None and mapping.date_format not in DATE_FORMATS:
        problems.append(f"{mapping.date_format!r} is not a date format; use one of {', '.join(DATE_FORMATS)}")
    if mapping.amount_style not in AMOUNT_STYLES:
        problems.append(f"{mapping.amount_style!r} is not an amount style; use one of {', '.join(AMOUNT_STYLES)}")
    if mapping.currency is not None:
        check_currency(mapping.currency)
    if problems:
        columns = ", ".join(repr(h) for h in headers)
        raise ValidationError(
            "This file cannot be imported as it is mapped: " + "; ".join(problems) + f". The file's columns: {columns}."
        )
