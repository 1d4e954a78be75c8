"""The SMS adapters against a real HTTP server on loopback standing in for the gateway (no database)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.channels import ChannelError, Outgoing
from core.sms import NO_MESSAGE_ID, SmsSettings, sms_channel
from tests.sms_gateway import Gateway, running_gateway
from tests.smtp import free_port

PH_MOBILE = "+639171234567"


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with running_gateway() as state:
        yield state


def settings(url: str, provider: str = "generic", **overrides: Any) -> SmsSettings:
    values: dict[str, Any] = {"token": "secret-token", "sender": "RECOUP", "timeout": 5.0} | overrides
    return SmsSettings(provider=provider, url=url, **values)


def text(to: str = PH_MOBILE, send_key: str = "send-42") -> Outgoing:
    return Outgoing(send_key=send_key, to=to, subject="", text="Your invoice INV-7 is 10 days past due.")


def test_generic_gateway_posts_json_with_idempotency_key_and_returns_the_id(gateway: Gateway) -> None:
    gateway.answer(202, {"id": "gw-981", "status": "queued"})

    provider_id = sms_channel(settings(f"{gateway.url}/v1/messages")).send(text())

    assert provider_id == "gw-981"
    [request] = gateway.seen
    assert request.path == "/v1/messages"
    assert request.headers["Authorization"] == "Bearer secret-token"
    assert request.headers["Idempotency-Key"] == "send-42"
    assert request.json() == {
        "to": PH_MOBILE,
        "from": "RECOUP",
        "text": "Your invoice INV-7 is 10 days past due.",
        "reference": "send-42",
    }


def test_semaphore_gateway_posts_form_fields_with_the_philippine_number(gateway: Gateway) -> None:
    gateway.answer(200, [{"message_id": 1234567, "recipient": "639171234567", "status": "Queued"}])

    provider_id = sms_channel(settings(gateway.url, "semaphore", token="sem-key")).send(text())

    assert provider_id == "1234567"
    [request] = gateway.seen
    assert request.path == "/api/v4/messages"
    assert request.form() == {
        "apikey": "sem-key",
        "number": "639171234567",
        "message": "Your invoice INV-7 is 10 days past due.",
        "sendername": "RECOUP",
    }


def test_semaphore_refuses_a_number_outside_the_philippines_without_a_request(gateway: Gateway) -> None:
    with pytest.raises(ChannelError, match="Philippine") as caught:
        sms_channel(settings(gateway.url, "semaphore")).send(text(to="+6591234567"))

    assert caught.value.transient is False
    assert gateway.seen == []


def test_twilio_gateway_posts_form_fields_with_basic_auth_and_returns_the_sid(gateway: Gateway) -> None:
    gateway.answer(201, {"sid": "SM0123456789abcdef", "status": "queued"})

    provider_id = sms_channel(settings(gateway.url, "twilio", token="AC123:auth", sender="+14155550123")).send(text())

    assert provider_id == "SM0123456789abcdef"
    [request] = gateway.seen
    assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request.headers["Authorization"].startswith("Basic ")
    assert request.form() == {
        "To": PH_MOBILE,
        "From": "+14155550123",
        "Body": "Your invoice INV-7 is 10 days past due.",
    }


@pytest.mark.parametrize("status", [503, 500, 429])
def test_a_busy_or_failing_gateway_is_transient(gateway: Gateway, status: int) -> None:
    gateway.answer(status, {"message": "try again later"})

    with pytest.raises(ChannelError, match=str(status)) as caught:
        sms_channel(settings(gateway.url)).send(text())

    assert caught.value.transient is True


@pytest.mark.parametrize("provider", ["generic", "semaphore"])
def test_a_refused_message_is_not_transient_and_carries_the_providers_words(gateway: Gateway, provider: str) -> None:
    gateway.answer(400, {"message": "The number format is invalid."})

    with pytest.raises(ChannelError, match="The number format is invalid.") as caught:
        sms_channel(settings(gateway.url, provider)).send(text())

    assert caught.value.transient is False


def test_field_errors_from_the_gateway_are_spelled_out(gateway: Gateway) -> None:
    gateway.answer(422, {"sendername": ["The selected sendername is invalid."]})

    with pytest.raises(ChannelError, match="sendername: The selected sendername is invalid.") as caught:
        sms_channel(settings(gateway.url, "semaphore")).send(text())

    assert caught.value.transient is False


def test_a_gateway_that_is_down_is_transient() -> None:
    closed = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(ChannelError) as caught:
        sms_channel(settings(closed)).send(text())

    assert caught.value.transient is True


def test_a_gateway_that_does_not_answer_in_time_is_transient(gateway: Gateway) -> None:
    gateway.delay = 0.5

    with pytest.raises(ChannelError, match="Timeout") as caught:
        sms_channel(settings(gateway.url, timeout=0.1)).send(text())

    assert caught.value.transient is True


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("generic", {"status": "queued"}),
        ("generic", {"id": ""}),
        ("generic", "OK"),
        ("semaphore", []),
        ("semaphore", {"number": ["The number format is invalid."]}),
    ],
)
def test_a_success_without_a_message_id_is_not_transient(gateway: Gateway, provider: str, body: object) -> None:
    gateway.answer(200, body)

    with pytest.raises(ChannelError, match=NO_MESSAGE_ID) as caught:
        sms_channel(settings(gateway.url, provider)).send(text())

    assert caught.value.transient is False


@pytest.mark.parametrize("number", ["09171234567", "639171234567", "+63 917 123 4567", "+63917123456", "+1234", ""])
@pytest.mark.parametrize("provider", ["generic", "semaphore"])
def test_an_invalid_number_is_not_transient_and_sends_nothing(gateway: Gateway, provider: str, number: str) -> None:
    with pytest.raises(ChannelError) as caught:
        sms_channel(settings(gateway.url, provider)).send(text(to=number))

    assert caught.value.transient is False
    assert gateway.seen == []


def test_an_unknown_provider_is_refused() -> None:
    with pytest.raises(ChannelError, match="unknown SMS provider") as caught:
        sms_channel(settings("http://127.0.0.1:9", "carrier-pigeon"))

    assert caught.value.transient is False
