"""How a reminder leaves Recoup: an email through yagmail to the configured SMTP server. Every
adapter takes a prepared message with its send key and returns the provider's message id, or
raises ChannelError saying whether trying again later may help."""

from __future__ import annotations

import contextlib
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
    """Mail through yagmail over one SMTP connection, opened at the first message and kept for the
    rest of the run (close() ends it): a connection per message would cost a handshake each.

    yagmail builds the message (plain text and HTML parts, headers, Message-ID); the connection it
    opened delivers it. Its own send() would reconnect for every message and, on a dropped
    connection, sleep and retry before returning False; the batch has its own retries."""

    def __init__(self, smtp: SmtpSettings) -> None:
        self.smtp = smtp
        self.client: yagmail.SMTP | None = None

    def _connect(self) -> yagmail.SMTP:
        client = yagmail.SMTP(
            user=self.smtp.sender,
            password=self.smtp.password,
            host=self.smtp.host,
            port=self.smtp.port,
            smtp_ssl=self.smtp.security == "ssl",
            # yagmail turns STARTTLS on unless told not to, and prompts for a missing password on a
            # terminal unless login is skipped: cron would hang.
            smtp_starttls=self.smtp.security == "starttls",
            smtp_skip_login=self.smtp.password is None,
            soft_email_validation=False,
        )
        client.login()
        return client

    def send(self, message: Outgoing) -> str:
        mid = message_id(message.send_key, self.smtp.sender.rsplit("@", 1)[-1])
        where = f"email server {self.smtp.host}:{self.smtp.port}"
        for attempt in (1, 2):  # a kept connection the server has since closed is opened again, once
            try:
                if self.client is None:
                    self.client = self._connect()
                recipients, raw = self.client.prepare_send(
                    to=message.to, subject=message.subject, contents=[message.text], message_id=mid, prettify_html=False
                )
                refused = self.client.smtp.sendmail(self.client.user, recipients, raw)
            except smtplib.SMTPServerDisconnected as error:
                self.close()
                if attempt == 2:
                    raise ChannelError(f"{where}: {error}", transient=True) from None
                continue
            except smtplib.SMTPRecipientsRefused as error:
                raise ChannelError(f"the server refused the address {message.to}: {error}", transient=False) from None
            except (OSError, smtplib.SMTPException) as error:
                self.close()
                raise ChannelError(f"{where}: {error}", transient=True) from None
            if message.to in refused:
                raise ChannelError(f"the server refused {message.to}: {refused[message.to]}", transient=False)
            return mid
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            with contextlib.suppress(OSError, smtplib.SMTPException):  # the connection is gone either way
                client.close()
