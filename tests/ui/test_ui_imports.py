"""The import page: upload a file, map it, check it, then import all of it, its valid rows, or nothing."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from openpyxl import Workbook

from core import db
from core.config import get_settings
from core.money import Money
from core.roles import Role
from core.services import customers, mappings, matching
from tests.factories import SYSTEM
from tests.ui.helpers import commit_staff, signed_in, tables_with, texts, upload


def php(amount: str) -> Money:
    return Money(amount, "PHP")


HEADER = "customer_ref,customer_name,country,invoice_number,issue_date,due_date,amount,currency\n"


@pytest.fixture(scope="module")
def staff(database: str) -> dict[Role, str]:
    return commit_staff("ui_imp")


@pytest.fixture
def manager(staff: dict[Role, str]) -> str:
    return staff[Role.MANAGER]


@pytest.fixture
def ref() -> str:
    """A customer ref no other test uses: the test database is shared by the whole run."""
    return f"IMP-{uuid.uuid4().hex[:10]}"


def invoice_file(ref: str, *amounts: str, dates: tuple[str, str] = ("2024-01-05", "2024-02-04")) -> str:
    rows = [
        f"{ref},{ref} Trading,PH,{ref}-{n},{dates[0]},{dates[1]},{amount},PHP" for n, amount in enumerate(amounts, 1)
    ]
    return HEADER + "\n".join(rows) + "\n"


def invoices_of(ref: str) -> dict[str, Money]:
    """Invoice number -> open balance of the customer with this ref (none if there is no such customer)."""
    with db.transaction() as session:
        hits = [hit for hit in customers.find_customers(session, SYSTEM, ref) if hit.external_ref == ref]
        if not hits:
            return {}
        found = matching.open_invoices_for(session, SYSTEM, hits[0].customer_id, "PHP")
    return {invoice.number: invoice.open_balance for invoice in found}


def checked(manager: str, file_name: str, content: str, *, kind: str = "invoices"):
    at = signed_in(manager, "import")
    at = at.radio(key="import_kind").set_value(kind).run()
    at = upload(at, file_name, content)
    return at.button(key="import_check").click().run()


def test_a_manager_sees_the_page_asking_for_a_file(manager):
    at = signed_in(manager, "import")

    assert not at.exception
    assert texts(at.title) == ["Import"]
    assert at.radio(key="import_kind").options == ["customers", "invoices", "payments"]
    assert "Upload a CSV or XLSX file" in texts(at.info)[0]


@pytest.mark.parametrize("role", [Role.COLLECTOR, Role.VIEWER, Role.ADMIN], ids=str)
def test_other_roles_are_refused_the_page(staff, role):
    at = signed_in(staff[role], "import")

    assert texts(at.error) == [f"Your role ({role.value}) cannot open Import."]
    assert not at.get("file_uploader")


def test_an_upload_is_kept_on_disk_and_only_its_path_in_the_session(manager, ref):
    at = signed_in(manager, "import")
    at = at.radio(key="import_kind").set_value("invoices").run()

    at = upload(at, "march.csv", invoice_file(ref, "100.00"))

    entry = at.session_state["import_upload"]
    assert set(entry) == {"path", "name", "size", "file_id"}
    assert entry["name"] == "march.csv"
    saved = Path(entry["path"])
    assert saved.parent == get_settings().import_dir and saved.suffix == ".csv"
    assert saved.read_text() == invoice_file(ref, "100.00")
    # The columns are guessed from the headers, required ones marked.
    assert at.selectbox(key="map_invoice_number").value == "invoice_number"
    assert at.selectbox(key="map_amount").label == "Amount *"
    assert at.selectbox(key="map_disputed").value == "—"

    at = upload(at, "april.csv", invoice_file(ref, "200.00"))

    assert not saved.exists()  # the previous upload's file is gone
    assert Path(at.session_state["import_upload"]["path"]).exists()


def test_checking_a_file_with_a_bad_amount_shows_the_row_column_and_reason(manager, ref):
    at = checked(manager, "bad.csv", invoice_file(ref, "1500.00", "abc"))

    assert not at.exception
    assert not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Rows"], metrics["New"], metrics["Refused"]) == ("2", "1", "1")
    (problems,) = tables_with(at, "reason")
    assert problems.to_dict("records") == [
        {"row": 3, "column": "amount", "value": "abc", "reason": "'abc' is not an amount written like 1,234.56"}
    ]
    assert "1 problems in 1 rows." in texts(at.caption)
    assert at.download_button(key="import_problems_download_csv").label == "Download CSV"
    assert at.button(key="import_valid_only").label == "Import the 1 valid rows"
    assert invoices_of(ref) == {}  # a check writes nothing


def test_import_nothing_writes_nothing_and_drops_the_file(manager, ref):
    at = checked(manager, "bad.csv", invoice_file(ref, "1500.00", "abc"))
    saved = Path(at.session_state["import_upload"]["path"])
    problems_file = at.session_state["import_checked"]["result"].problems_file

    at = at.button(key="import_nothing").click().run()

    assert not at.exception
    assert texts(at.info)[0] == "Nothing was imported from bad.csv."
    assert invoices_of(ref) == {}
    assert not saved.exists() and not problems_file.exists()
    assert "import_checked" not in at.session_state
    assert "import_check" not in {button.key for button in at.button}


def test_importing_the_valid_rows_writes_them_and_leaves_out_the_refused_one(manager, ref):
    at = checked(manager, "bad.csv", invoice_file(ref, "1500.00", "abc"))
    saved = Path(at.session_state["import_upload"]["path"])

    at = at.button(key="import_valid_only").click().run()

    assert not at.exception
    assert not at.error
    assert texts(at.success) == [
        "Imported bad.csv: 1 new, 0 updated, 0 unchanged; 1 refused rows left out (customers created: 1)."
    ]
    assert invoices_of(ref) == {f"{ref}-1": php("1500.00")}
    assert not saved.exists()


def test_a_clean_file_offers_to_import_all_its_rows_and_writes_them(manager, ref):
    at = checked(manager, "clean.csv", invoice_file(ref, '"1,250.50"', "300.00", "75.25"))
    saved = Path(at.session_state["import_upload"]["path"])

    assert not at.error
    assert not at.warning
    assert not tables_with(at, "reason")
    assert "import_valid_only" not in {button.key for button in at.button}
    assert at.button(key="import_write").label == "Import 3 rows"
    assert any("dates read as YYYY-MM-DD" in caption for caption in texts(at.caption))

    at = at.button(key="import_write").click().run()

    assert not at.exception
    assert texts(at.success) == ["Imported clean.csv: 3 new, 0 updated, 0 unchanged (customers created: 1)."]
    assert invoices_of(ref) == {f"{ref}-1": php("1250.50"), f"{ref}-2": php("300.00"), f"{ref}-3": php("75.25")}
    assert not saved.exists()


def test_dates_that_fit_two_formats_ask_the_user_to_choose(manager, ref):
    at = checked(manager, "ambiguous.csv", invoice_file(ref, "100.00", dates=("03/04/2024", "05/06/2024")))

    assert not at.exception
    (warning,) = texts(at.warning)
    assert "fit both DD/MM/YYYY and MM/DD/YYYY" in warning
    assert "Choose the date format" in warning
    assert not at.metric
    assert "import_write" not in {button.key for button in at.button}

    at = at.selectbox(key="import_date_format").select("DD/MM/YYYY").run()
    at = at.button(key="import_check").click().run()

    assert not at.warning
    assert any("dates read as DD/MM/YYYY" in caption for caption in texts(at.caption))
    at = at.button(key="import_write").click().run()
    assert invoices_of(ref) == {f"{ref}-1": php("100.00")}


def test_a_mapping_error_is_shown_and_nothing_is_checked(manager, ref):
    at = signed_in(manager, "import")
    at = at.radio(key="import_kind").set_value("invoices").run()
    at = upload(at, "no-amounts.csv", invoice_file(ref, "100.00"))
    at = at.selectbox(key="map_amount").select("—").run()

    at = at.button(key="import_check").click().run()

    (error,) = texts(at.error)
    assert "missing required column: Amount" in error
    assert not at.metric


def test_changing_the_mapping_after_a_check_asks_for_a_new_check(manager, ref):
    at = checked(manager, "clean.csv", invoice_file(ref, "100.00"))
    assert at.button(key="import_write")

    at = at.selectbox(key="map_customer_name").select("—").run()

    assert "import_write" not in {button.key for button in at.button}
    assert not at.metric


def test_a_manager_saves_the_mapping_as_a_profile_and_it_is_offered_again(manager, ref):
    name = f"Bank {uuid.uuid4().hex[:6]}"
    at = signed_in(manager, "import")
    at = at.radio(key="import_kind").set_value("invoices").run()
    at = upload(at, "clean.csv", invoice_file(ref, "100.00"))
    at = at.selectbox(key="map_customer_name").select("—").run()

    at.text_input(key="import_profile_name").input(name)
    at = at.button(key="import_profile_save").click().run()

    assert not at.exception
    assert texts(at.success) == [f"Saved the profile {name!r}."]
    assert at.selectbox(key="import_profile").value == name
    assert at.selectbox(key="map_customer_name").value == "—"
    with db.transaction() as session:
        profile = mappings.get_profile(session, name)
    assert profile.mapping.columns["amount"] == "amount"
    assert "customer_name" not in profile.mapping.columns


def test_a_workbook_with_several_sheets_asks_which_sheet_to_read(manager, ref):
    workbook = Workbook()
    workbook.active.title = "Notes"
    workbook.active.append(["Exported from the ERP"])
    sheet = workbook.create_sheet("Invoices")
    for line in invoice_file(ref, "100.00", "200.00").splitlines():
        sheet.append(line.split(","))
    buffer = io.BytesIO()
    workbook.save(buffer)
    at = signed_in(manager, "import")
    at = at.radio(key="import_kind").set_value("invoices").run()
    at = at.file_uploader(key="import_file").upload("book.xlsx", buffer.getvalue()).run()

    assert at.selectbox(key="import_sheet").options == ["Notes", "Invoices"]
    at = at.selectbox(key="import_sheet").select("Invoices").run()
    assert at.selectbox(key="map_invoice_number").value == "invoice_number"
    at = at.button(key="import_check").click().run()

    assert not at.error
    assert at.button(key="import_write").label == "Import 2 rows"
