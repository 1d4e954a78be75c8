"""Payment files (bank statements, accounting exports): new payments are recorded once per
(source, reference) and matched to invoices by core.services.matching."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.imports.fields import Mapping
from core.imports.parsing import parse_dates, parse_methods
from core.imports.rejects import ProblemLog
from core.imports.staging import Checks, refuse_duplicates, refuse_from_sql, rowcount
from core.models import Payment
from core.roles import Actor

STAGE = (
    ("reference", "text"),
    ("received_on", "date"),
    ("amount", "numeric(19,4)"),
    ("currency", "text"),
    ("customer_ref", "text"),
    ("invoice_hint", "text"),
    ("method", "text"),
)
# The customers a file touched, whose work-queue summaries the import then refreshes.
TOUCHED = (
    "SELECT DISTINCT p.customer_id FROM payments p JOIN import_stage s ON p.reference = s.reference"
    " WHERE p.source = :source AND p.customer_id IS NOT NULL"
)


def check_chunk(checks: Checks, date_format: str | None, today: date) -> pd.DataFrame:
    staged = pd.DataFrame({"row_no": checks.rows})
    staged["reference"] = checks.required("reference", "the payment reference")
    checks.text("reference", 200)
    staged["customer_ref"] = checks.text("customer_ref", 100)
    staged["invoice_hint"] = checks.text("invoice_number", 100)
    received = checks.required("received_on", "the date received")
    staged["received_on"] = pd.Series(pd.NaT, index=staged.index, dtype="datetime64[ns]")
    if date_format:
        dates = parse_dates(received, date_format)
        checks.explain("received_on", dates.reasons, received)
        staged["received_on"] = dates.values
        future = dates.values > pd.Timestamp(today)
        checks.refuse("received_on", future, "a payment cannot be received in the future", received)
    staged["currency"] = checks.currencies()
    staged["amount"] = checks.amounts(staged["currency"])
    method_cells = checks.cells("method")
    if method_cells is None:
        staged["method"] = "bank_transfer"
    else:
        methods = parse_methods(method_cells)
        checks.explain("method", methods.reasons, method_cells)
        staged["method"] = methods.values
    return staged


def apply(session: Session, actor: Actor, mapping: Mapping, rejects: ProblemLog, *, file_name: str) -> dict[str, int]:
    from core.services.matching import match_automatically

    del actor, file_name
    column = mapping.columns["reference"]
    refuse_duplicates(
        session,
        rejects,
        keys=("reference",),
        column=column,
        named="'reference ' || s.reference",
        once="a payment is recorded once",
    )
    refuse_from_sql(
        session,
        rejects,
        """
        DELETE FROM import_stage s USING payments p
        WHERE p.source = :source AND p.reference = s.reference
          AND (p.amount, p.currency, p.received_on) IS DISTINCT FROM (s.amount, s.currency, s.received_on)
        RETURNING s.row_no, :column, s.reference,
            'reference ' || s.reference || ' is already recorded (payment ' || p.id || ': ' || p.currency || ' '
            || p.amount::numeric(19,2) || ' received ' || p.received_on || ') with a different amount or date'
        """,
        column=column,
        source=mapping.source,
    )
    unchanged = rowcount(
        session.execute(
            text(
                """DELETE FROM import_stage s USING payments p
               WHERE p.source = :source AND p.reference = s.reference"""
            ),
            {"source": mapping.source},
        )
    )
    unknown = (
        session.scalar(
            text(
                """SELECT count(*) FROM import_stage s WHERE s.customer_ref IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.external_ref = s.customer_ref)"""
            )
        )
        or 0
    )
    created = session.execute(
        text(
            """
            INSERT INTO payments (customer_id, source, reference, received_on, currency, amount, method, payer_ref)
            SELECT c.id, :source, s.reference, s.received_on, s.currency, s.amount, s.method,
                   CASE WHEN c.id IS NULL THEN s.customer_ref END
            FROM import_stage s LEFT JOIN customers c ON c.external_ref = s.customer_ref
            ORDER BY s.row_no
            RETURNING id, reference
            """
        ),
        {"source": mapping.source},
    ).all()
    hints = {ref: hint for ref, hint in session.execute(text("SELECT reference, invoice_hint FROM import_stage"))}
    rules: Counter[str] = Counter()
    for payment_id, reference in created:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        rule = match_automatically(session, payment, invoice_hint=hints.get(reference))
        rules[rule or ("credit" if payment.customer_id else "unapplied")] += 1
    session.flush()
    return {
        "new": len(created),
        "updated": 0,
        "unchanged": unchanged,
        "matched_by_invoice_number": rules["invoice_number"],
        "matched_by_exact_amount": rules["exact_amount"],
        "matched_oldest_first": rules["oldest_first"],
        "left_as_credit": rules["credit"],
        "unapplied": rules["unapplied"],
        "unknown_customer_refs": unknown,
    }
