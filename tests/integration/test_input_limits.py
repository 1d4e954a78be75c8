"""Bad input gets a clear, specific error and writes nothing: over-long text, records of
another customer, payments from the future, and races past a service's own checks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core import db
from core.errors import Conflict, ValidationError
from core.models import User
from core.money import Money
from core.roles import Role
from core.services import activities, customers, ledger, users
from core.services.activities import NewActivity
from core.services.customers import NewCustomer
from tests.factories import PASSWORD, SYSTEM, make_customer, make_invoice, make_user


def test_an_over_long_user_name_is_refused_with_the_limit(session):
    with pytest.raises(ValidationError, match="Name can be at most 200 characters; this one has 300"):
        users.create_user(
            session,
            SYSTEM,
            username="longname",
            name="n" * 300,
            email="l@example.com",
            role=Role.VIEWER,
            password=PASSWORD,
        )


def test_an_over_long_customer_ref_is_refused_with_the_limit(session):
    new = NewCustomer(external_ref="R" * 101, name="Long Ref Co", country="PH", time_zone="Asia/Manila")
    with pytest.raises(ValidationError, match="External ref can be at most 100 characters"):
        customers.create_customer(session, SYSTEM, new)


def test_an_over_long_invoice_number_is_refused(session):
    customer_id = make_customer(session)
    with pytest.raises(ValidationError, match="Invoice number can be at most 100"):
        ledger.create_invoice(
            session,
            SYSTEM,
            customer_id,
            number="9" * 101,
            issue_date=date(2026, 1, 1),
            due_date=date(2026, 1, 31),
            amount=Money("10", "PHP"),
        )


def test_a_payment_dated_in_the_future_is_refused(session):
    customer_id = make_customer(session)
    make_invoice(session, customer_id)
    with pytest.raises(ValidationError, match="in the future"):
        ledger.record_payment(
            session,
            SYSTEM,
            customer_id,
            amount=Money("10", "PHP"),
            received_on=date.today() + timedelta(days=1),
            reference="FUTURE-1",
        )


def test_an_activity_cannot_point_at_another_customers_invoice(session):
    mine, theirs = make_customer(session), make_customer(session)
    their_invoice = make_invoice(session, theirs)
    note = NewActivity(kind="note", summary="Wrong account", invoice_id=their_invoice)
    with pytest.raises(ValidationError, match="does not belong to this customer"):
        activities.log_activity(session, SYSTEM, mine, note)


def test_a_race_past_a_services_check_is_a_conflict_not_a_traceback(session):
    taken = make_user(session, Role.VIEWER)
    with pytest.raises(Conflict, match="nothing was saved"), db.transaction() as s:
        # What a second writer would do after both passed the "username taken?" check.
        s.add(User(username=taken.username, name="Twin", email="t@example.com", password_hash="x", role="viewer"))


def test_a_payment_aimed_at_an_invoice_in_another_currency_is_refused(session):
    customer_id = make_customer(session)
    php_invoice = make_invoice(session, customer_id, currency="PHP")
    with pytest.raises(ValidationError, match="not open in this payment's currency"):
        ledger.record_payment(
            session,
            SYSTEM,
            customer_id,
            amount=Money("10", "USD"),
            received_on=date.today(),
            reference="WRONG-CUR-1",
            invoice_ids=[php_invoice],
        )
