"""Password rules, bcrypt hashing and the sign-in lockout rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import ValidationError
from core.security import (
    check_password_rules,
    hash_password,
    locked_until,
    verify_password,
)

GOOD = "correct horse battery"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def minutes_ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


# Password rules


@pytest.mark.parametrize(
    "password",
    [GOOD, "a" * 10, "a" * 72, "é" * 36, "pass word with inner spaces"],
    ids=["phrase", "ten-chars", "72-bytes", "72-bytes-multibyte", "inner-spaces"],
)
def test_acceptable_password_passes_the_rules(password: str) -> None:
    assert check_password_rules(password) is None


@pytest.mark.parametrize(
    "password",
    ["a" * 73, "é" * 37, "😀" * 19],
    ids=["73-ascii", "37-chars-74-bytes", "19-emoji-76-bytes"],
)
def test_password_over_72_bytes_is_refused(password: str) -> None:
    assert len(password) < 74
    with pytest.raises(ValidationError, match="72"):
        check_password_rules(password)


@pytest.mark.parametrize("password", ["", "short", "a" * 9])
def test_password_under_ten_characters_is_refused(password: str) -> None:
    with pytest.raises(ValidationError, match="10"):
        check_password_rules(password)


@pytest.mark.parametrize("password", [" " + GOOD, GOOD + " ", f"\t{GOOD}"])
def test_password_starting_or_ending_with_space_is_refused(password: str) -> None:
    with pytest.raises(ValidationError, match="space"):
        check_password_rules(password)


# Hashing


def test_hashed_password_verifies_and_a_wrong_one_does_not() -> None:
    password_hash = hash_password(GOOD, rounds=4)
    assert password_hash.startswith("$2")
    assert GOOD not in password_hash
    assert verify_password(GOOD, password_hash)
    assert not verify_password(GOOD + "!", password_hash)


def test_multibyte_password_round_trips() -> None:
    password = "contraseña-ñandú-😀"
    assert verify_password(password, hash_password(password, rounds=4))


def test_same_password_hashes_differently_each_time() -> None:
    assert hash_password(GOOD, rounds=4) != hash_password(GOOD, rounds=4)


def test_hashing_applies_the_password_rules() -> None:
    with pytest.raises(ValidationError, match="72"):
        hash_password("a" * 73, rounds=4)


def test_password_over_72_bytes_never_verifies_even_if_its_prefix_matches() -> None:
    prefix = "a" * 72
    password_hash = hash_password(prefix, rounds=4)
    assert verify_password(prefix, password_hash)
    assert verify_password(prefix + "b", password_hash) is False


@pytest.mark.parametrize("garbage", ["", "not a hash", "$2b$04$tooshort", "£$%^"])
def test_garbage_hash_verifies_false_instead_of_raising(garbage: str) -> None:
    assert verify_password(GOOD, garbage) is False


# Lockout


def test_four_failures_do_not_lock() -> None:
    assert locked_until(minutes_ago(4, 3, 2, 1), NOW) is None


def test_no_failures_do_not_lock() -> None:
    assert locked_until([], NOW) is None


def test_five_failures_within_fifteen_minutes_lock_from_the_fifth() -> None:
    failures = minutes_ago(10, 8, 6, 4, 2)
    assert locked_until(failures, NOW) == NOW - timedelta(minutes=2) + timedelta(minutes=15)


def test_five_failures_spanning_exactly_fifteen_minutes_lock() -> None:
    assert locked_until(minutes_ago(15, 10, 5, 1, 0), NOW) == NOW + timedelta(minutes=15)


def test_five_failures_spread_over_more_than_fifteen_minutes_do_not_lock() -> None:
    failures = [NOW - timedelta(minutes=15, seconds=1), *minutes_ago(10, 5, 1, 0)]
    assert locked_until(failures, NOW) is None


def test_lock_expires_once_now_is_past_the_lock_end() -> None:
    failures = minutes_ago(24, 23, 22, 21, 20)
    assert locked_until(failures, NOW - timedelta(minutes=6)) == NOW - timedelta(minutes=5)
    assert locked_until(failures, NOW - timedelta(minutes=5)) is None
    assert locked_until(failures, NOW) is None


def test_order_of_failures_does_not_matter() -> None:
    failures = minutes_ago(2, 10, 4, 8, 6)
    assert locked_until(failures, NOW) == locked_until(sorted(failures), NOW) == NOW + timedelta(minutes=13)


def test_five_close_failures_after_an_older_one_still_lock() -> None:
    failures = minutes_ago(29, 5, 4, 3, 2, 1)
    assert locked_until(failures, NOW) == NOW + timedelta(minutes=14)
