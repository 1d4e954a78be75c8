"""Phone numbers to E.164, emails, time zones, and masking contact details."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.contactinfo import (
    check_time_zone,
    format_phone,
    mask_email,
    mask_phone,
    normalize_email,
    normalize_phone,
)
from core.errors import ValidationError


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("0917 123 4567", "PH", "+639171234567"),
        ("0917-123-4567", "ph", "+639171234567"),
        ("+63 917 123 4567", "PH", "+639171234567"),
        ("9123 4567", "SG", "+6591234567"),
        ("+65 9123 4567", "SG", "+6591234567"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("415.555.2671", "US", "+14155552671"),
    ],
)
def test_phone_is_normalized_to_e164(raw: str, country: str, e164: str) -> None:
    assert normalize_phone(raw, country) == e164


def test_international_number_keeps_its_own_country() -> None:
    assert normalize_phone("+63 917 123 4567", "SG") == "+639171234567"


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("12345", "PH"),
        ("1234 5678", "SG"),
        ("(415) 555-267", "US"),
        ("0917 123 4567", "US"),
    ],
)
def test_invalid_phone_number_is_refused(raw: str, country: str) -> None:
    with pytest.raises(ValidationError, match="not a valid phone number"):
        normalize_phone(raw, country)


@pytest.mark.parametrize("raw", ["", "hello", "call me"])
def test_text_that_is_not_a_phone_number_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="not a phone number"):
        normalize_phone(raw, "PH")


def test_e164_number_is_shown_the_international_way() -> None:
    assert format_phone("+639171234567") == "+63 917 123 4567"


def test_email_domain_is_lower_cased_but_not_the_local_part() -> None:
    assert normalize_email("  Juan.DelaCruz@Example.COM ") == "Juan.DelaCruz@example.com"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "juan",
        "juan@",
        "@example.com",
        "juan@example",
        "juan dc@example.com",
        "a@b@c.d",
    ],
)
def test_garbage_email_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="not an email address"):
        normalize_email(raw)


@pytest.mark.parametrize("name", ["Asia/Manila", "Asia/Singapore", "America/New_York", "UTC"])
def test_iana_time_zone_is_accepted(name: str) -> None:
    assert check_time_zone(name) == name


@pytest.mark.parametrize("name", ["Mars/Base", "", "asia/manila", "+08:00", "../etc/passwd"])
def test_unknown_time_zone_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="IANA"):
        check_time_zone(name)


def test_masked_email_hides_all_but_the_first_letter_of_the_local_part() -> None:
    masked = mask_email("juan.delacruz@example.com")
    assert masked == "j•••@example.com"
    assert "delacruz" not in masked


def test_masked_phone_hides_the_middle_digits() -> None:
    masked = mask_phone("+639171234567")
    assert masked == "+63•••••67"
    assert "91712345" not in masked


@pytest.mark.parametrize("mask", [mask_email, mask_phone])
@pytest.mark.parametrize("value", [None, ""])
def test_masking_nothing_gives_an_empty_string(mask: Callable[[str | None], str], value: str | None) -> None:
    assert mask(value) == ""
