"""The reports against real data: IBM's accounts-receivable sample imported with the shipped
profile. The late-payers report must give, for all 100 customers, the share of late invoices and
the average days late that the file's own DaysLate column gives; aging as of 2013-06-30 must match
a computation straight from the file's dates and amounts (settled after that day: still open)."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from core.aging import BUCKETS, aging_bucket
from core.services import imports, mappings, reports
from core.services.reports import ReportFilter
from tests.factories import SYSTEM

IBM = Path(__file__).resolve().parents[3] / "shared" / "data" / "ibm_accounts_receivable.csv"
AS_OF = date(2013, 6, 30)


def _day(text: str) -> date:
    return datetime.strptime(text, "%m/%d/%Y").date()


@pytest.fixture
def ibm(session) -> list[dict[str, str]]:
    mapping = mappings.get_profile(session, "IBM accounts receivable").mapping.with_options(currency="USD")
    imports.import_file(session, SYSTEM, IBM, mapping=mapping)
    with IBM.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_late_payers_match_the_files_days_late_for_every_customer(session, ibm):
    late = defaultdict(list)
    for row in ibm:
        late[row["customerID"]].append(int(row["DaysLate"]))
    everything = ReportFilter(as_of=date(2014, 12, 31), start=date(2010, 1, 1), end=date(2014, 12, 31), currency="USD")

    frame = reports.late_payers(session, SYSTEM, everything)

    found = {r.customer_ref: r for r in frame.itertuples() if r.customer_ref in late}
    assert found.keys() == late.keys() and len(found) == 100
    for ref, days in late.items():
        row = found[ref]
        assert row.invoices_paid == len(days), ref
        assert row.paid_late == sum(d > 0 for d in days), ref
        assert row.late_share == (Decimal(sum(d > 0 for d in days)) / len(days)).quantize(Decimal("0.0001")), ref
        assert row.average_days_late == (Decimal(sum(days)) / len(days)).quantize(Decimal("0.01")), ref
        assert row.most_days_late == max(days), ref


@pytest.mark.parametrize("as_of", [AS_OF, date(2012, 9, 30), date(2013, 12, 31)], ids=str)
def test_aging_as_of_a_date_matches_the_file(session, ibm, as_of):
    expected: dict[str, Decimal] = {bucket: Decimal(0) for bucket in BUCKETS}
    for row in ibm:
        issued, due, settled = _day(row["InvoiceDate"]), _day(row["DueDate"]), _day(row["SettledDate"])
        if issued <= as_of < settled:  # a payment counts only once received: settled later, still open
            expected[aging_bucket((as_of - due).days)] += Decimal(row["InvoiceAmount"])
    refs = {row["customerID"] for row in ibm}

    frame = reports.aging(
        session, SYSTEM, ReportFilter(as_of=as_of, start=as_of, end=as_of, currency="USD"), group_by="customer"
    )

    ibm_rows = frame[frame["group_key"].isin(_ids(session, refs))]
    got = {bucket: Decimal(ibm_rows[bucket].sum()) for bucket in BUCKETS}
    assert got == expected
    assert expected["current"] > 0 and expected["1-30"] > 0  # both sides of the due date are exercised


def _ids(session, refs: set[str]) -> set[str]:
    from sqlalchemy import select

    from core.models import Customer

    return {str(i) for i in session.scalars(select(Customer.id).where(Customer.external_ref.in_(refs)))}


def test_every_report_renders_with_charts_for_the_ibm_sample(session, ibm):
    """The Reports page in AppTest, on the same rolled-back connection as the imported sample."""
    from core.roles import Role
    from tests.factories import PASSWORD, make_user
    from tests.ui.helpers import signed_in, tables_with, texts

    manager = make_user(session, Role.MANAGER, password=PASSWORD)
    session.flush()
    at = signed_in(manager.username, "reports")
    at.date_input(key="reports_period").set_value((date(2012, 7, 1), date(2013, 12, 31)))
    at.date_input(key="reports_as_of").set_value(AS_OF)
    at.selectbox(key="reports_currency").set_value("USD")
    at = at.run()

    assert not at.exception, at.exception
    assert not at.error
    assert texts(at.title) == ["Reports"]
    monthly = tables_with(at, "dso_countback")[0]
    assert len(monthly) == 18 and monthly["cei"].notna().sum() >= 15
    late = tables_with(at, "late_share")[0]
    assert len(late) >= 100
    assert tables_with(at, "180+") and tables_with(at, "overdue_at_start")
    assert len(at.get("vega_lite_chart")) >= 4  # aging, DSO, CEI, late payers (and recovery's numbers)
