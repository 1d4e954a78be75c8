"""Unapplied payments: the list of money not yet applied, and a manager matching it by hand."""

from __future__ import annotations

import uuid

import pytest

from core import db
from core.money import Money
from core.roles import Role
from core.services import ledger, matching
from tests.factories import SYSTEM, make_customer, make_invoice
from tests.ui.helpers import commit_staff, commit_unknown_payment, signed_in, tables_with, texts
from ui import fmt


@pytest.fixture(scope="module")
def staff(database: str) -> dict[Role, str]:
    return commit_staff("ui_unap")


@pytest.fixture
def manager(staff: dict[Role, str]) -> str:
    return staff[Role.MANAGER]


@pytest.fixture
def debtor() -> tuple[str, int, list[int]]:
    """A committed customer with a unique name and two open PHP invoices: 1,000 due first, then 400."""
    name = f"Unapplied {uuid.uuid4().hex[:8]}"
    with db.transaction() as session:
        customer_id = make_customer(session, name=name)
        older = make_invoice(session, customer_id, amount="1000.00", due_in_days=-40)
        newer = make_invoice(session, customer_id, amount="400.00", due_in_days=-10)
    return name, customer_id, [older, newer]


def waiting(payment_id: int) -> matching.UnappliedPayment | None:
    with db.transaction() as session:
        return next((p for p in matching.list_unapplied(session, SYSTEM) if p.payment_id == payment_id), None)


def balances(invoice_ids: list[int]) -> list[Money]:
    with db.transaction() as session:
        return [ledger.open_balance(session, invoice_id) for invoice_id in invoice_ids]


def pick_customer(at, name: str):
    at = at.text_input(key="unapplied_customer_search").input(name).run()
    (option,) = at.selectbox(key="unapplied_customer").options
    assert option.endswith(f" · {name}")
    return at


def test_a_payment_from_an_unknown_payer_is_listed_as_such(manager):
    payment = commit_unknown_payment("250.00")

    at = signed_in(manager, "unapplied")

    assert not at.exception
    (table,) = tables_with(at, "Unapplied")
    row = table.set_index("Reference").loc[payment.reference]
    assert (row["Amount"], row["Unapplied"], row["Customer"]) == (fmt.money(payment.amount),) * 2 + ("unknown",)
    assert list(table.columns) == [
        "Received",
        "Reference",
        "Source",
        "Method",
        "Amount",
        "Unapplied",
        "Customer",
        "Ref in the file",
    ]
    assert at.download_button(key="unapplied_download_csv").label == "Download CSV"
    assert at.download_button(key="unapplied_download_xlsx").label == "Download XLSX"


def test_matching_pays_the_oldest_invoices_and_keeps_the_rest_as_credit(manager, debtor):
    name, _, (older, newer) = debtor
    payment = commit_unknown_payment("1500.00")
    at = signed_in(manager, "unapplied")
    at = at.selectbox(key="unapplied_payment").select(payment.payment_id).run()
    at = pick_customer(at, name)
    assert at.multiselect(key="unapplied_invoices").value == []  # empty: oldest due first

    at = at.button(key="unapplied_match").click().run()

    assert not at.exception
    assert not at.error
    (message,) = texts(at.success)
    assert message.startswith(f"Applied {fmt.money(Money('1400.00', 'PHP'))} to invoices ")
    assert message.endswith(f"; {fmt.money(Money('100.00', 'PHP'))} left as credit.")
    assert balances([older, newer]) == [Money("0", "PHP"), Money("0", "PHP")]  # never more than each owed
    left = waiting(payment.payment_id)
    assert left is not None and left.unallocated == Money("100.00", "PHP") and left.customer.endswith(name)


def test_chosen_invoices_are_paid_and_the_others_left_open(manager, debtor):
    name, _, (older, newer) = debtor
    payment = commit_unknown_payment("500.00")
    at = signed_in(manager, "unapplied")
    at = at.selectbox(key="unapplied_payment").select(payment.payment_id).run()
    at = pick_customer(at, name)
    picker = at.multiselect(key="unapplied_invoices")
    assert len(picker.options) == 2 and "open" in picker.options[0]

    at = picker.select(newer).run()
    at = at.button(key="unapplied_match").click().run()

    assert not at.error
    assert texts(at.success)[0].endswith(f"; {fmt.money(Money('100.00', 'PHP'))} left as credit.")
    assert balances([older, newer]) == [Money("1000.00", "PHP"), Money("0", "PHP")]


def test_a_payment_with_a_known_customer_is_matched_to_that_customer_only(manager, debtor):
    name, customer_id, (older, newer) = debtor
    payment = commit_unknown_payment("1200.00")
    with db.transaction() as session:  # 1,000 to the older invoice; 200 stays as the customer's credit
        matching.match_payment(session, SYSTEM, payment.payment_id, customer_id=customer_id, invoice_ids=[older])
    at = signed_in(manager, "unapplied")

    at = at.selectbox(key="unapplied_payment").select(payment.payment_id).run()

    assert "unapplied_customer_search" not in {box.key for box in at.text_input}
    assert any(name in str(m.value) for m in at.markdown)
    at = at.button(key="unapplied_match").click().run()  # the credit goes to the 400 still open

    (message,) = texts(at.success)
    assert message.startswith(f"Applied {fmt.money(Money('200.00', 'PHP'))} to invoices ")
    assert "credit" not in message
    assert balances([older, newer]) == [Money("0", "PHP"), Money("200.00", "PHP")]
    assert waiting(payment.payment_id) is None


def test_no_customer_found_says_so(manager):
    commit_unknown_payment("10.00")
    at = signed_in(manager, "unapplied")

    at = at.text_input(key="unapplied_customer_search").input(f"nobody-{uuid.uuid4().hex}").run()

    assert "No customer matches." in texts(at.info)
    assert "unapplied_match" not in {button.key for button in at.button}
