"""Passwords (bcrypt, at most 72 bytes) and the sign-in lockout rule."""

from __future__ import annotations

from datetime import datetime, timedelta

import bcrypt

from core.errors import ValidationError

MAX_PASSWORD_BYTES = 72  # bcrypt ignores anything beyond; refuse rather than truncate silently
MIN_PASSWORD_LENGTH = 10
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
LOCKOUT_DURATION = timedelta(minutes=15)


def check_password_rules(password: str) -> None:
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise ValidationError(
            f"Passwords can be at most {MAX_PASSWORD_BYTES} bytes (fewer characters if you use accents or emoji)."
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    if password != password.strip():
        raise ValidationError("Passwords cannot start or end with a space.")


def hash_password(password: str, *, rounds: int = 12) -> str:
    check_password_rules(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=rounds)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(encoded, password_hash.encode("ascii"))
    except ValueError:
        return False


def locked_until(failures: list[datetime], now: datetime) -> datetime | None:
    """When sign-in reopens, if the failures since the last success lock it now; else None.

    Five failures within any fifteen minutes lock the name for fifteen minutes from the
    fifth of them. `failures` are the failed attempts since the last success, any order.
    """
    recent = sorted(at for at in failures if at > now - LOCKOUT_WINDOW - LOCKOUT_DURATION)
    for index in range(len(recent) - LOCKOUT_FAILURES + 1):
        window = recent[index : index + LOCKOUT_FAILURES]
        if window[-1] - window[0] <= LOCKOUT_WINDOW:
            until = window[-1] + LOCKOUT_DURATION
            if until > now:
                return until
    return None
