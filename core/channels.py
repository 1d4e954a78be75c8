"""How a reminder leaves Recoup: an email through yagmail to the configured SMTP server. Every
adapter takes a prepared message with its send key and returns the provider's message id, or
raises ChannelError saying whether trying again later may help."""

from __future__ import annotations

import hashlib
import smtplib
from dataclasses import dataclass
from typing import Protocol

import yagmail

from core.config import SmtpSettings


class ChannelError(Exception):
    """The message did not go out. transient: the server was down or busy, so a retry may work."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Outgoing:
    send_key: str
    to: str
    subject: str
    text: str


class Channel(Protocol):
    def send(self, message: Outgoing) -> str: ...


def message_id(send_key: str, domain: str = "recoup.invalid") -> str:
    """The same send key always gives the same Message-ID, so a mail server or the recipient's
    client can spot a duplicate even if one ever got through."""
    return f"<{hashlib.sha256(send_key.encode()).hexdigest()[:32]}@{domain}>"


class EmailChannel:
    def __init__(self, smtp: SmtpSettings) -> None:
        self.smtp = smtp

    def send(self, message: Outgoing) -> str:
        domain = self.smtp.sender.rsplit("@", 1)[-1]
        mid = message_id(message.send_key, domain)
        try:
            client = yagmail.SMTP(
                user=self.smtp.sender,
                password=self.smtp.password,
                host=self.smtp.host,
                port=self.smtp.port,
                smtp_ssl=self.smtp.security == "ssl",
                # yagmail turns STARTTLS on unless told not to, and prompts for a missing password
                # on a terminal unless login is skipped: cron would hang.
                smtp_starttls=self.smtp.security == "starttls",
                smtp_skip_login=self.smtp.password is None,
                soft_email_validation=False,
            )
            with client:
                # Plain text in; yagmail builds the plain-text and the HTML part from it.
                result = client.send(
                    to=message.to, subject=message.subject, contents=[message.text], message_id=mid, prettify_html=False
                )
        except smtplib.SMTPRecipientsRefused as error:
            raise ChannelError(f"the server refused the address {message.to}: {error}", transient=False) from None
        except (OSError, smtplib.SMTPException) as error:
            raise ChannelError(f"email server {self.smtp.host}:{self.smtp.port}: {error}", transient=True) from None
        if result is False:  # yagmail reports a send it gave up on by returning False, not by raising
            raise ChannelError(f"email server {self.smtp.host}:{self.smtp.port} dropped the connection", transient=True)
        if isinstance(result, dict) and message.to in result:
            raise ChannelError(f"the server refused {message.to}: {result[message.to]}", transient=False)
        return mid
