"""Paying online through Stripe Checkout, against real PostgreSQL and a stand-in for Stripe's API over
real HTTP: a paid checkout becomes exactly one payment, whether Recoup hears of it by the debtor's
return, the webhook or reconciliation, one after the other or at the same moment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from core import db
from core.cli import WEBHOOK_PATH, webhook_server
from core.errors import PermissionDenied, ValidationError
from core.gateway import GatewayError, StripeCheckout, WebhookRefused
from core.models import Allocation, AuditEntry, Invoice, OnlineCheckout, Payment
from core.money import Money
from core.roles import Actor, Role
from core.services import online_payments
from core.services.accounts import account_timeline
from core.services.online_payments import Completion
from tests.factories import SYSTEM, make_customer, make_invoice, make_user
from tests.smtp import free_port
from tests.stripe_standin import StripeStandIn, running_stripe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORTAL = "https://pay.example.ph/portal?t=signed.token"


@pytest.fixture
def stripe() -> Iterator[StripeStandIn]:
    with running_stripe() as stand_in:
        yield stand_in


@pytest.fixture
def gateway(stripe: StripeStandIn) -> StripeCheckout:
    return StripeCheckout(stripe.settings())


def start(session: Session, gateway: StripeCheckout, customer_id: int, amount: str = "1000.00") -> str:
    """A checkout started for this customer; returns Stripe's session id."""
    url = online_payments.start_checkout(
        session, SYSTEM, gateway, customer_id=customer_id, currency="PHP", amount=amount, return_url=PORTAL
    )
    return url.rsplit("/", 1)[-1]


def payments_for(session: Session, reference: str) -> list[Payment]:
    return list(session.scalars(select(Payment).where(Payment.source == "stripe", Payment.reference == reference)))


def checkout_status(session: Session, session_id: str) -> str | None:
    return session.scalar(select(OnlineCheckout.status).where(OnlineCheckout.provider_session_id == session_id))


def checkouts_of(session: Session, customer_id: int) -> int:
    return session.scalar(select(func.count(OnlineCheckout.id)).where(OnlineCheckout.customer_id == customer_id)) or 0


def committed_debtor(amount: str = "1000.00") -> tuple[int, int]:
    """A customer with one invoice, committed for real so that other transactions see them. Due in
    the future: other tests' reminder runs have nothing to say to them."""
    with db.transaction() as session:
        customer_id = make_customer(session, name=f"Online {uuid.uuid4().hex[:6]}")
        invoice_id = make_invoice(session, customer_id, amount=amount, due_in_days=20)
    return customer_id, invoice_id


def test_a_checkout_completed_by_the_return_and_then_by_the_webhook_records_one_payment(session, stripe, gateway):
    customer_id = make_customer(session)
    make_invoice(session, customer_id, amount="1000.00")
    session_id = start(session, gateway, customer_id)
    intent = stripe.pay(session_id)

    by_return = online_payments.complete_checkout(session, SYSTEM, gateway, session_id, via="redirect")
    by_webhook = online_payments.handle_webhook(session, gateway, *stripe.webhook(session_id))

    assert by_return.completion is Completion.RECORDED and by_return.amount == Money("1000.00", "PHP")
    assert by_webhook.completion is Completion.ALREADY_RECORDED
    assert by_webhook.payment_id == by_return.payment_id
    [payment] = payments_for(session, intent)
    assert (payment.customer_id, payment.amount, payment.method) == (customer_id, Decimal("1000.0000"), "card")
    checkout = session.scalar(select(OnlineCheckout).where(OnlineCheckout.provider_session_id == session_id))
    assert (checkout.status, checkout.completed_via, checkout.payment_id) == ("paid", "redirect", payment.id)


