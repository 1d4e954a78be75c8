"""Signing in: password check, the lockout after repeated failures, and the credentials
directory the login widget needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from math import ceil

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.models import LoginAttempt, User
from core.roles import Actor, Role
from core.security import MAX_PASSWORD_BYTES, hash_password, verify_password
from core.services import audit
from core.services.lockout import sign_in_locked_until
from core.services.users import UserView, _view, normalize_username

WRONG = "Username or password is incorrect."
ANONYMOUS = "anonymous"


@cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so timing does not reveal it."""
    return hash_password("not-a-real-password-0")


@dataclass(frozen=True)
class SignInOutcome:
    """Either the signed-in user, or the reason to show. Returned, not raised, so the
    caller's transaction commits the failed attempt that the lockout counts."""

    user: UserView | None
    refusal: str | None = None


@dataclass(frozen=True)
class Credential:
    """What the sign-in widget knows of a user: no password hash, Recoup checks passwords."""

    username: str
    name: str
    email: str
    role: Role


def _locked_message(until: datetime, now: datetime) -> str:
    minutes = max(1, ceil((until - now).total_seconds() / 60))
    return f"Too many failed sign-ins. Sign-in is locked for {minutes} more minute{'s' if minutes != 1 else ''}."


def sign_in(session: Session, username: str, password: str, *, now: datetime | None = None) -> SignInOutcome:
    """Check a username and password. A refusal never says whether the username exists;
    five failures within 15 minutes lock the name for 15 minutes."""
    now = now or datetime.now(UTC)
    name = normalize_username(username)[:200]  # what login_attempts keeps; real names are ≤ 64
    if not name or not password:
        return SignInOutcome(None, "Enter your username and password.")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise ValidationError(f"Passwords are at most {MAX_PASSWORD_BYTES} bytes; this one is longer.")
    # One attempt per name at a time, so parallel guesses cannot all slip in before the lock.
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(name))))
    user = session.scalar(select(User).where(User.username == name).with_for_update())
    # Never the typed text as actor: it may be a password typed in the wrong box.
    actor = Actor(username=user.username if user else ANONYMOUS, role=Role.VIEWER)
    until = sign_in_locked_until(session, name, now)
    if until is not None:
        audit.record(
            session,
            actor,
            "user.sign_in_locked",
            "user",
            user.id if user else None,
            after={"locked_until": until.isoformat()},
        )
        return SignInOutcome(None, _locked_message(until, now))

    password_ok = verify_password(password, user.password_hash if user else _dummy_hash())
    if user is not None and user.active and password_ok:
        session.add(LoginAttempt(username=name, at=now, succeeded=True))
        user.failed_logins = 0
        user.last_login_at = now
        audit.record(session, _view(user).as_actor(), "user.sign_in", "user", user.id)
        return SignInOutcome(_view(user))

    session.add(LoginAttempt(username=name, at=now, succeeded=False))
    if user is not None:
        user.failed_logins += 1
        user.last_failed_login_at = now
    audit.record(session, actor, "user.sign_in_failed", "user", user.id if user else None)
    session.flush()
    until = sign_in_locked_until(session, name, now)
    return SignInOutcome(None, _locked_message(until, now) if until else WRONG)


def credentials(session: Session) -> list[Credential]:
    """Active users, for the sign-in widget's directory of who may hold a session cookie."""
    users = session.scalars(select(User).where(User.active).order_by(User.username))
    return [Credential(u.username, u.name, u.email, Role(u.role)) for u in users]


def current_user(session: Session, username: str, *, signed_in_at: datetime | None) -> UserView | None:
    """The user behind an open session or a sign-in cookie, if it may still be used: the user
    is active and their sessions were not revoked (by a password reset) after it began."""
    user = session.scalar(select(User).where(User.username == username, User.active))
    if user is None:
        return None
    if signed_in_at is not None and user.sessions_revoked_at is not None and user.sessions_revoked_at >= signed_in_at:
        return None
    return _view(user)
