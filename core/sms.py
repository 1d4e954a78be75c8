"""How a reminder leaves Recoup by SMS: one adapter per gateway API (a generic JSON gateway, Semaphore,
Twilio), each taking a prepared message and returning the gateway's message id, or raising ChannelError
saying whether trying again later may help."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

import phonenumbers
import requests

from core.channels import Channel, ChannelError, Outgoing
from core.config import SmsSettings

PROVIDERS = ("generic", "semaphore", "twilio")
_E164 = re.compile(r"\+[1-9]\d{7,14}")
NO_MESSAGE_ID = "gateway answered without a message id"


def e164(number: str) -> str:
    """The number itself if it is a valid E.164 number (+ and 8-15 digits), checked before any request."""
    if not _E164.fullmatch(number):
        raise ChannelError(f"{number!r} is not an E.164 phone number (+ and 8 to 15 digits)", transient=False)
    if not phonenumbers.is_valid_number(phonenumbers.parse(number, None)):
        raise ChannelError(f"{number} is not a valid phone number", transient=False)
    return number


def semaphore_number(number: str) -> str:
    """+639171234567 -> 639171234567: Semaphore takes Philippine numbers only, without the plus."""
    if phonenumbers.parse(e164(number), None).country_code != 63:
        raise ChannelError(f"{number} is not a Philippine number; Semaphore only delivers to those", transient=False)
    return number[1:]


class GenericJsonGateway:
    """POST {url} with a JSON body and a bearer token; the gateway answers {"id": ...}."""

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings

    def send(self, message: Outgoing) -> str:
        to = e164(message.to)
        answer = _post(
            self.settings,
            self.settings.url,
            json={"to": to, "from": self.settings.sender, "text": message.text, "reference": message.send_key},
            headers={"Authorization": f"Bearer {self.settings.token}", "Idempotency-Key": message.send_key},
        )
        return _message_id(answer.get("id") if isinstance(answer, dict) else None, answer)


class SemaphoreGateway:
    """Semaphore (semaphore.co), the Philippine SMS API: form fields to {url}/api/v4/messages."""

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings

    def send(self, message: Outgoing) -> str:
        number = semaphore_number(message.to)
        # Semaphore has no idempotency field. The reminder ledger keeps each send key to one sent
        # message, but a timeout after Semaphore accepted the text, then retried, could text twice.
        answer = _post(
            self.settings,
            f"{self.settings.url.rstrip('/')}/api/v4/messages",
            data={
                "apikey": self.settings.token,
                "number": number,
                "message": message.text,
                "sendername": self.settings.sender,
            },
        )
        # One message object per recipient: [{"message_id": 1234567, "status": "Queued", ...}]
        first = answer[0] if isinstance(answer, list) and answer else None
        return _message_id(first.get("message_id") if isinstance(first, dict) else None, answer)


class TwilioGateway:
    """Twilio's Messages API: form fields to {url}/2010-04-01/Accounts/{sid}/Messages.json, basic auth."""

    def __init__(self, settings: SmsSettings) -> None:
        account, _, secret = settings.token.partition(":")
        if not account or not secret:
            raise ChannelError("the Twilio token must be AccountSid:AuthToken", transient=False)
        self.settings = settings
        self.auth = (account, secret)

    def send(self, message: Outgoing) -> str:
        to = e164(message.to)
        # Twilio's Messages API takes no idempotency key either: the same caveat as Semaphore.
        answer = _post(
            self.settings,
            f"{self.settings.url.rstrip('/')}/2010-04-01/Accounts/{quote(self.auth[0], safe='')}/Messages.json",
            data={"To": to, "From": self.settings.sender, "Body": message.text},
            auth=self.auth,
        )
        return _message_id(answer.get("sid") if isinstance(answer, dict) else None, answer)


def sms_channel(settings: SmsSettings) -> Channel:
    if settings.provider == "generic":
        return GenericJsonGateway(settings)
    if settings.provider == "semaphore":
        return SemaphoreGateway(settings)
    if settings.provider == "twilio":
        return TwilioGateway(settings)
    raise ChannelError(
        f"unknown SMS provider {settings.provider!r}; use one of {', '.join(PROVIDERS)}", transient=False
    )


def _post(settings: SmsSettings, url: str, **request: Any) -> Any:
    """The gateway's JSON answer to a POST, or ChannelError: transient for down, slow or busy (429, 5xx)."""
    gateway = urlsplit(url).netloc or url
    try:
        # Redirects are not followed: a POST that lands somewhere else is a misconfigured URL.
        response = requests.post(url, timeout=settings.timeout, allow_redirects=False, **request)
    except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
        raise ChannelError(f"SMS gateway {gateway}: {type(error).__name__}: {error}", transient=True) from None
    except requests.RequestException as error:  # a malformed URL and the like: retrying will not help
        raise ChannelError(f"SMS gateway {gateway}: {error}", transient=False) from None
    status = response.status_code
    if status == 429 or status >= 500:
        raise ChannelError(f"SMS gateway {gateway} answered {status}: {_reason(response)}", transient=True)
    if not 200 <= status < 300:
        raise ChannelError(
            f"SMS gateway {gateway} refused the message ({status}): {_reason(response)}", transient=False
        )
    try:
        return response.json()
    except ValueError:
        raise ChannelError(f"{NO_MESSAGE_ID}: {response.text[:200]!r}", transient=False) from None


def _message_id(found: object, answer: object) -> str:
    if isinstance(found, bool) or not isinstance(found, str | int) or str(found).strip() == "":
        raise ChannelError(f"{NO_MESSAGE_ID}: {_describe(answer)}", transient=False)
    return str(found)


def _reason(response: requests.Response) -> str:
    try:
        return _describe(response.json())
    except ValueError:
        return response.text.strip()[:200] or response.reason or "no reason given"


def _describe(answer: object) -> str:
    """The provider's own words: {"message": ...}, {"error": ...} or field errors {"number": ["..."]}."""
    if isinstance(answer, list) and answer:
        return _describe(answer[0])
    if isinstance(answer, dict):
        for key in ("message", "error", "detail", "error_message"):
            if isinstance(answer.get(key), str) and answer[key]:
                return str(answer[key])[:200]
        fields = [f"{key}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for key, v in answer.items()]
        return "; ".join(fields)[:200] or "an empty answer"
    return repr(answer)[:200]