def test_the_payment_goes_to_the_oldest_invoice_and_shows_on_the_timeline(session, stripe, gateway):
    customer_id = make_customer(session)
    newer = make_invoice(session, customer_id, amount="800.00", due_in_days=-5)
    oldest = make_invoice(session, customer_id, amount="500.00", due_in_days=-40)
    session_id = start(session, gateway, customer_id, amount="600.00")
    intent = stripe.pay(session_id)

    online_payments.complete_checkout(session, SYSTEM, gateway, session_id, via="redirect")

    [payment] = payments_for(session, intent)
    allocations = select(Allocation.invoice_id, Allocation.amount).where(Allocation.payment_id == payment.id)
    applied = dict(session.execute(allocations).all())
    assert applied == {oldest: Decimal("500.0000"), newer: Decimal("100.0000")}
    assert session.get(Invoice, oldest).status == "paid"
    [entry] = account_timeline(session, SYSTEM, customer_id, kinds=("payment",))
    assert entry.summary == f"Payment of ₱600.00 received by card, ref {intent}"
    checkout_id = session.scalar(select(OnlineCheckout.id).where(OnlineCheckout.provider_session_id == session_id))
    audited = session.execute(
        select(AuditEntry.actor, AuditEntry.action).where(
            or_(
                and_(AuditEntry.entity_type == "checkout_session", AuditEntry.entity_id == str(checkout_id)),
                and_(AuditEntry.entity_type == "payment", AuditEntry.entity_id == str(payment.id)),
            )
        )
    ).all()
    assert set(audited) == {
        (SYSTEM.username, "checkout.start"),
        ("system:stripe", "payment.record"),  # on Stripe's word, whoever asked
        (SYSTEM.username, "checkout.paid"),
    }


def test_the_return_and_the_webhook_at_the_same_moment_record_one_payment(database, stripe, gateway):
    customer_id, _ = committed_debtor()
    with db.transaction() as session:
        session_id = start(session, gateway, customer_id)
    intent = stripe.pay(session_id)
    first_done, release = threading.Event(), threading.Event()
    outcomes: dict[str, Completion] = {}
    errors: list[BaseException] = []

    def by_return() -> None:
        try:
            with db.transaction() as session:
                outcome = online_payments.complete_checkout(session, SYSTEM, gateway, session_id, via="redirect")
                first_done.set()
                release.wait(10)  # still uncommitted while the webhook arrives
            outcomes["redirect"] = outcome.completion
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
            first_done.set()

    def by_webhook() -> None:
        try:
            with db.transaction() as session:
                outcome = online_payments.handle_webhook(session, gateway, *stripe.webhook(session_id))
            outcomes["webhook"] = outcome.completion
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    a = threading.Thread(target=by_return)
    a.start()
    first_done.wait(10)
    b = threading.Thread(target=by_webhook)
    b.start()
    b.join(1.0)
    webhook_waited = b.is_alive()  # for the return's lock on the checkout
    release.set()
    a.join(10)
    b.join(10)

    assert errors == []
    assert webhook_waited
    assert outcomes == {"redirect": Completion.RECORDED, "webhook": Completion.ALREADY_RECORDED}
    with db.transaction() as session:
        assert len(payments_for(session, intent)) == 1


def test_one_provider_payment_on_two_checkouts_at_once_is_recorded_once_by_the_unique_reference(
    database, stripe, gateway
):
    """Past the checkout's lock (two checkout rows), the payments' unique (source, reference) decides."""
    customer_id, _ = committed_debtor("2000.00")
    with db.transaction() as session:
        first_id, second_id = start(session, gateway, customer_id), start(session, gateway, customer_id)
    intent = f"pi_{uuid.uuid4().hex[:20]}"
    stripe.pay(first_id, intent)
    stripe.pay(second_id, intent)
    first_done, release = threading.Event(), threading.Event()
    outcomes: dict[str, online_payments.CheckoutOutcome] = {}
    errors: list[BaseException] = []

    def complete(session_id: str, *, hold: bool) -> None:
        try:
            with db.transaction() as session:
                outcomes[session_id] = online_payments.complete_checkout(
                    session, SYSTEM, gateway, session_id, via="webhook"
                )
                if hold:
                    first_done.set()
                    release.wait(10)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
            first_done.set()

    a = threading.Thread(target=complete, args=(first_id,), kwargs={"hold": True})
    a.start()
    first_done.wait(10)
    b = threading.Thread(target=complete, args=(second_id,), kwargs={"hold": False})
    b.start()
    b.join(1.0)
    second_waited = b.is_alive()  # its insert waits on the first one's uncommitted payment
    release.set()
    a.join(10)
    b.join(10)

    assert errors == []
    assert second_waited
    assert outcomes[first_id].completion is Completion.RECORDED
    assert outcomes[second_id].completion is Completion.ALREADY_RECORDED
    assert outcomes[second_id].payment_id == outcomes[first_id].payment_id
    with db.transaction() as session:
        assert len(payments_for(session, intent)) == 1


