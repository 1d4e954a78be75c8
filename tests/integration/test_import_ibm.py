"""IBM's public accounts-receivable sample imports with the shipped profile, exactly, and once."""

from __future__ import annotations

import csv
import hashlib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.models import Activity, Allocation, AuditEntry, Customer, Invoice, Payment
from core.services import imports, ledger, mappings
from tests.factories import SYSTEM

IBM = Path(__file__).resolve().parents[3] / "shared" / "data" / "ibm_accounts_receivable.csv"


@pytest.fixture
def ibm_mapping(session):
    return mappings.get_profile(session, "IBM accounts receivable").mapping.with_options(currency="USD")


def _book(session) -> dict[str, object]:  # the whole database: a re-import must change nothing anywhere
    return {
        "customers": session.scalar(select(func.count(Customer.id))),
        "invoices": session.scalar(select(func.count(Invoice.id))),
        "invoice versions": session.scalar(select(func.sum(Invoice.version))),
        "payments": session.scalar(select(func.count(Payment.id))),
        "allocations": session.scalar(select(func.count(Allocation.id))),
        "activities": session.scalar(select(func.count(Activity.id))),
    }


def test_the_ibm_sample_imports_and_every_invoice_settles_in_the_files_days(session, ibm_mapping):
    result = imports.import_file(session, SYSTEM, IBM, mapping=ibm_mapping)

    assert (result.rows, result.new, result.rejected, result.written) == (2466, 2466, 0, True)
    assert result.details["customers_created"] == 100
    assert result.details["payments_recorded"] == 2466
    with IBM.open(newline="") as handle:
        expected = {(r["customerID"], r["invoiceNumber"]): r for r in csv.DictReader(handle)}
    assert result.details["disputes_opened"] == sum(r["Disputed"] == "Yes" for r in expected.values())

    ibm = set(session.scalars(select(Invoice.id).where(Invoice.source == "ibm-sample")))
    settled = {(s.customer_ref, s.number): s for s in ledger.settled_invoices(session) if s.invoice_id in ibm}
    assert settled.keys() == expected.keys()
    for key, row in expected.items():
        assert (settled[key].days_to_settle, settled[key].days_late) == (
            int(row["DaysToSettle"]),
            int(row["DaysLate"]),
        ), key

    disputed = set(session.scalars(select(Invoice.number).where(Invoice.disputed, Invoice.source == "ibm-sample")))
    assert disputed == {number for (_, number), r in expected.items() if r["Disputed"] == "Yes"}
    statuses = select(Invoice.status, Invoice.currency).where(Invoice.source == "ibm-sample").distinct()
    assert session.execute(statuses).all() == [("paid", "USD")]


def test_importing_the_ibm_sample_again_changes_nothing(session, ibm_mapping):
    imports.import_file(session, SYSTEM, IBM, mapping=ibm_mapping)
    before = _book(session)

    again = imports.import_file(session, SYSTEM, IBM, mapping=ibm_mapping)

    assert (again.new, again.updated, again.unchanged, again.rejected) == (0, 0, 2466, 0)
    assert again.details == {"customers_created": 0, "disputes_opened": 0, "payments_recorded": 0, "assigned": 0}
    assert _book(session) == before


def test_an_import_is_one_audit_record_with_who_file_hash_and_counts(session, ibm_mapping):
    result = imports.import_file(session, SYSTEM, IBM, mapping=ibm_mapping)

    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "import.invoices", AuditEntry.entity_id == result.sha256)
    ).all()
    assert len(entries) == 1
    after = entries[0].after
    assert entries[0].actor == SYSTEM.username
    assert after["file"] == "ibm_accounts_receivable.csv"
    assert after["sha256"] == hashlib.sha256(IBM.read_bytes()).hexdigest() == result.sha256
    assert (after["rows"], after["new"], after["rejected"]) == (2466, 2466, 0)


def test_a_dry_run_counts_exactly_and_writes_nothing(session, ibm_mapping):
    audits = select(func.count(AuditEntry.id)).where(AuditEntry.action.like("import.%"))
    before = (_book(session), session.scalar(audits))

    result = imports.import_file(session, SYSTEM, IBM, mapping=ibm_mapping, dry_run=True)

    assert (result.new, result.written, result.details["payments_recorded"]) == (2466, False, 2466)
    assert (_book(session), session.scalar(audits)) == before


def test_ibm_customers_take_the_chosen_country_its_time_zone_and_the_country_code_as_segment(session, ibm_mapping):
    imports.import_file(session, SYSTEM, IBM, mapping=ibm_mapping.with_options(country="PH"))

    customer = session.scalar(select(Customer).where(Customer.external_ref == "0379-NEVHP"))
    assert (customer.country, customer.time_zone, customer.segment, customer.name) == (
        "PH",
        "Asia/Manila",
        "391",
        "0379-NEVHP",
    )
    first = session.scalar(select(Invoice).where(Invoice.number == "0000611365"))
    assert (first.issue_date, first.due_date, str(first.amount)) == (date(2013, 1, 2), date(2013, 2, 1), "55.9400")
