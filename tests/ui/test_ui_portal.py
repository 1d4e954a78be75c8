"""AppTest: the debtor portal app (portal/app.py) and its staff side — a bad link shows one
message and no account; a good one shows the account and takes a promise and a dispute; the
second factor comes first when set; a manager makes, copies and revokes links on the account page
and sets the portal's rules on Workflows."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, func, select, update

from core import config, db
from core.gateway import StripeCheckout
from core.models import Activity, Invoice, Payment, PortalAttempt, Promise, Setting
from core.portal_links import LinkNotValid
from core.roles import Role
from core.services import online_payments, portal
from core.services.portal_settings import PortalSettings, save_portal_settings
from tests.factories import SYSTEM, make_customer, make_invoice
from tests.stripe_standin import running_stripe
from tests.ui.helpers import app, commit_staff, open_account, signed_in, texts

TODAY = date.today()
NOT_VALID = str(LinkNotValid())


@pytest.fixture(scope="module")
def staff(database):
    return commit_staff(f"p{uuid.uuid4().hex[:6]}")


def _fresh_portal() -> None:
    """The shipped settings, and no failed attempts counted against AppTest's client address."""
    with db.transaction() as session:
        session.execute(delete(Setting).where(Setting.key == "portal"))
        session.execute(delete(PortalAttempt))


@pytest.fixture(autouse=True)
def fresh_portal(database):
    _fresh_portal()
    yield
    _fresh_portal()


def debtor_with_invoices() -> tuple[int, str, str]:
    name = f"Portal Debtor {uuid.uuid4().hex[:6]}"
    with db.transaction() as session:
        customer = make_customer(session, name=name)
        make_invoice(session, customer, amount="4000.00", due_in_days=-20, number=f"PX-{uuid.uuid4().hex[:6]}")
        token = portal.portal_link(session, SYSTEM, customer).split("?t=", 1)[1]
    return customer, name, token


def portal_app(token: str | None) -> object:
    at = app("portal/app.py")
    if token is not None:
        at.query_params["t"] = token
    return at.run()


@pytest.mark.parametrize("token", [None, "", "nonsense", "eyJhbGciOi.tampered.value"])
def test_a_missing_or_bad_link_shows_one_message_and_nothing_of_any_account(token):
    at = portal_app(token)

    assert texts(at.error) == [NOT_VALID]
    assert texts(at.title) == ["Your account"] and not at.dataframe and not at.tabs


def test_a_good_link_shows_the_account_and_takes_a_promise_and_a_dispute():
    customer, name, token = debtor_with_invoices()
    at = portal_app(token)
    assert texts(at.title) == [name] and not at.exception
    assert "₱4,000.00" in [m.value for m in at.metric]

    at.text_input(key="portal_promise_amount").input("1,500")
    at.date_input(key="portal_promise_date").set_value(TODAY + timedelta(days=10))
    at.button(key="FormSubmitter:portal_promise_form-Promise to pay").click().run()
    assert any("promise to pay ₱1,500.00" in s for s in texts(at.success)), texts(at.error)

    at.selectbox(key="portal_dispute_category").set_value("pricing")
    at.text_area(key="portal_dispute_note").input("The price was 3,000")
    at.button(key="FormSubmitter:portal_dispute_form-Dispute this invoice").click().run()
    assert any("We have your dispute" in s for s in texts(at.success)), texts(at.error)

    with db.transaction() as session:
        assert session.scalar(select(Promise.amount).where(Promise.customer_id == customer)) == 1500
        assert session.scalar(select(Invoice.disputed).where(Invoice.customer_id == customer)) is True
        by_portal = session.scalars(
            select(Activity.kind).where(Activity.customer_id == customer, Activity.actor == "portal")
        ).all()
    assert {"promise", "dispute"} <= set(by_portal)


def test_a_promise_too_far_ahead_is_refused_with_the_limit_and_nothing_is_recorded():
    customer, _, token = debtor_with_invoices()
    at = portal_app(token)
    at.text_input(key="portal_promise_amount").input("100")
    at.date_input(key="portal_promise_date").set_value(TODAY + timedelta(days=90))
    at.button(key="FormSubmitter:portal_promise_form-Promise to pay").click().run()

    assert any("within 30 days" in e for e in texts(at.error))
    with db.transaction() as session:
        assert session.scalar(select(Promise.id).where(Promise.customer_id == customer)) is None


def test_the_second_factor_is_asked_before_anything_is_shown():
    _, name, token = debtor_with_invoices()
    with db.transaction() as session:
        save_portal_settings(session, SYSTEM, PortalSettings(second_factor="phone_last4"), version=0)
    at = portal_app(token)
    assert name not in texts(at.title) and not at.dataframe

    at.text_input[0].input("4567")
    at.button[0].click().run()

    assert texts(at.title) == [name]