def test_reconcile_records_a_paid_checkout_and_closes_an_expired_one(session, stripe, gateway):
    customer_id = make_customer(session)
    make_invoice(session, customer_id, amount="1500.00")
    paid, expired, waiting = (start(session, gateway, customer_id, "500.00") for _ in range(3))
    intent = stripe.pay(paid)
    stripe.expire(expired)

    counts = online_payments.reconcile_open_sessions(SYSTEM, gateway)

    assert counts.recorded == 1 and counts.expired == 1 and counts.failed == 0
    assert counts.still_open >= 1  # this one, and any other test's left open
    assert len(payments_for(session, intent)) == 1
    rows = {
        row.provider_session_id: (row.status, row.completed_via)
        for row in session.scalars(select(OnlineCheckout).where(OnlineCheckout.customer_id == customer_id))
    }
    assert rows == {paid: ("paid", "reconcile"), expired: ("expired", "reconcile"), waiting: ("open", None)}
    again = online_payments.complete_checkout(session, SYSTEM, gateway, paid, via="webhook")
    assert again.completion is Completion.ALREADY_RECORDED


def test_a_tampered_webhook_is_refused_and_records_nothing(session, stripe, gateway):
    customer_id = make_customer(session)
    make_invoice(session, customer_id, amount="1000.00")
    session_id = start(session, gateway, customer_id)
    intent = stripe.pay(session_id)
    payload, signature = stripe.webhook(session_id)

    with pytest.raises(WebhookRefused, match="signature"):
        online_payments.handle_webhook(session, gateway, payload.replace(b"1000", b"9000"), signature)
    with pytest.raises(WebhookRefused, match="signature"):
        online_payments.handle_webhook(session, gateway, *stripe.webhook(session_id, secret="whsec_someone_else"))
    with pytest.raises(WebhookRefused, match="signature"):
        online_payments.handle_webhook(session, gateway, payload, "")

    assert payments_for(session, intent) == []
    assert checkout_status(session, session_id) == "open"


def test_other_events_are_ignored_and_an_unpaid_checkout_is_not_recorded(session, stripe, gateway):
    customer_id = make_customer(session)
    make_invoice(session, customer_id, amount="1000.00")
    session_id = start(session, gateway, customer_id)

    ignored = online_payments.handle_webhook(session, gateway, *stripe.webhook(session_id, "checkout.session.expired"))
    unpaid = online_payments.complete_checkout(session, SYSTEM, gateway, session_id, via="redirect")
    unknown = online_payments.complete_checkout(session, SYSTEM, gateway, "cs_test_not_ours", via="redirect")

    assert (ignored.completion, ignored.detail) == (Completion.IGNORED, "checkout.session.expired")
    assert unpaid.completion is Completion.NOT_PAID
    assert unknown.completion is Completion.UNKNOWN
    assert session.scalar(select(func.count()).select_from(Payment).where(Payment.customer_id == customer_id)) == 0


