"""Signed, expiring portal links: the token in a debtor's link names their customer and the link
generation it was made in, signed with the app's secret under a portal-only salt (itsdangerous).
A wrong, tampered, expired or revoked token is one error, LinkNotValid, which says nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from itsdangerous import BadData, URLSafeTimedSerializer

from core.errors import RecoupError

SALT = "recoup-portal-link"  # a token made for anything else never opens the portal
DEFAULT_LIFETIME = timedelta(days=30)


class LinkNotValid(RecoupError):
    """Said the same way whatever was wrong with the link, so a guess learns nothing."""

    def __init__(self) -> None:
        super().__init__("This link does not open an account. Ask us for a new one.")


@dataclass(frozen=True)
class LinkClaim:
    customer_id: int
    generation: int


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def mint(secret: str, customer_id: int, generation: int) -> str:
    return _serializer(secret).dumps([customer_id, generation])


def read(secret: str, token: str, *, lifetime: timedelta = DEFAULT_LIFETIME) -> LinkClaim:
    """The claim a token carries, if it is ours, untouched and younger than lifetime."""
    try:
        customer_id, generation = _serializer(secret).loads(token, max_age=int(lifetime.total_seconds()))
    except (BadData, TypeError, ValueError):
        raise LinkNotValid() from None
    if not isinstance(customer_id, int) or not isinstance(generation, int):
        raise LinkNotValid()
    return LinkClaim(customer_id, generation)


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/?{urlencode({'t': token})}"
