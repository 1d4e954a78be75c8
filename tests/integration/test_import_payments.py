"""Payment files: recorded once per reference, matched by the rules, the rest matched by hand."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.errors import PermissionDenied, ValidationError
from core.imports.fields import Mapping, guess_columns
from core.imports.reading import headers, inspect
from core.models import Allocation, Customer, Payment
from core.money import Money
from core.roles import Role
from core.services import imports, ledger, matching
from tests.factories import SYSTEM, make_customer, make_invoice, make_user

HEADER = "reference,received_on,amount,currency,customer_ref,invoice_number,method\n"


def pay(session, tmp_path: Path, rows: str, **options):
    path = tmp_path / "bank.csv"
    path.write_text(HEADER + rows)
    mapping = Mapping(kind="payments", columns=guess_columns("payments", headers(path, inspect(path))))
    return imports.import_file(session, SYSTEM, path, mapping=mapping.with_options(source="bank", **options))


def ref_of(session, customer_id: int) -> str:
    return session.get(Customer, customer_id).external_ref


def payment(session, reference: str) -> Payment:
    return session.scalar(select(Payment).where(Payment.reference == reference))


def unapplied(session, actor, *references: str) -> list[matching.UnappliedPayment]:
    """This test's payments in the unapplied list (other tiers commit theirs to the same database)."""
    return [p for p in matching.list_unapplied(session, actor) if p.reference in references]


def count_payments(session, *references: str) -> int:
    return session.scalar(select(func.count(Payment.id)).where(Payment.reference.in_(references))) or 0


def allocations(session, reference: str) -> dict[int, Decimal]:
    found = session.execute(
        select(Allocation.invoice_id, Allocation.amount).join(Payment).where(Payment.reference == reference)
    )
    return {invoice_id: amount for invoice_id, amount in found}


def test_an_invoice_number_in_the_reference_matches_first(session, tmp_path):
    customer = make_customer(session)
    make_invoice(session, customer, amount="100.00", number="OLD-1", due_in_days=-90)
    named = make_invoice(session, customer, amount="250.00", number="INV-7731")

    result = pay(session, tmp_path, "BDO 0001,2026-11-20,250.00,PHP,,,\n".replace("BDO 0001", "Payment for INV-7731"))

    assert result.details["matched_by_invoice_number"] == 1
    found = payment(session, "Payment for INV-7731")
    assert (found.customer_id, found.matched_by) == (customer, "invoice_number")
    assert allocations(session, "Payment for INV-7731") == {named: Decimal("250.0000")}


def test_the_customers_one_open_invoice_of_exactly_that_amount_matches_next(session, tmp_path):
    customer = make_customer(session)
    make_invoice(session, customer, amount="100.00", due_in_days=-90)
    exact = make_invoice(session, customer, amount="375.50", due_in_days=-5)

    pay(session, tmp_path, f"TRX-1,2026-11-20,375.50,PHP,{ref_of(session, customer)},,gcash\n")

    found = payment(session, "TRX-1")
    assert (found.matched_by, found.method) == ("exact_amount", "e_wallet")
    assert allocations(session, "TRX-1") == {exact: Decimal("375.5000")}


def test_otherwise_a_known_customers_payment_goes_oldest_due_first_and_never_over_allocates(session, tmp_path):
    customer = make_customer(session)
    oldest = make_invoice(session, customer, amount="100.00", due_in_days=-90)
    newer = make_invoice(session, customer, amount="100.00", due_in_days=-10)

    result = pay(session, tmp_path, f"TRX-2,2026-11-20,250.00,PHP,{ref_of(session, customer)},,\n")

    assert result.details["matched_oldest_first"] == 1
    assert allocations(session, "TRX-2") == {oldest: Decimal("100.0000"), newer: Decimal("100.0000")}
    assert ledger.unallocated(session, payment(session, "TRX-2")) == Money("50.00", "PHP")
    assert ledger.open_balance(session, oldest).is_zero() and ledger.open_balance(session, newer).is_zero()


def test_a_payment_nobody_can_be_matched_to_waits_in_the_unapplied_list(session, tmp_path):
    result = pay(session, tmp_path, "MYSTERY-1,2026-11-20,80.00,PHP,,,\nMYSTERY-2,2026-11-20,90.00,PHP,NOBODY,,\n")

    assert (result.new, result.details["unapplied"], result.details["unknown_customer_refs"]) == (2, 2, 1)
    waiting = unapplied(session, SYSTEM, "MYSTERY-1", "MYSTERY-2")
    assert [(w.reference, w.customer_id, w.unallocated, w.payer_ref) for w in waiting] == [
        ("MYSTERY-1", None, Money("80.00", "PHP"), None),
        ("MYSTERY-2", None, Money("90.00", "PHP"), "NOBODY"),  # kept as a clue for matching by hand
    ]