def test_another_customers_checkout_is_unknown_to_the_portal(session, stripe, gateway):
    mine, theirs = make_customer(session), make_customer(session)
    make_invoice(session, theirs, amount="1000.00")
    session_id = start(session, gateway, theirs)
    stripe.pay(session_id)

    outcome = online_payments.complete_checkout(session, SYSTEM, gateway, session_id, via="redirect", customer_id=mine)

    assert outcome.completion is Completion.UNKNOWN
    assert checkout_status(session, session_id) == "open"


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1000.01", "more than the ₱1,000.00 open in PHP"),
        ("0", "more than zero"),
        ("-5", "more than zero"),
        ("10.005", "at most 2 decimals"),
    ],
)
def test_an_amount_over_the_balance_or_not_an_amount_is_refused_before_stripe_is_asked(
    session, stripe, gateway, amount, message
):
    customer_id = make_customer(session)
    make_invoice(session, customer_id, amount="1000.00")

    with pytest.raises(ValidationError, match=message):
        start(session, gateway, customer_id, amount)

    assert stripe.seen == []
    assert checkouts_of(session, customer_id) == 0


def test_the_checkout_sends_the_debtor_back_to_the_portal_with_the_session_id(session, stripe, gateway):
    customer_id = make_customer(session)
    make_invoice(session, customer_id, amount="1000.00")

    url = online_payments.start_checkout(
        session, SYSTEM, gateway, customer_id=customer_id, currency="PHP", amount="250.50", return_url=PORTAL
    )

    [request] = stripe.seen
    assert url == f"https://checkout.stripe.com/c/pay/{url.rsplit('/', 1)[-1]}"
    assert request.form["success_url"] == f"{PORTAL}&checkout_session={{CHECKOUT_SESSION_ID}}"
    assert request.form["cancel_url"] == f"{PORTAL}&checkout_cancelled=1"
    assert request.form["line_items[0][price_data][unit_amount]"] == "25050"
    assert request.form["line_items[0][price_data][currency]"] == "php"
    assert request.form["metadata[customer_id]"] == str(customer_id)


def test_a_stripe_that_is_down_is_one_clear_error_and_nothing_is_stored(session, stripe, gateway):
    customer_id = make_customer(session)
    make_invoice(session, customer_id, amount="1000.00")
    session_id = start(session, gateway, customer_id)
    stripe.failing = True

    with pytest.raises(GatewayError, match="Could not start a payment. Stripe is busy"):
        start(session, gateway, customer_id)
    with pytest.raises(GatewayError, match="Could not look up the payment"):
        online_payments.complete_checkout(session, SYSTEM, gateway, session_id, via="redirect")
    counts = online_payments.reconcile_open_sessions(SYSTEM, gateway)

    assert counts.failed >= 1 and counts.recorded == 0 and "Stripe is busy" in (counts.first_error or "")
    assert checkouts_of(session, customer_id) == 1


def test_whoever_may_act_on_the_account_completes_its_checkout_and_no_one_else(session, stripe, gateway):
    """A caller who may not record payments (the debtor on the portal, a collector) still completes a
    checkout on an account they may act on: the payment is recorded on Stripe's word."""
    user = make_user(session, Role.COLLECTOR)
    collector = Actor(username=user.username, role=Role.COLLECTOR, user_id=user.id)
    theirs = make_customer(session, collector_id=user.id)
    someone_elses = make_customer(session)
    for customer_id in (theirs, someone_elses):
        make_invoice(session, customer_id, amount="1000.00")
    own_session, other_session = start(session, gateway, theirs), start(session, gateway, someone_elses)
    stripe.pay(own_session)
    stripe.pay(other_session)

    outcome = online_payments.complete_checkout(session, collector, gateway, own_session, via="redirect")
    with pytest.raises(PermissionDenied):
        online_payments.complete_checkout(session, collector, gateway, other_session, via="redirect")
    with pytest.raises(PermissionDenied):
        online_payments.start_checkout(
            session, collector, gateway, customer_id=someone_elses, currency="PHP", amount="10.00", return_url=PORTAL
        )

    assert outcome.completion is Completion.RECORDED
    assert checkout_status(session, other_session) == "open"


