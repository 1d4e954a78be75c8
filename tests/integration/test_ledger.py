"""Invoices, payments and their allocation (oldest due first), disputes, and who may work an account."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, PermissionDenied, ValidationError
from core.models import Invoice
from core.money import Money
from core.roles import Role
from core.services import activities, disputes, ledger
from core.services.activities import NewActivity
from tests.factories import SYSTEM, make_customer, make_invoice, make_user

AS_OF = date(2024, 6, 30)


def php(amount: str) -> Money:
    return Money(amount, "PHP")


def status(session: Session, invoice_id: int) -> str:
    return session.scalar(select(Invoice.status).where(Invoice.id == invoice_id))


def pay(session: Session, customer_id: int, amount: Money, reference: str, **kwargs) -> ledger.PaymentResult:
    return ledger.record_payment(
        session, SYSTEM, customer_id, amount=amount, received_on=AS_OF, reference=reference, **kwargs
    )


# Allocation


def test_a_payment_goes_to_the_oldest_due_invoice_first(session):
    customer = make_customer(session)
    # Created newest first, so id order is not due-date order.
    newest = make_invoice(session, customer, amount="800.00", due_in_days=-5, as_of=AS_OF)
    oldest = make_invoice(session, customer, amount="1000.00", due_in_days=-40, as_of=AS_OF)
    middle = make_invoice(session, customer, amount="500.00", due_in_days=-20, as_of=AS_OF)

    result = pay(session, customer, php("1700.00"), "BANK-1")

    assert result.allocated == {oldest: php("1000.00"), middle: php("500.00"), newest: php("200.00")}
    assert result.credit == php("0.00")
    assert [status(session, i) for i in (oldest, middle, newest)] == ["paid", "paid", "open"]
    assert ledger.open_balance(session, newest) == php("600.00")


def test_money_beyond_every_open_invoice_is_left_as_credit(session):
    customer = make_customer(session)
    first = make_invoice(session, customer, amount="300.00", due_in_days=-10, as_of=AS_OF)
    second = make_invoice(session, customer, amount="200.00", due_in_days=5, as_of=AS_OF)

    result = pay(session, customer, php("650.50"), "BANK-2")

    assert result.allocated == {first: php("300.00"), second: php("200.00")}
    assert result.credit == php("150.50")
    assert {status(session, first), status(session, second)} == {"paid"}


def test_a_partial_payment_leaves_the_amount_less_allocations_open(session):
    customer = make_customer(session)
    invoice = make_invoice(session, customer, amount="1000.00", as_of=AS_OF)

    pay(session, customer, php("250.25"), "BANK-3")
    pay(session, customer, php("100.00"), "BANK-4")

    assert ledger.open_balance(session, invoice) == php("649.75")
    assert ledger.allocated_total(session, invoice) == php("350.25").amount
    assert status(session, invoice) == "open"


def test_a_payment_in_another_currency_leaves_peso_invoices_alone(session):
    customer = make_customer(session)
    peso_invoice = make_invoice(session, customer, amount="1000.00", as_of=AS_OF)

    result = pay(session, customer, Money("75.00", "USD"), "WIRE-1")

    assert result.allocated == {}
    assert result.credit == Money("75.00", "USD")
    assert ledger.open_balance(session, peso_invoice) == php("1000.00")
    assert status(session, peso_invoice) == "open"


def test_a_payment_already_recorded_from_the_same_source_is_refused(session):
    customer, other_customer = make_customer(session), make_customer(session)
    invoice = make_invoice(session, customer, as_of=AS_OF)
    pay(session, customer, php("100.00"), "GCASH-777", source="gcash")

    with pytest.raises(Conflict, match="GCASH-777"):
        pay(session, other_customer, php("100.00"), " GCASH-777 ", source="gcash")
    assert ledger.open_balance(session, invoice) == php("900.00")
    # The same reference from another source is another payment.
    assert pay(session, customer, php("100.00"), "GCASH-777", source="bank").allocated == {invoice: php("100.00")}


# Invoices


def test_an_invoice_due_before_it_was_issued_is_refused(session):
    customer = make_customer(session)
    with pytest.raises(ValidationError, match="before the issue date"):
        ledger.create_invoice(
            session,
            SYSTEM,
            customer,
            number="INV-BACKWARDS",
            issue_date=AS_OF,
            due_date=AS_OF - timedelta(days=1),
            amount=php("10.00"),
        )


def test_an_invoice_number_is_unique_per_customer_only(session):
    customer, other_customer = make_customer(session), make_customer(session)
    make_invoice(session, customer, number="INV-0001", as_of=AS_OF)

    with pytest.raises(Conflict, match="INV-0001"):
        make_invoice(session, customer, number="INV-0001", as_of=AS_OF)
    assert make_invoice(session, other_customer, number="INV-0001", as_of=AS_OF)


# Disputes


def test_opening_a_dispute_flags_the_invoice_and_puts_it_on_the_timeline(session):
    customer = make_customer(session)
    invoice = make_invoice(session, customer, number="INV-DSP", as_of=AS_OF)

    disputes.open_dispute(session, SYSTEM, invoice, category="not_delivered", note="  Never arrived ")

    assert session.get(Invoice, invoice).disputed is True
    [entry] = activities.timeline(session, customer)
    assert (entry.kind, entry.direction) == ("dispute", "inbound")
    assert entry.summary == "Invoice INV-DSP disputed (Goods or service not delivered): Never arrived"
    with pytest.raises(Conflict, match="already in dispute"):
        disputes.open_dispute(session, SYSTEM, invoice, category="other", note="Again")


# Who may work an account


@pytest.mark.parametrize(
    ("role", "assigned_to_them", "allowed"),
    [
        (Role.COLLECTOR, True, True),
        (Role.COLLECTOR, False, False),
        (Role.MANAGER, False, True),
        (Role.VIEWER, False, False),
        (Role.ADMIN, False, False),
    ],
    ids=["collector-own", "collector-someone-elses", "manager-any", "viewer", "admin"],
)
def test_collectors_log_activities_on_their_own_accounts_and_managers_on_any(session, role, assigned_to_them, allowed):
    user = make_user(session, role)
    owner = user if assigned_to_them else make_user(session, Role.COLLECTOR)
    customer = make_customer(session, collector_id=owner.id)
    call = NewActivity(kind="call", channel="call", direction="outbound", outcome="no_answer")

    if allowed:
        activities.log_activity(session, user.as_actor(), customer, call)
        assert [entry.actor for entry in activities.timeline(session, customer)] == [user.username]
    else:
        with pytest.raises(PermissionDenied, match="may not act on"):
            activities.log_activity(session, user.as_actor(), customer, call)
        assert activities.timeline(session, customer) == []
