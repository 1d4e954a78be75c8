"""Customer files: upsert by external ref. Only mapped columns change an existing customer;
an email or phone creates the customer's first contact or updates it."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.contactinfo import check_time_zone, default_time_zone, normalize_email, normalize_phone
from core.errors import ValidationError
from core.imports.fields import Mapping
from core.imports.parsing import parse_amounts, parse_countries, parse_currencies
from core.imports.rejects import ProblemLog
from core.imports.staging import Checks, rowcount
from core.models import RISK_TIERS
from core.roles import Actor

STAGE = (
    ("external_ref", "text"),
    ("name", "text"),
    ("kind", "text"),
    ("country", "text"),
    ("time_zone", "text"),
    ("language", "text"),
    ("segment", "text"),
    ("risk_tier", "text"),
    ("credit_limit", "numeric(19,4)"),
    ("credit_currency", "text"),
    ("contact_name", "text"),
    ("email", "text"),
    ("phone", "text"),
)
# Customer columns an import may set; only the mapped ones are written to existing customers.
_CUSTOMER_COLUMNS = (
    "name",
    "kind",
    "country",
    "time_zone",
    "language",
    "segment",
    "risk_tier",
    "credit_limit",
    "credit_currency",
)
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
    "": "company",
}


def _per_value(values: pd.Series, parse: object) -> tuple[pd.Series, pd.Series]:
    """Run a one-value normaliser over the distinct values: (normalised, reasons)."""
    normal: dict[str, str | None] = {}
    why: dict[str, str] = {}
    for value in values.dropna().unique():
        if value == "":
            normal[value], why[value] = None, ""
            continue
        try:
            normal[value], why[value] = parse(value), ""  # type: ignore[operator]
        except ValidationError as error:
            normal[value], why[value] = None, str(error)
    return values.map(normal), values.map(why).fillna("")


def check_chunk(checks: Checks, date_format: str | None, today: date) -> pd.DataFrame:
    del date_format, today  # customer files carry no dates
    mapping = checks.mapping
    staged = pd.DataFrame({"row_no": checks.rows})
    staged["external_ref"] = checks.required("external_ref", "the customer ref")
    checks.text("external_ref", 100)
    staged["name"] = checks.required("name", "the name")
    checks.text("name", 300, formula_warning=True)
    staged["segment"] = checks.text("segment", 100)
    staged["contact_name"] = checks.text("contact_name", 300, formula_warning=True)

    kinds = checks.cells("kind")
    if kinds is not None:
        staged["kind"] = kinds.str.lower().map(_KIND_WORDS)
        checks.refuse("kind", staged["kind"].isna(), "'" + kinds + "' is not person or company", kinds)
    risks = checks.cells("risk_tier")
    if risks is not None:
        staged["risk_tier"] = risks.str.lower().replace("", None)
        checks.refuse(
            "risk_tier",
            risks.ne("") & ~risks.str.lower().isin(RISK_TIERS),
            "'" + risks + "' is not a risk tier (" + ", ".join(RISK_TIERS) + ")",
            risks,
        )
    language = checks.text("language", 16)
    staged["language"] = language.replace("", None) if language is not None else None

    country_cells = checks.cells("country")
    if country_cells is None:
        staged["country"] = mapping.country
    else:
        countries = parse_countries(country_cells)
        checks.explain("country", countries.reasons, country_cells)
        staged["country"] = countries.values.fillna(mapping.country) if mapping.country else countries.values
        checks.refuse("country", staged["country"].isna() & (countries.reasons == ""), "the country is empty")
    zones = checks.cells("time_zone")
    if zones is not None:
        staged["time_zone"], reasons = _per_value(zones, check_time_zone)
        checks.explain("time_zone", reasons, zones)
    missing_zone = staged["time_zone"].isna() if "time_zone" in staged else pd.Series(True, index=staged.index)
    defaults = staged["country"].map(lambda c: default_time_zone(c) if isinstance(c, str) else None)
    staged["time_zone"] = staged.get("time_zone", pd.Series(None, index=staged.index)).where(~missing_zone, defaults)

    limits = checks.cells("credit_limit")
    if limits is not None:
        currency_cells = checks.cells("credit_currency")
        if currency_cells is not None:
            currencies = parse_currencies(currency_cells)
            checks.explain("credit_currency", currencies.reasons.where(limits != "", ""), currency_cells)
            staged["credit_currency"] = currencies.values
        else:
            staged["credit_currency"] = mapping.currency
        amounts = parse_amounts(limits, mapping.amount_style, staged["credit_currency"].fillna(""))
        checks.explain("credit_limit", amounts.reasons.where(limits != "", ""), limits)
        staged["credit_limit"] = amounts.values.where(limits != "")
        staged["credit_currency"] = staged["credit_currency"].where(limits != "")

    emails = checks.cells("email")
    if emails is not None:
        staged["email"], reasons = _per_value(emails, normalize_email)
        checks.explain("email", reasons, emails)
    phones = checks.cells("phone")
    if phones is not None:
        keyed = phones + "\x1f" + staged["country"].fillna("")
        staged["phone"], reasons = _per_value(
            keyed, lambda v: normalize_phone(*v.split("\x1f")) if v.split("\x1f")[0] else None
        )
        checks.explain("phone", reasons, phones)
    for name, _ in STAGE:
        if name not in staged:
            staged[name] = None
    return staged


def apply(session: Session, actor: Actor, mapping: Mapping, rejects: ProblemLog, *, file_name: str) -> dict[str, int]:
    del actor, file_name
    from core.imports.staging import refuse_from_sql

    refuse_from_sql(
        session,
        rejects,
        """
        WITH dup AS (SELECT external_ref, string_agg(row_no::text, ', ' ORDER BY row_no) AS rows_list
                     FROM import_stage GROUP BY external_ref HAVING count(*) > 1)
        DELETE FROM import_stage s USING dup WHERE s.external_ref = dup.external_ref
        RETURNING s.row_no, :column, s.external_ref,
            'customer ' || s.external_ref || ' is on rows ' || dup.rows_list || ' of this file; '
            || 'a customer may appear once'
        """,
        column=mapping.columns["external_ref"],
    )
    mapped = [
        c
        for c in _CUSTOMER_COLUMNS
        if c in mapping.columns or (c == "credit_currency" and "credit_limit" in mapping.columns)
    ]
    if "country" not in mapped and mapping.country:
        mapped.append("country")
    if "country" in mapped and "time_zone" not in mapped:
        mapped.append("time_zone")
    changes = ", ".join(f"{c} = s.{c}" for c in mapped)
    differs = " OR ".join(f"c.{c} IS DISTINCT FROM s.{c}" for c in mapped) or "false"
    updated = (
        session.execute(
            text(
                f"""UPDATE customers c SET {changes}, version = c.version + 1, updated_at = now()
                FROM import_stage s WHERE c.external_ref = s.external_ref AND ({differs})
                RETURNING c.id"""
            )
            if mapped
            else text("SELECT NULL WHERE false")
        )
        .scalars()
        .all()
    )
    new = rowcount(
        session.execute(
            text(
                """
            INSERT INTO customers (external_ref, kind, name, country, time_zone, language, segment, risk_tier,
                                   credit_limit, credit_currency)
            SELECT external_ref, coalesce(kind, 'company'), name, country, time_zone, coalesce(language, 'en'),
                   segment, coalesce(risk_tier, 'medium'), credit_limit, credit_currency
            FROM import_stage s WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.external_ref = s.external_ref)
            """
            )
        )
    )
    contacts_new, contacts_changed = _contacts(session, mapping)
    staged = session.scalar(text("SELECT count(*) FROM import_stage")) or 0
    changed = len(set(updated) | set(contacts_changed))
    return {
        "new": new,
        "updated": changed,
        "unchanged": staged - new - changed,
        "contacts_created": contacts_new,
    }


def _contacts(session: Session, mapping: Mapping) -> tuple[int, list[int]]:
    """The first contact of each customer carries the file's email and phone."""
    if "email" not in mapping.columns and "phone" not in mapping.columns:
        return 0, []
    created = (
        session.execute(
            text(
                """
            INSERT INTO contacts (customer_id, name, role, email, phone)
            SELECT c.id, coalesce(nullif(s.contact_name, ''), c.name), 'debtor', s.email, s.phone
            FROM import_stage s JOIN customers c ON c.external_ref = s.external_ref
            WHERE (s.email IS NOT NULL OR s.phone IS NOT NULL)
              AND NOT EXISTS (SELECT 1 FROM contacts k WHERE k.customer_id = c.id)
            RETURNING customer_id
            """
            )
        )
        .scalars()
        .all()
    )
    columns = [c for c in ("email", "phone") if c in mapping.columns]
    sets = ", ".join(f"{c} = coalesce(s.{c}, k.{c})" for c in columns)
    differs = " OR ".join(f"(s.{c} IS NOT NULL AND s.{c} IS DISTINCT FROM k.{c})" for c in columns)
    changed = (
        session.execute(
            text(
                f"""
            UPDATE contacts k SET {sets}, updated_at = now()
            FROM import_stage s JOIN customers c ON c.external_ref = s.external_ref
            WHERE k.id = (SELECT min(id) FROM contacts WHERE customer_id = c.id)
              AND k.customer_id = c.id AND k.customer_id <> ALL(:created) AND ({differs})
            RETURNING k.customer_id
            """
            ),
            {"created": list(created)},
        )
        .scalars()
        .all()
    )
    return len(created), list(changed)