def test_a_manager_matches_an_unapplied_payment_by_hand_to_chosen_invoices(session, tmp_path):
    manager = make_user(session, Role.MANAGER).as_actor()
    customer = make_customer(session)
    first = make_invoice(session, customer, amount="60.00", due_in_days=-30)
    second = make_invoice(session, customer, amount="60.00", due_in_days=-60)
    pay(session, tmp_path, "MYSTERY-3,2026-11-20,100.00,PHP,,,\n")
    waiting = payment(session, "MYSTERY-3")

    applied = matching.match_payment(session, manager, waiting.id, customer_id=customer, invoice_ids=[first, second])

    assert applied == {first: Money("60.00", "PHP"), second: Money("40.00", "PHP")}
    assert (waiting.customer_id, waiting.matched_by) == (customer, "chosen")
    assert unapplied(session, manager, "MYSTERY-3") == []
    with pytest.raises(ValidationError, match="already fully applied"):
        matching.match_payment(session, manager, waiting.id, customer_id=customer)


def test_a_hand_match_never_takes_more_than_an_invoice_owes_and_keeps_the_rest_as_credit(session, tmp_path):
    manager = make_user(session, Role.MANAGER).as_actor()
    customer = make_customer(session)
    invoice = make_invoice(session, customer, amount="60.00")
    pay(session, tmp_path, "MYSTERY-4,2026-11-20,100.00,PHP,,,\n")
    waiting = payment(session, "MYSTERY-4")

    matching.match_payment(session, manager, waiting.id, customer_id=customer, invoice_ids=[invoice])

    [credit] = unapplied(session, manager, "MYSTERY-4")
    assert (credit.customer_id, credit.unallocated) == (customer, Money("40.00", "PHP"))
    assert session.scalar(select(func.sum(Allocation.amount)).where(Allocation.invoice_id == invoice)) == Decimal("60")


def test_a_payment_cannot_be_moved_to_another_customer_or_matched_by_a_collector(session, tmp_path):
    manager = make_user(session, Role.MANAGER).as_actor()
    collector = make_user(session, Role.COLLECTOR).as_actor()
    owner, other = make_customer(session), make_customer(session)
    pay(session, tmp_path, f"TRX-5,2026-11-20,10.00,PHP,{ref_of(session, owner)},,\n")
    credit = payment(session, "TRX-5")

    with pytest.raises(ValidationError, match="belongs to customer"):
        matching.match_payment(session, manager, credit.id, customer_id=other)
    with pytest.raises(PermissionDenied):
        matching.match_payment(session, collector, credit.id, customer_id=owner)


def test_the_same_payment_file_twice_records_each_payment_once(session, tmp_path):
    customer = make_customer(session)
    make_invoice(session, customer, amount="500.00")
    rows = f"TRX-6,2026-11-20,100.00,PHP,{ref_of(session, customer)},,\nTRX-7,2026-11-21,50.00,PHP,,,\n"

    first = pay(session, tmp_path, rows)
    again = pay(session, tmp_path, rows)

    assert (first.new, again.new, again.unchanged, again.rejected) == (2, 0, 2, 0)
    assert count_payments(session, "TRX-6", "TRX-7") == 2
    assert len(allocations(session, "TRX-6")) + len(allocations(session, "TRX-7")) == 1


def test_a_known_reference_with_a_different_amount_is_refused_not_recorded_twice(session, tmp_path):
    pay(session, tmp_path, "TRX-8,2026-11-20,100.00,PHP,,,\n")

    changed = pay(session, tmp_path, "TRX-8,2026-11-20,120.00,PHP,,,\n")

    assert changed.rejected == 1
    assert "is already recorded (payment" in changed.problems[0].reason
    assert "PHP 100.00 received 2026-11-20" in changed.problems[0].reason


def test_duplicate_references_in_one_file_and_future_dates_are_refused(session, tmp_path):
    result = pay(
        session,
        tmp_path,
        "TRX-9,2026-11-20,1.00,PHP,,,\nTRX-9,2026-11-21,2.00,PHP,,,\nTRX-10,2999-01-01,3.00,PHP,,,\nTRX-11,2026-11-20,3.00,PHP,,,cheque?\n",
    )

    assert [(p.row, p.reason) for p in result.problems] == [
        (2, "reference TRX-9 is on rows 2, 3 of this file; a payment is recorded once"),
        (3, "reference TRX-9 is on rows 2, 3 of this file; a payment is recorded once"),
        (4, "a payment cannot be received in the future"),
        (
            5,
            "'cheque?' is not a payment method "
            "(bank_transfer, card, cash, check, e_wallet, direct_debit, other, GCash, PayNow…)",
        ),
    ]
    assert count_payments(session, "TRX-9", "TRX-10", "TRX-11") == 0
