"""End to end in Chromium: a manager uploads an invoice file with a bad row, imports the valid
rows, imports a bank file whose payer is unknown, and matches that payment by hand."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.server import AppServer, settled
from tests.e2e.test_sign_in import sign_in

pytestmark = pytest.mark.e2e


FIRST_FIELD = {"invoices": "Invoice number *", "payments": "Payment reference *"}


def upload(page: Page, kind: str, path: Path) -> None:
    """Say what the file holds, then drop it on the uploader (removing the last one). In that order:
    switching the kind while an upload is still being read can leave the column guesses empty."""
    previous = page.get_by_test_id("stFileUploaderDeleteBtn")
    if previous.count():
        previous.first.click()
        expect(previous).to_have_count(0)
    page.get_by_text(kind, exact=True).click()
    settled(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    expect(page.get_by_text(re.compile(rf"{re.escape(path.name)} · .* KB · columns:"))).to_be_visible()
    settled(page)
    expect(page.get_by_text(FIRST_FIELD[kind], exact=True)).to_be_visible()


def choose(page: Page, label: str, option: str) -> None:
    page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True)).click()
    page.get_by_role("option", name=re.compile(re.escape(option))).click()


def test_a_manager_imports_a_file_and_matches_an_unapplied_payment(app_server: AppServer, page: Page, tmp_path):
    tag = uuid.uuid4().hex[:6].upper()
    invoices = tmp_path / f"invoices-{tag}.csv"
    invoices.write_text(
        "Customer ID,Customer Name,Invoice No,Invoice Date,Due Date,Amount,Currency\n"
        f"E2E-{tag},Journey Trading {tag},J{tag}-1,2026-09-01,2026-10-01,100.00,PHP\n"
        f'E2E-{tag},Journey Trading {tag},J{tag}-2,2026-09-15,2026-10-15,"1,250.00",PHP\n'
        f"E2E-{tag},Journey Trading {tag},J{tag}-3,2026-09-20,2026-10-20,abc,PHP\n"
    )
    bank = tmp_path / f"bank-{tag}.csv"
    bank.write_text(f"Reference,Value Date,Credit,Currency\nDEPOSIT {tag},2026-11-20,150.00,PHP\n")

    page.goto(app_server.url)
    sign_in(page, app_server.users["manager"], app_server.password)
    settled(page)  # a click while the dashboard still runs can be lost to its rerun
    page.get_by_test_id("stSidebar").get_by_role("link", name="Import").click()
    expect(page.get_by_role("heading", name="Import")).to_be_visible()

    upload(page, "invoices", invoices)
    country = page.get_by_role("textbox", name="Country for new customers")
    country.fill("PH")
    country.press("Enter")
    page.get_by_role("button", name="Check file").click()
    expect(page.get_by_text("1 problems in 1 rows.")).to_be_visible()
    expect(page.get_by_text("Refused rows")).to_be_visible()
    page.get_by_role("button", name="Import the 2 valid rows").click()
    expect(page.get_by_text(re.compile(rf"Imported invoices-{tag}.csv: 2 new"))).to_be_visible()

    upload(page, "payments", bank)
    page.get_by_role("button", name="Check file").click()
    page.get_by_role("button", name="Import 1 rows").click()
    expect(page.get_by_text(re.compile(rf"Imported bank-{tag}.csv: 1 new"))).to_be_visible()

    page.get_by_test_id("stSidebar").get_by_role("link", name="Unapplied payments").click()
    expect(page.get_by_role("heading", name="Unapplied payments")).to_be_visible()
    choose(page, "Payment", f"DEPOSIT {tag}")
    search = page.get_by_role("textbox", name="Find the customer")
    search.fill(f"E2E-{tag}")
    search.press("Enter")
    expect(page.get_by_role("combobox", name="Customer")).to_have_value(f"E2E-{tag} · Journey Trading {tag}")
    page.get_by_role("button", name="Match").click()
    expect(page.get_by_text(re.compile(rf"Applied ₱150\.00 to invoices J{tag}-1, J{tag}-2"))).to_be_visible()
