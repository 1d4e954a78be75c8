"""AppTest: payments and plans on the account page — a manager records, reverses and refunds;
a manager agrees a plan after previewing it; a collector proposes one; bad input loses nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core import db
from core.models import Contact, Customer, Payment, PaymentPlan, Refund
from core.roles import Role
from core.services import accounts, customers, ledger, opt_outs, users
from core.services.activities import NewActivity, log_activity
from tests.factories import SYSTEM, make_customer, make_invoice
from tests.ui.helpers import commit_staff, texts
from tests.ui.helpers import open_account as account

TODAY = date.today()


@pytest.fixture(scope="module")
def staff(database):
    return commit_staff(f"m{uuid.uuid4().hex[:6]}")


def new_account(staff, amount="1000.00"):
    with db.transaction() as session:
        collector = users.find_active_user(session, staff[Role.COLLECTOR])
        customer = make_customer(session, collector_id=collector.id)
        invoice = make_invoice(session, customer, amount=amount, due_in_days=-40)
    return customer, invoice


def test_a_manager_records_an_overpayment_and_refunds_the_credit(staff):
    customer, invoice = new_account(staff)
    at = account(staff[Role.MANAGER], customer)
    reference = f"OR-{uuid.uuid4().hex[:6]}"

    at.text_input(key="payment_amount").input("1,200.00")
    at.text_input(key="payment_reference").input(reference)
    at.button(key="payment_submit").click().run()

    assert not at.exception and not at.error
    assert "Payment recorded." in texts(at.success)
    with db.transaction() as session:
        assert ledger.open_balance(session, invoice).amount == Decimal("0.00")
    assert "Credit: ₱200.00" in " ".join(texts(at.markdown)) or "200.00" in " ".join(texts(at.markdown))

    at.radio(key="credit_action").set_value("refund")
    at.text_input(key="refund_amount").input("200")
    at.text_input(key="refund_reference").input(f"RF-{reference}")
    at.button(key="credit_submit").click().run()

    assert not at.error and not at.exception
    with db.transaction() as session:
        refunded = session.scalars(select(Refund.amount).where(Refund.customer_id == customer)).all()
    assert refunded == [Decimal("200.0000")]


def test_recording_the_same_reference_twice_is_refused_naming_the_first(staff):
    customer, _ = new_account(staff)
    at = account(staff[Role.MANAGER], customer)
    reference = f"DUP-{uuid.uuid4().hex[:6]}"
    for _ in range(2):
        at.text_input(key="payment_amount").input("100")
        at.text_input(key="payment_reference").input(reference)
        at.button(key="payment_submit").click().run()

    assert any("already recorded: payment #" in e for e in texts(at.error))
    with db.transaction() as session:
        assert len(session.scalars(select(Payment).where(Payment.reference == reference)).all()) == 1


def test_a_manager_reverses_a_bounced_cheque_and_the_invoice_is_owed_again(staff):
    customer, invoice = new_account(staff, "500.00")
    with db.transaction() as session:
        result = ledger.record_payment(
            session,
            users.find_active_user(session, staff[Role.MANAGER]).as_actor(),
            customer,
            amount=ledger.Money("500", "PHP"),
            received_on=TODAY,
            reference=f"CHQ-{uuid.uuid4().hex[:6]}",
            method="check",
        )
    at = account(staff[Role.MANAGER], customer)

    at.selectbox(key="reverse_payment").set_value(result.payment_id)
    at.text_input(key="reverse_reason").input("Cheque bounced: insufficient funds")
    at.button(key="reverse_submit").click().run()

    assert not at.error and not at.exception
    with db.transaction() as session:
        assert ledger.open_balance(session, invoice).amount == Decimal("500.00")
    timeline = " ".join(texts(at.markdown))
    assert "reversed: Cheque bounced" in timeline


def test_a_manager_previews_then_agrees_a_plan(staff):
    customer, _ = new_account(staff, "900.00")
    at = account(staff[Role.MANAGER], customer)

    at.number_input(key="plan_count").set_value(3)
    at.button(key="plan_preview").click().run()
    assert not at.error and not at.exception
    with db.transaction() as session:
        assert session.scalars(select(PaymentPlan).where(PaymentPlan.customer_id == customer)).all() == []

    at.button(key="plan_submit").click().run()

    assert "Payment plan agreed." in texts(at.success)
    with db.transaction() as session:
        [plan] = session.scalars(select(PaymentPlan).where(PaymentPlan.customer_id == customer)).all()
    assert (plan.status, plan.total) == ("current", Decimal("900.0000"))
    assert any("Plan #" in text for text in texts(at.markdown))


def test_a_collector_proposes_a_plan_and_cannot_record_payments(staff):
    customer, _ = new_account(staff, "400.00")
    at = account(staff[Role.COLLECTOR], customer)

    assert not [b for b in at.button if b.key == "payment_submit"]
    at.number_input(key="plan_count").set_value(2)
    at.button(key="plan_submit").click().run()

    assert "Payment plan proposed for a manager's approval." in texts(at.success)
    with db.transaction() as session:
        [plan] = session.scalars(select(PaymentPlan).where(PaymentPlan.customer_id == customer)).all()
    assert plan.status == "proposed"


def test_a_plan_with_a_bad_down_payment_is_a_clear_error_and_nothing_is_saved(staff):
    customer, _ = new_account(staff, "300.00")
    at = account(staff[Role.MANAGER], customer)

    at.text_input(key="plan_down").input("300")
    at.button(key="plan_submit").click().run()

    assert any("down payment" in e for e in texts(at.error))
    with db.transaction() as session:
        assert session.scalars(select(PaymentPlan).where(PaymentPlan.customer_id == customer)).all() == []


def test_a_manager_turns_reminders_off_for_a_customer(staff):
    customer, _ = new_account(staff)
    at = account(staff[Role.MANAGER], customer)

    at.checkbox(key="dunning_excluded").check()
    at.button(key="dunning_submit").click().run()

    assert "Reminder settings saved." in texts(at.success)
    with db.transaction() as session:
        assert session.get(Customer, customer).dunning_excluded is True


def test_a_collector_stops_an_address_and_later_resumes_it_each_on_the_timeline(staff):
    customer, _ = new_account(staff)
    with db.transaction() as session:
        email = session.scalars(select(Contact.email).where(Contact.customer_id == customer)).first()
    at = account(staff[Role.COLLECTOR], customer)

    at.selectbox(key="stop_address").set_value(email)
    at.text_input(key="stop_address_why").input("asked by phone to stop emailing")
    at = at.button(key="stop_address_submit").click().run()

    assert not at.exception and not at.error
    assert texts(at.success) == [f"{email} stopped: nothing more goes to it."]
    assert any(f"Stopped: {email} — asked by phone to stop emailing" in w for w in texts(at.warning))
    with db.transaction() as session:
        assert opt_outs.stopped_among(session, {email}) == {email}

    at.text_input(key="resume_address_why").input("asked us to resume")
    at = at.button(key="resume_address_submit").click().run()

    assert texts(at.success) == [f"{email} may be contacted again."]
    with db.transaction() as session:
        assert opt_outs.stopped_among(session, {email}) == set()
        summaries = [e.summary for e in accounts.account_timeline(session, SYSTEM, customer)]
    assert f"Stopped contacting {email}: asked by phone to stop emailing" in summaries
    assert f"Contacting {email} again: asked us to resume" in summaries


def test_stopping_an_address_without_a_reason_is_refused_and_nothing_is_stopped(staff):
    customer, _ = new_account(staff)
    at = account(staff[Role.COLLECTOR], customer)

    at = at.button(key="stop_address_submit").click().run()

    assert texts(at.error) == ["Reason is required."]
    with db.transaction() as session:
        assert opt_outs.stopped_for(session, customer) == []


def test_a_collector_is_warned_before_an_eighth_call_in_seven_days_and_told_when_logging_it(staff):
    now = datetime.now(UTC)
    with db.transaction() as session:
        collector = users.find_active_user(session, staff[Role.COLLECTOR])
        customer = make_customer(session, country="US", time_zone="America/Chicago", collector_id=collector.id)
        contact_id = customers.add_contact(
            session, SYSTEM, customer, customers.NewContact(name="Lee Park", phone="+1 312 555 0199")
        )
        make_invoice(session, customer, amount="640.00", currency="USD", due_in_days=-20)
        for hours in range(7):
            log_activity(
                session,
                SYSTEM,
                customer,
                NewActivity(
                    kind="call",
                    outcome="no_answer",
                    direction="outbound",
                    contact_id=contact_id,
                    occurred_at=now - timedelta(hours=hours + 1),
                ),
            )
    at = account(staff[Role.COLLECTOR], customer)

    [warning] = [w for w in texts(at.warning) if w.startswith("Do not call now")]
    assert "7 call attempts in the last 7 days about this debt" in warning

    at.selectbox(key="call_outcome").set_value("no_answer")
    at = at.button(key="call_submit").click().run()

    [done] = texts(at.success)
    assert done.startswith("Call logged. It was made outside the contact rules (")
    assert "7 call attempts in the last 7 days" in done