def post(url: str, body: bytes, signature: str) -> tuple[int, str]:
    request = Request(url, data=body, method="POST", headers={"Stripe-Signature": signature})
    try:
        with urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except HTTPError as error:
        return error.code, error.read().decode()


def test_the_webhook_endpoint_over_http_records_once_and_refuses_a_bad_signature(database, stripe, gateway):
    customer_id, invoice_id = committed_debtor()
    with db.transaction() as session:
        session_id = start(session, gateway, customer_id)
    intent = stripe.pay(session_id)
    server = webhook_server("127.0.0.1", 0, gateway)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}{WEBHOOK_PATH}"
    try:
        payload, signature = stripe.webhook(session_id)
        tampered = post(url, payload.replace(b"complete", b"completf"), signature)
        first = post(url, payload, signature)
        again = post(url, payload, signature)
        not_json = post(url, b"{not json", signature)
        elsewhere = post(url.replace(WEBHOOK_PATH, "/other"), payload, signature)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

    assert tampered[0] == 400 and "signature does not verify" in tampered[1]
    assert first == (200, f"recorded {session_id}\n")
    assert again == (200, f"already recorded {session_id}\n")
    assert not_json[0] == 400 and "Traceback" not in not_json[1]
    assert elsewhere[0] == 404
    with db.transaction() as session:
        assert len(payments_for(session, intent)) == 1
        assert session.get(Invoice, invoice_id).status == "paid"


def remind(stripe: StripeStandIn) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core", "remind", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **stripe.env},
        timeout=120,
    )


def test_the_remind_batch_reconciles_online_payments_first_and_says_what_it_found(database, stripe, gateway):
    customer_id, _ = committed_debtor("900.00")
    with db.transaction() as session:
        paid, expired = start(session, gateway, customer_id, "400.00"), start(session, gateway, customer_id, "500.00")
    intent = stripe.pay(paid)
    stripe.expire(expired)

    result = remind(stripe)

    assert "Traceback" not in result.stderr, result.stderr
    first_line = result.stdout.splitlines()[0]
    assert first_line.startswith("online payments: 1 recorded, 1 expired"), result.stdout
    with db.transaction() as session:
        [payment] = payments_for(session, intent)
        assert payment.customer_id == customer_id
        statuses = session.scalars(select(OnlineCheckout.status).where(OnlineCheckout.customer_id == customer_id))
        assert sorted(statuses) == ["expired", "paid"]


def test_the_remind_batch_goes_on_when_stripe_cannot_be_asked(database, stripe, gateway):
    customer_id, _ = committed_debtor()
    with db.transaction() as session:
        session_id = start(session, gateway, customer_id)
    stripe.failing = True

    result = remind(stripe)

    assert "Traceback" not in result.stderr, result.stderr
    assert "could not be checked" in result.stdout and "the batch goes on" in result.stdout
    assert "planned:" in result.stdout  # the batch itself ran
    stripe.failing = False
    with db.transaction() as session:  # leave nothing open for other tests' reconciliation
        stripe.expire(session_id)
        online_payments.complete_checkout(session, SYSTEM, gateway, session_id, via="reconcile")


def test_python_m_core_webhook_serves_the_endpoint_and_refuses_to_start_unconfigured(database, stripe, gateway):
    unconfigured = subprocess.run(
        [sys.executable, "-m", "core", "webhook"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "RECOUP_STRIPE_SECRET_KEY": ""},
        timeout=60,
    )
    assert unconfigured.returncode == 1
    assert unconfigured.stderr.strip() == "error: online payments are not configured: set RECOUP_STRIPE_SECRET_KEY."

    customer_id, _ = committed_debtor()
    with db.transaction() as session:
        session_id = start(session, gateway, customer_id)
    intent = stripe.pay(session_id)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "core", "webhook", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **stripe.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        answer = post(url, *stripe.webhook(session_id))
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)

    assert answer == (200, f"recorded {session_id}\n")
    assert "Traceback" not in errors
    with db.transaction() as session:
        assert len(payments_for(session, intent)) == 1
