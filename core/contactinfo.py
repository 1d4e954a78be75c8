"""Normalising how debtors are reached: phone numbers to E.164, emails, time zones."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from zoneinfo import available_timezones

import phonenumbers

from core.errors import ValidationError

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_phone(raw: str, country: str) -> str:
    """Parse a phone number as written in `country` and return it in E.164 (+639171234567)."""
    try:
        number = phonenumbers.parse(raw, country.upper())
    except phonenumbers.NumberParseException:
        raise ValidationError(f"{raw!r} is not a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"{raw!r} is not a valid phone number for {country.upper()}.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """Show an E.164 number the international way: +63 917 123 4567."""
    number = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalize_email(raw: str) -> str:
    email = raw.strip()
    if not _EMAIL.match(email):
        raise ValidationError(f"{raw!r} is not an email address.")
    local, domain = email.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


@cache
def _time_zones() -> frozenset[str]:
    # Scans the tz database on disk, so once. "localtime" and "Factory" are files there, not zones.
    return frozenset(available_timezones()) - {"localtime", "Factory", "posixrules"}


def check_time_zone(name: str) -> str:
    if name not in _time_zones():
        raise ValidationError(f"{name!r} is not an IANA time zone such as Asia/Manila.")
    return name


@cache
def _first_zone_by_country() -> dict[str, str]:
    # zone.tab lists each country's most populous zone first (US: America/New_York).
    table = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    zones: dict[str, str] = {}
    for line in table.splitlines():
        if line and not line.startswith("#"):
            country, _, zone, *_ = line.split("\t")
            zones.setdefault(country, zone)
    return zones


def default_time_zone(country: str) -> str | None:
    """The time zone to assume for a debtor in `country` until told otherwise."""
    return _first_zone_by_country().get(country.upper())


def mask_email(email: str | None) -> str:
    if not email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    return f"{phone[:3]}•••••{phone[-2:]}"
