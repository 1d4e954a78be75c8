"""Customer files: upsert by external ref. Only mapped columns change an existing customer, and
an empty cell never erases what Recoup knows; an email or phone creates or updates the
customer's first contact. The country chosen for the whole file applies to new customers only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.contactinfo import check_time_zone, default_time_zone, normalize_email, normalize_phone
from core.errors import ValidationError
from core.imports.fields import Mapping
from core.imports.parsing import parse_amounts, parse_countries, parse_currencies
from core.imports.rejects import ProblemLog
from core.imports.staging import Checks, refuse_duplicates, refuse_from_sql
from core.models import RISK_TIERS
from core.roles import Actor

STAGE = (
    ("external_ref", "text"),
    ("name", "text"),
    ("kind", "text"),
    ("country", "text"),  # the cell, empty when blank
    ("new_country", "text"),  # the cell, else the country chosen for new customers
    ("time_zone", "text"),  # the cell, else the new country's usual zone
    ("zone_given", "boolean"),
    ("language", "text"),
    ("segment", "text"),
    ("postal_code", "text"),
    ("risk_tier", "text"),
    ("credit_limit", "numeric(19,4)"),
    ("credit_currency", "text"),
    ("contact_name", "text"),
    ("email", "text"),
    ("phone", "text"),
)
# Mapped fields copied as they are onto an existing customer (when the cell is not empty).
_PLAIN_COLUMNS = ("name", "kind", "language", "segment", "postal_code", "risk_tier")
_KIND_WORDS = {
    "person": "person",
    "individual": "person",
    "consumer": "person",
    "private": "person",
    "company": "company",
    "business": "company",
    "corporate": "company",
    "sme": "company",
    "organisation": "company",
    "organization": "company",
}
# The customers a file touched, whose work-queue summaries the import then refreshes.
TOUCHED = "SELECT c.id FROM customers c JOIN import_stage s ON s.external_ref = c.external_ref"


def _per_value(values: pd.Series, parse: Callable[[str], str | None]) -> tuple[pd.Series, pd.Series]:
    """Run a one-value normaliser over the distinct values: (normalised, reasons)."""
    normal: dict[str, str | None] = {}
    why: dict[str, str] = {}
    for value in values.dropna().unique():
        if value == "":
            normal[value], why[value] = None, ""
            continue
        try:
            normal[value], why[value] = parse(value), ""
        except ValidationError as error:
            normal[value], why[value] = None, str(error)
    return values.map(normal), values.map(why).fillna("")


def _phone(keyed: str) -> str | None:
    raw, _, country = keyed.partition("\x1f")
    if not raw:
        return None
    if not country and not raw.startswith("+"):
        raise ValidationError(f"{raw!r} needs its country code (+63…), since the row gives no country.")
    return normalize_phone(raw, country or "ZZ")


def check_chunk(checks: Checks, date_format: str | None, today: date) -> pd.DataFrame:
    del date_format, today  # customer files carry no dates
    mapping = checks.mapping
    staged = pd.DataFrame({"row_no": checks.rows})
    for name, _ in STAGE:
        staged[name] = None
    staged["external_ref"] = checks.required("external_ref", "the customer ref")
    checks.text("external_ref", 100)
    staged["name"] = checks.required("name", "the name")
    checks.text("name", 300, formula_warning=True)
    for key, limit in (("segment", 100), ("contact_name", 300), ("language", 16), ("postal_code", 20)):
        cells = checks.text(key, limit, formula_warning=key == "contact_name")
        if cells is not None:
            staged[key] = cells.replace("", None)

    kinds = checks.cells("kind")
    if kinds is not None:
        staged["kind"] = kinds.str.lower().map(_KIND_WORDS)
        checks.refuse("kind", kinds.ne("") & staged["kind"].isna(), "'" + kinds + "' is not person or company", kinds)
    risks = checks.cells("risk_tier")
    if risks is not None:
        staged["risk_tier"] = risks.str.lower().replace("", None)
        unknown = risks.ne("") & ~risks.str.lower().isin(RISK_TIERS)
        checks.refuse("risk_tier", unknown, "'" + risks + "' is not a risk tier (" + ", ".join(RISK_TIERS) + ")", risks)

    country_cells = checks.cells("country")
    if country_cells is not None:
        countries = parse_countries(country_cells)
        checks.explain("country", countries.reasons, country_cells)
        staged["country"] = countries.values
    staged["new_country"] = staged["country"].fillna(mapping.country) if mapping.country else staged["country"]
    zones = checks.cells("time_zone")
    staged["zone_given"] = False
    if zones is not None:
        staged["time_zone"], reasons = _per_value(zones, check_time_zone)
        checks.explain("time_zone", reasons, zones)
        staged["zone_given"] = staged["time_zone"].notna()
    usual = staged["new_country"].map(lambda c: default_time_zone(c) if isinstance(c, str) else None)
    staged["time_zone"] = staged["time_zone"].where(staged["zone_given"], usual)

    limits = checks.cells("credit_limit")
    if limits is not None:
        given = limits != ""
        currency_cells = checks.cells("credit_currency")
        if currency_cells is not None:
            currencies = parse_currencies(currency_cells)
            checks.explain("credit_currency", currencies.reasons.where(given, ""), currency_cells)
            staged["credit_currency"] = currencies.values
        else:
            staged["credit_currency"] = mapping.currency
        checks.refuse(
            "credit_limit",
            given & staged["credit_currency"].isna(),
            "a credit limit needs its currency: map a currency column or choose one for the whole file",
            limits,
        )
        amounts = parse_amounts(limits, mapping.amount_style, staged["credit_currency"].fillna(""))
        checks.explain("credit_limit", amounts.reasons.where(given, ""), limits)
        staged["credit_limit"] = amounts.values.where(given)
        staged["credit_currency"] = staged["credit_currency"].where(given)

    emails = checks.cells("email")
    if emails is not None:
        staged["email"], reasons = _per_value(emails, normalize_email)
        checks.explain("email", reasons, emails)
    phones = checks.cells("phone")
    if phones is not None:
        staged["phone"], reasons = _per_value(phones + "\x1f" + staged["new_country"].fillna(""), _phone)
        checks.explain("phone", reasons, phones)
    return staged


def _assignments(mapping: Mapping) -> tuple[list[str], list[str]]:
    """SET clauses and "differs" tests for the mapped fields. Every name comes from the fixed
    lists above, never from the file, so composing the statement from them is safe."""
    columns = mapping.columns
    sets: list[str] = []
    differs: list[str] = []
    for column in _PLAIN_COLUMNS:
        if column in columns:
            sets.append(f"{column} = coalesce(s.{column}, c.{column})")
            differs.append(f"(s.{column} IS NOT NULL AND s.{column} IS DISTINCT FROM c.{column})")
    moved = "(s.country IS NOT NULL AND s.country <> c.country)"
    if "country" in columns:
        sets.append("country = coalesce(s.country, c.country)")
        differs.append(moved)
    if "country" in columns or "time_zone" in columns:
        # A customer keeps their zone unless the file gives one, or moves them to another country.
        sets.append(f"time_zone = CASE WHEN s.zone_given OR {moved} THEN s.time_zone ELSE c.time_zone END")
        differs.append("(s.zone_given AND s.time_zone <> c.time_zone)")
    if "credit_limit" in columns:
        sets.append("credit_limit = coalesce(s.credit_limit, c.credit_limit)")
        sets.append(
            "credit_currency = CASE WHEN s.credit_limit IS NULL THEN c.credit_currency ELSE s.credit_currency END"
        )
        differs.append(
            "(s.credit_limit IS NOT NULL AND (s.credit_limit, s.credit_currency) "
            "IS DISTINCT FROM (c.credit_limit, c.credit_currency))"
        )
    return sets, differs


def apply(session: Session, actor: Actor, mapping: Mapping, rejects: ProblemLog, *, file_name: str) -> dict[str, int]:
    del actor, file_name
    column = mapping.columns["external_ref"]
    refuse_duplicates(
        session,
        rejects,
        keys=("external_ref",),
        column=column,
        named="'customer ' || s.external_ref",
        once="a customer may appear once",
    )
    refuse_from_sql(
        session,
        rejects,
        """
        DELETE FROM import_stage s
        WHERE (s.new_country IS NULL OR s.time_zone IS NULL)
          AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.external_ref = s.external_ref)
        RETURNING s.row_no, :column, s.external_ref,
            CASE WHEN s.new_country IS NULL
                THEN 'customer ' || s.external_ref || ' is new and the file gives no country: '
                     || 'map a country column or choose a country for new customers'
                ELSE 'customer ' || s.external_ref || ' is new and ' || s.new_country
                     || ' has no usual time zone: map a time zone column' END
        """,
        column=column,
    )
    sets, differs = _assignments(mapping)
    updated: set[int] = set()
    if sets:
        updated = set(
            session.scalars(
                text(
                    f"""UPDATE customers c SET {", ".join(sets)}, version = c.version + 1, updated_at = now()
                        FROM import_stage s WHERE c.external_ref = s.external_ref AND ({" OR ".join(differs)})
                        RETURNING c.id"""
                )
            )
        )
    created = set(
        session.scalars(
            text(
                """
                INSERT INTO customers (external_ref, kind, name, country, time_zone, language, segment, postal_code,
                                       risk_tier, credit_limit, credit_currency)
                SELECT external_ref, coalesce(kind, 'company'), name, new_country, time_zone,
                       coalesce(language, 'en'), segment, postal_code, coalesce(risk_tier, 'medium'), credit_limit,
                       credit_currency
                FROM import_stage s
                WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.external_ref = s.external_ref)
                RETURNING id
                """
            )
        )
    )
    contacts_new, contacts_touched = _contacts(session, mapping)
    staged = session.scalar(text("SELECT count(*) FROM import_stage")) or 0
    changed = len((updated | contacts_touched) - created)
    return {
        "new": len(created),
        "updated": changed,
        "unchanged": staged - len(created) - changed,
        "contacts_created": contacts_new,
    }


def _contacts(session: Session, mapping: Mapping) -> tuple[int, set[int]]:
    """The first contact of each customer carries the file's email and phone.
    Returns how many contacts were created, and the customers whose contacts changed."""
    if "email" not in mapping.columns and "phone" not in mapping.columns:
        return 0, set()
    created = list(
        session.scalars(
            text(
                """
                INSERT INTO contacts (customer_id, name, role, email, phone)
                SELECT c.id, coalesce(s.contact_name, c.name), 'debtor', s.email, s.phone
                FROM import_stage s JOIN customers c ON c.external_ref = s.external_ref
                WHERE (s.email IS NOT NULL OR s.phone IS NOT NULL)
                  AND NOT EXISTS (SELECT 1 FROM contacts k WHERE k.customer_id = c.id)
                RETURNING customer_id
                """
            )
        )
    )
    columns = [c for c in ("email", "phone") if c in mapping.columns]
    sets = ", ".join(f"{c} = coalesce(s.{c}, k.{c})" for c in columns)
    differs = " OR ".join(f"(s.{c} IS NOT NULL AND s.{c} IS DISTINCT FROM k.{c})" for c in columns)
    changed = session.scalars(
        text(
            f"""
            UPDATE contacts k SET {sets}, updated_at = now()
            FROM import_stage s JOIN customers c ON c.external_ref = s.external_ref
            WHERE k.id = (SELECT min(id) FROM contacts WHERE customer_id = c.id)
              AND k.customer_id = c.id AND k.customer_id <> ALL(:created) AND ({differs})
            RETURNING k.customer_id
            """
        ),
        {"created": created},
    ).all()
    return len(created), set(created) | set(changed)