def test_a_revoked_link_shows_the_same_message(staff):
    customer, _, token = debtor_with_invoices()
    with db.transaction() as session:
        session.execute(update(Invoice).where(Invoice.customer_id == customer).values(disputed=False))
    at = open_account(staff[Role.MANAGER], customer)
    at.button(key="account_portal_link").click().run()
    [code] = at.code
    assert code.value.startswith("http://localhost:8502/?t=")

    at.button(key="account_portal_revoke").click().run()
    assert any("Every portal link made so far is closed" in s for s in texts(at.success))
    assert texts(portal_app(token).error) == [NOT_VALID]
    fresh = code.value.split("?t=", 1)[1]
    assert texts(portal_app(fresh).error) == [NOT_VALID]  # made before the revoke too


def test_a_viewer_cannot_make_links(staff):
    customer, _, _ = debtor_with_invoices()
    at = open_account(staff[Role.VIEWER], customer)
    assert "account_portal_link" not in {b.key for b in at.button}


def test_a_manager_sets_the_portal_rules_on_workflows(staff):
    at = signed_in(staff[Role.MANAGER], "workflows")
    version = 0
    at.number_input(key=f"portal_days_{version}").set_value(14)
    at.radio(key=f"portal_factor_{version}").set_value("phone_last4")
    at.button(key=f"portal_save_{version}").click().run()

    assert not at.error and not at.exception
    with db.transaction() as session:
        value = session.get(Setting, "portal").value
    assert value["link_days"] == 14 and value["second_factor"] == "phone_last4"
    assert "PHP" in value["instructions"]


@pytest.fixture
def stripe(monkeypatch):
    """The Stripe stand-in, configured for the app through the environment as in production."""
    with running_stripe() as stand_in:
        for name, value in stand_in.env.items():
            monkeypatch.setenv(name, value)
        config.get_settings.cache_clear()
        yield stand_in
    monkeypatch.undo()
    config.get_settings.cache_clear()


def test_a_debtor_pays_by_card_and_coming_back_twice_records_one_payment(stripe):
    customer, _, token = debtor_with_invoices()
    at = portal_app(token)
    at.text_input(key="portal_pay_amount").input("1000")
    at.button(key="FormSubmitter:portal_pay_form-Pay by card").click().run()
    url = at.session_state["portal_checkout_url"]
    assert url.startswith("https://checkout.stripe.com/") and not at.error  # as the stand-in answers
    session_id = url.rsplit("/", 1)[-1]
    intent = stripe.pay(session_id)

    for _ in range(2):  # back from Stripe, then the page reloaded
        back = app("portal/app.py")
        back.query_params["t"] = token
        back.query_params["checkout_session"] = session_id
        back.run()
        assert "Thank you: we have your payment of ₱1,000.00." in texts(back.success), texts(back.warning)

    with db.transaction() as session:
        paid = session.scalars(select(Payment).where(Payment.customer_id == customer)).all()
    assert [(p.reference, p.amount, p.method) for p in paid] == [(intent, 1000, "card")]


def test_wrong_digits_ask_again_and_are_not_tried_again_on_the_next_run():
    _, name, token = debtor_with_invoices()
    with db.transaction() as session:
        save_portal_settings(session, SYSTEM, PortalSettings(second_factor="phone_last4"), version=0)
    at = portal_app(token)
    at.text_input(key="portal_digits_input").input("0000")
    at.button[0].click().run()
    assert texts(at.error) == [NOT_VALID] and name not in texts(at.title)
    at.run()  # a rerun does not count the same wrong digits again
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PortalAttempt)) == 2  # the address and the account

    at.text_input(key="portal_digits_input").input("4567")
    at.button[0].click().run()
    assert texts(at.title) == [name]


def test_a_plan_limit_of_two_still_draws_the_portal():
    _, name, token = debtor_with_invoices()
    with db.transaction() as session:
        save_portal_settings(session, SYSTEM, PortalSettings(plan_max_instalments=2), version=0)
    at = portal_app(token)
    assert not at.exception and texts(at.title) == [name]
    assert at.number_input(key="portal_plan_count").value == 2


def test_coming_back_from_a_cancelled_or_foreign_payment_page_records_nothing(stripe):
    customer, _, token = debtor_with_invoices()
    other, _, _ = debtor_with_invoices()
    with db.transaction() as session:
        theirs = online_payments.start_checkout(
            session,
            SYSTEM,
            StripeCheckout(stripe.settings()),
            customer_id=other,
            currency="PHP",
            amount="100",
            return_url="http://localhost:8502/?t=x",
        ).rsplit("/", 1)[-1]
    stripe.pay(theirs)
    for params in ({"checkout_cancelled": "1"}, {"checkout_session": theirs}):
        at = app("portal/app.py")
        at.query_params["t"] = token
        for name, value in params.items():
            at.query_params[name] = value
        at.run()
        assert not at.exception and not at.success and at.info, params
    with db.transaction() as session:
        assert session.scalar(select(Payment.id).where(Payment.customer_id.in_([customer, other]))) is None
