"""Helpers for the AppTest tier: starting the app, signing in, and committing the users and the
book a page needs. AppTest runs the script in this process, so the app reads the test database
through core.db; what it should see must be committed, not left in a rolled-back session."""

from __future__ import annotations

import tempfile
import uuid
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from core import db
from core.imports.fields import Mapping, guess_columns
from core.money import Money
from core.roles import Role
from core.services import imports, ledger, matching, users
from core.services.matching import UnappliedPayment
from tests.factories import PASSWORD, SYSTEM, make_customer, make_invoice, make_user

ROOT = Path(__file__).resolve().parents[2]
PAGE_PATHS = {
    "dashboard": "pages/dashboard.py",
    "queue": "pages/queue.py",
    "account": "pages/account.py",
    "plans": "pages/plans.py",
    "reports": "pages/reports.py",
    "import": "pages/imports.py",
    "unapplied": "pages/unapplied.py",
    "workflows": "pages/workflows.py",
    "admin": "pages/admin.py",
}


def app(script: str = "Home.py") -> AppTest:
    return AppTest.from_file(str(ROOT / script), default_timeout=30)


def sign_in(at: AppTest, username: str, password: str = PASSWORD) -> AppTest:
    """Fill in and submit the sign-in form of an app that is showing it."""
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(password)
    return at.button(key="sign_in_submit").click().run()


def signed_in(username: str, page: str | None = None) -> AppTest:
    """The app as a browser session already signed in as username, optionally on another page."""
    at = app()
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.run()
    if page is not None:
        at.switch_page(PAGE_PATHS[page]).run()
    return at


def commit_staff(prefix: str) -> dict[Role, str]:
    """One committed user per role, named f"{prefix}_{role}"; password tests.factories.PASSWORD.
    Reuses users already there, so a module fixture set up twice (pytest may reorder) still works."""
    names: dict[Role, str] = {}
    with db.transaction() as session:
        for role in Role:
            username = f"{prefix}_{role.value}"
            if users.find_active_user(session, username) is None:
                make_user(session, role, username=username)
            names[role] = username
    return names


def commit_book(prefix: str, *, as_of: date | None = None) -> None:
    """A small committed book in PHP and USD: overdue, current, paid and part-paid invoices."""
    today = as_of or date.today()
    with db.transaction() as session:
        manila = make_customer(session, name=f"{prefix} Manila Trading")
        make_invoice(session, manila, amount="12000.00", currency="PHP", due_in_days=-45, as_of=today)
        make_invoice(session, manila, amount="3000.00", currency="PHP", due_in_days=20, as_of=today)
        paid = make_invoice(session, manila, amount="5000.00", currency="PHP", due_in_days=-5, as_of=today)
        ledger.record_payment(
            session,
            SYSTEM,
            manila,
            amount=Money("5000.00", "PHP"),
            received_on=today - timedelta(days=1),
            reference=f"{prefix}-{uuid.uuid4().hex[:8]}",
            invoice_ids=[paid],
        )
        boston = make_customer(session, country="US", time_zone="America/New_York", name=f"{prefix} Boston Supply")
        make_invoice(session, boston, amount="800.00", currency="USD", due_in_days=-100, as_of=today)
        part_paid = make_invoice(session, boston, amount="1200.00", currency="USD", due_in_days=10, as_of=today)
        ledger.record_payment(
            session,
            SYSTEM,
            boston,
            amount=Money("200.00", "USD"),
            received_on=today - timedelta(days=2),
            reference=f"{prefix}-{uuid.uuid4().hex[:8]}",
            invoice_ids=[part_paid],
        )


def open_account(username: str, customer_id: int) -> AppTest:
    """The account page of one customer, signed in as username."""
    at = signed_in(username)
    at.query_params["id"] = str(customer_id)
    at.switch_page("pages/account.py").run()
    return at


def texts(elements: object) -> list[str]:
    """The values of a list of text-like elements (at.error, at.title, …)."""
    return [str(element.value) for element in elements]  # type: ignore[attr-defined]


def shows_sign_in_form(at: AppTest) -> bool:
    keys = {widget.key for widget in at.text_input}
    return {"sign_in_username", "sign_in_password"} <= keys


def tables_with(at: AppTest, column: str) -> list[pd.DataFrame]:
    """Rendered dataframes that have the column. AppTest only exposes an st.dataframe's key when
    selection is enabled, so the admin and audit tables are told apart by their columns."""
    return [frame.value for frame in at.dataframe if column in frame.value.columns]


def users_table(at: AppTest) -> pd.DataFrame:
    (table,) = tables_with(at, "Failed sign-ins")
    return table


def audit_table(at: AppTest) -> pd.DataFrame:
    (table,) = tables_with(at, "Action")
    return table


def option_for(options: list[str], username: str) -> str:
    """The admin user picker's option for username ("username — Name")."""
    (option,) = [o for o in options if o.startswith(f"{username} — ")]
    return option


def upload(at: AppTest, file_name: str, content: str) -> AppTest:
    """Drop a file on the import page's uploader, as a browser would, and rerun."""
    mime = "text/csv" if file_name.endswith(".csv") else "application/octet-stream"
    return at.file_uploader(key="import_file").upload(file_name, content.encode("utf-8"), mime).run()


def commit_unknown_payment(amount: str, currency: str = "PHP") -> UnappliedPayment:
    """A committed payment whose payer is unknown, recorded the way a bank file brings one in:
    through the payments import, with a reference that names no invoice and no customer ref."""
    reference = f"DEP-{uuid.uuid4().hex[:12]}"
    received = (date.today() - timedelta(days=1)).isoformat()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bank.csv"
        path.write_text(f"reference,received_on,amount,currency\n{reference},{received},{amount},{currency}\n")
        mapping = Mapping(
            "payments", columns=guess_columns("payments", ["reference", "received_on", "amount", "currency"])
        )
        with db.transaction() as session:
            result = imports.import_file(session, SYSTEM, path, mapping=mapping, file_name="bank.csv")
            assert (result.new, result.rejected, result.details["unapplied"]) == (1, 0, 1), result
            (payment,) = [p for p in matching.list_unapplied(session, SYSTEM) if p.reference == reference]
        if result.problems_file:
            result.problems_file.unlink(missing_ok=True)
    return payment
