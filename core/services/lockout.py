"""Whether a username is locked out of signing in, from its recent failed attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import LoginAttempt, User
from core.security import LOCKOUT_DURATION, LOCKOUT_WINDOW, locked_until


def sign_in_locked_until(session: Session, username: str, now: datetime) -> datetime | None:
    """When sign-in reopens for this (typed) username, or None if it is not locked. Failures
    count since the last success, or since an admin last unlocked the user."""
    since = now - LOCKOUT_WINDOW - LOCKOUT_DURATION
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(LoginAttempt.username == username, LoginAttempt.succeeded)
    )
    cleared = session.scalar(select(User.lockout_cleared_at).where(User.username == username))
    since = max(at for at in (since, last_success, cleared) if at is not None)
    failures = session.scalars(
        select(LoginAttempt.at).where(
            LoginAttempt.username == username, ~LoginAttempt.succeeded, LoginAttempt.at > since
        )
    )
    return locked_until(list(failures), now)
