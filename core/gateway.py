"""Online payment on a provider's hosted checkout page: a provider-neutral CheckoutSession and the
Stripe Checkout adapter (the official SDK). It returns plain values, or raises GatewayError (the
provider is down or refused) or WebhookRefused (a webhook that does not verify)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlsplit

import stripe

from core.config import PaymentSettings, get_settings
from core.errors import RecoupError, ValidationError
from core.money import Money, minor_unit

log = logging.getLogger(__name__)

# Stripe puts the session's id here in success_url when it sends the debtor back.
SESSION_ID_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"
# The events that may mean money was received: a card is paid at once (completed); a bank debit
# completes unpaid and is paid later (async_payment_succeeded).
PAYMENT_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


class GatewayError(RecoupError):
    """The payment provider could not be reached or refused the request; nothing changed here."""


class WebhookRefused(ValidationError):
    """A webhook whose signature or body does not verify: not from the provider, or altered."""


@dataclass(frozen=True)
class CheckoutSession:
    """One hosted checkout as the provider sees it now."""

    session_id: str
    url: str | None  # where the debtor pays; None once the session is complete or expired
    status: str  # open, complete or expired
    payment_status: str  # paid, unpaid or no_payment_required
    amount: Money
    customer_id: int | None  # from the metadata Recoup gave it
    payment_id: str | None  # the provider's payment (Stripe's payment_intent), once there is one
    expires_at: datetime | None

    @property
    def paid(self) -> bool:
        return self.payment_status == "paid"

    @property
    def expired(self) -> bool:
        return self.status == "expired"


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str
    kind: str  # the provider's event type, e.g. checkout.session.completed
    session_id: str | None  # the checkout session it is about, when it is about one


class PaymentGateway(Protocol):
    """What the online-payment service needs of a provider."""

    provider: str

    def create(
        self, customer_id: int, amount: Money, description: str, success_url: str, cancel_url: str
    ) -> CheckoutSession: ...

    def retrieve(self, session_id: str) -> CheckoutSession: ...

    def event_from_webhook(self, payload: bytes, signature_header: str) -> WebhookEvent: ...


def to_minor_units(amount: Money) -> int:
    """₱1,234.50 -> 123450: providers take integers in the currency's minor unit (JPY 0, KWD 3 digits)."""
    return int(amount.amount.scaleb(minor_unit(amount.currency)))


def from_minor_units(value: int, currency: str) -> Money:
    return Money(Decimal(value).scaleb(-minor_unit(currency.upper())), currency.upper())


def session_from_stripe(data: Mapping[str, Any]) -> CheckoutSession:
    """A Stripe Checkout Session object (as a dict) as a CheckoutSession."""
    try:
        intent = data.get("payment_intent")
        customer = str((data.get("metadata") or {}).get("customer_id") or "")
        expires_at = data.get("expires_at")
        return CheckoutSession(
            session_id=str(data["id"]),
            url=data.get("url"),
            status=str(data["status"]),
            payment_status=str(data["payment_status"]),
            amount=from_minor_units(int(data["amount_total"]), str(data["currency"])),
            customer_id=int(customer) if customer.isdigit() else None,
            # Expanded, the payment intent is an object; by default it is its id.
            payment_id=str(intent["id"] if isinstance(intent, Mapping) else intent) if intent else None,
            expires_at=datetime.fromtimestamp(int(expires_at), UTC) if expires_at else None,
        )
    except (KeyError, TypeError, ValueError, RecoupError) as error:
        raise GatewayError(f"Stripe answered with a checkout session Recoup cannot read ({error!r}).") from None


def event_from_stripe(data: Mapping[str, Any]) -> WebhookEvent:
    """A Stripe Event (as a dict): its type and, for a checkout session's events, the session's id."""
    subject = (data.get("data") or {}).get("object") or {}
    about_session = isinstance(subject, Mapping) and subject.get("object") == "checkout.session"
    return WebhookEvent(
        event_id=str(data.get("id", "")),
        kind=str(data.get("type", "")),
        session_id=str(subject["id"]) if about_session and subject.get("id") else None,
    )


class StripeCheckout:
    """Stripe Checkout in payment mode: one line for the amount; the customer's id in the metadata."""

    provider = "stripe"

    def __init__(self, settings: PaymentSettings) -> None:
        self.settings = settings
        self.client = stripe.StripeClient(
            settings.secret_key,
            base_addresses={"api": settings.api_base},
            http_client=stripe.RequestsClient(timeout=settings.timeout),
            max_network_retries=1,  # a POST retried keeps its idempotency key: never two sessions
        )

    def create(
        self, customer_id: int, amount: Money, description: str, success_url: str, cancel_url: str
    ) -> CheckoutSession:
        if SESSION_ID_PLACEHOLDER not in success_url:
            raise ValueError(f"success_url must carry {SESSION_ID_PLACEHOLDER} to say which session came back.")
        reference = {"customer_id": str(customer_id)}
        with _calling(self.settings, "start a payment"):
            created = self.client.v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": amount.currency.lower(),
                                "unit_amount": to_minor_units(amount),
                                "product_data": {"name": description},
                            },
                        }
                    ],
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "client_reference_id": str(customer_id),
                    "metadata": reference,
                    # On the payment too, so Stripe's dashboard names the customer beside the money.
                    "payment_intent_data": {"metadata": reference},
                }
            )
        return session_from_stripe(created.to_dict())

    def retrieve(self, session_id: str) -> CheckoutSession:
        with _calling(self.settings, "look up the payment"):
            found = self.client.v1.checkout.sessions.retrieve(session_id)
        return session_from_stripe(found.to_dict())

    def event_from_webhook(self, payload: bytes, signature_header: str) -> WebhookEvent:
        if not self.settings.webhook_secret:
            raise GatewayError("RECOUP_STRIPE_WEBHOOK_SECRET is not set, so no webhook can be verified.")
        try:
            event = self.client.construct_event(payload, signature_header, self.settings.webhook_secret)
        except stripe.SignatureVerificationError as error:
            log.warning("stripe webhook refused: %s", error.user_message)
            raise WebhookRefused("The webhook's signature does not verify; it was refused.") from None
        except ValueError:  # not UTF-8, not JSON, or not an event
            raise WebhookRefused("The webhook's body is not a Stripe event; it was refused.") from None
        return event_from_stripe(event.to_dict())


@contextmanager
def _calling(settings: PaymentSettings, what: str) -> Iterator[None]:
    """Stripe's errors as one GatewayError a page can show; the details go to the log."""
    host = urlsplit(settings.api_base).netloc or settings.api_base
    try:
        yield
    except stripe.StripeError as error:
        log.warning("stripe (%s) could not %s: %r", host, what, error)
        if isinstance(error, stripe.APIConnectionError):
            reason = f"Stripe ({host}) could not be reached. Please try again in a few minutes."
        elif isinstance(error, stripe.AuthenticationError):
            reason = "Stripe refused Recoup's API key (RECOUP_STRIPE_SECRET_KEY)."
        elif isinstance(error, stripe.RateLimitError) or (error.http_status or 0) >= 500:
            reason = "Stripe is busy or having trouble. Please try again in a few minutes."
        else:
            reason = f"Stripe said: {error.user_message or 'no reason given'}"
        raise GatewayError(f"Could not {what}. {reason}") from None


def from_settings() -> StripeCheckout | None:
    """The configured gateway, or None when no online payment is set up."""
    settings = get_settings().payments
    return StripeCheckout(settings) if settings is not None else None
