"""The gateway's pure parts: minor units, reading Stripe's objects, return addresses, the settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core import config
from core.errors import ConfigError, ValidationError
from core.gateway import GatewayError, event_from_stripe, from_minor_units, session_from_stripe, to_minor_units
from core.money import Money
from core.services.online_payments import return_urls

STRIPE_SESSION = {
    "id": "cs_test_a1",
    "object": "checkout.session",
    "amount_total": 123450,
    "currency": "php",
    "status": "complete",
    "payment_status": "paid",
    "metadata": {"customer_id": "42"},
    "payment_intent": "pi_123",
    "expires_at": 1_795_000_000,
    "url": None,
}


@pytest.mark.parametrize(
    ("amount", "minor"),
    [(Money("1234.50", "PHP"), 123450), (Money("5000", "JPY"), 5000), (Money("1.234", "KWD"), 1234)],
    ids=["PHP", "JPY", "KWD"],
)
def test_amounts_go_to_the_provider_in_the_currencys_minor_unit_and_back(amount, minor):
    assert to_minor_units(amount) == minor
    assert from_minor_units(minor, amount.currency.lower()) == amount


def test_a_stripe_checkout_session_reads_as_a_checkout_session():
    found = session_from_stripe(STRIPE_SESSION)

    assert found.paid and not found.expired
    assert (found.session_id, found.customer_id, found.payment_id) == ("cs_test_a1", 42, "pi_123")
    assert found.amount == Money("1234.50", "PHP")
    assert found.expires_at == datetime.fromtimestamp(1_795_000_000, UTC)


def test_an_expanded_payment_intent_and_missing_metadata_read_too():
    found = session_from_stripe(
        {**STRIPE_SESSION, "payment_intent": {"id": "pi_9", "object": "payment_intent"}, "metadata": {}}
    )

    assert (found.payment_id, found.customer_id) == ("pi_9", None)


def test_a_session_without_its_amount_is_a_gateway_error_not_a_traceback():
    with pytest.raises(GatewayError, match="cannot read"):
        session_from_stripe({key: value for key, value in STRIPE_SESSION.items() if key != "amount_total"})


def test_an_event_names_its_checkout_session_only_when_it_is_about_one():
    completed = event_from_stripe(
        {"id": "evt_1", "type": "checkout.session.completed", "data": {"object": STRIPE_SESSION}}
    )
    charge = event_from_stripe(
        {"id": "evt_2", "type": "charge.succeeded", "data": {"object": {"id": "ch_1", "object": "charge"}}}
    )

    assert (completed.kind, completed.session_id) == ("checkout.session.completed", "cs_test_a1")
    assert (charge.kind, charge.session_id) == ("charge.succeeded", None)


def test_the_return_addresses_keep_the_portal_link_and_carry_the_session_placeholder_unencoded():
    success, cancel = return_urls("https://pay.example.ph/portal?t=abc.DEF-_1&checkout_session=cs_old")

    assert success == "https://pay.example.ph/portal?t=abc.DEF-_1&checkout_session={CHECKOUT_SESSION_ID}"
    assert cancel == "https://pay.example.ph/portal?t=abc.DEF-_1&checkout_cancelled=1"
    assert return_urls("http://localhost:8503/")[0] == "http://localhost:8503/?checkout_session={CHECKOUT_SESSION_ID}"


@pytest.mark.parametrize("url", ["/portal", "pay.example.ph/portal", "javascript:alert(1)"])
def test_a_return_address_that_is_not_a_full_web_address_is_refused(url):
    with pytest.raises(ValidationError, match="full http"):
        return_urls(url)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path):
    for name in ("RECOUP_STRIPE_SECRET_KEY", "RECOUP_STRIPE_API_BASE", "RECOUP_STRIPE_WEBHOOK_SECRET", "RECOUP_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RECOUP_SECRETS_FILE", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("RECOUP_DATA_DIR", str(tmp_path / "data"))
    config.get_settings.cache_clear()
    yield monkeypatch
    config.get_settings.cache_clear()


def test_without_a_stripe_key_there_is_no_online_payment(env):
    from core.gateway import from_settings

    assert config.get_settings().payments is None
    assert from_settings() is None


def test_the_stripe_settings_come_from_the_environment_with_stripes_api_by_default(env):
    from core.gateway import StripeCheckout, from_settings

    env.setenv("RECOUP_STRIPE_SECRET_KEY", "sk_test_x")
    env.setenv("RECOUP_STRIPE_WEBHOOK_SECRET", "whsec_y")

    payments = config.get_settings().payments
    assert payments == config.PaymentSettings(
        secret_key="sk_test_x", api_base="https://api.stripe.com", webhook_secret="whsec_y"
    )
    assert isinstance(from_settings(), StripeCheckout)


def test_the_stripe_settings_come_from_the_secrets_file_too(env, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('RECOUP_STRIPE_SECRET_KEY = "sk_test_file"\nRECOUP_STRIPE_API_BASE = "http://127.0.0.1:9/"\n')
    env.setenv("RECOUP_SECRETS_FILE", str(secrets))

    payments = config.get_settings().payments
    assert payments is not None
    assert (payments.secret_key, payments.api_base, payments.webhook_secret) == (
        "sk_test_file",
        "http://127.0.0.1:9",
        None,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("RECOUP_STRIPE_SECRET_KEY", "change-me"), ("RECOUP_STRIPE_API_BASE", "api.stripe.com")],
)
def test_a_placeholder_key_or_a_bad_api_address_is_refused(env, name, value):
    env.setenv("RECOUP_STRIPE_SECRET_KEY", "sk_test_x")
    env.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        config.get_settings()
