"""Users: creating, changing and listing the people who sign in to Recoup."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.contactinfo import normalize_email
from core.errors import Conflict, NotFound, ValidationError
from core.fields import required_text
from core.models import User
from core.roles import Actor, Permission, Role
from core.security import hash_password
from core.services import audit
from core.services.lockout import sign_in_locked_until

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_USER_FIELDS_HIDDEN = ("created_at", "updated_at", "password_hash")


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    name: str
    email: str
    role: Role
    active: bool
    failed_logins: int
    last_login_at: datetime | None
    locked_until: datetime | None = None  # filled in by list_users only

    def as_actor(self) -> Actor:
        return Actor(username=self.username, role=self.role, user_id=self.id, name=self.name)


def _view(user: User) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        name=user.name,
        email=user.email,
        role=Role(user.role),
        active=user.active,
        failed_logins=user.failed_logins,
        last_login_at=user.last_login_at,
    )


def _snapshot(user: User) -> dict[str, object]:
    return audit.snapshot(user, exclude=_USER_FIELDS_HIDDEN)


def _changing(session: Session, actor: Actor, action: str, user: User) -> AbstractContextManager[None]:
    return audit.changing(session, actor, action, "user", user, exclude=_USER_FIELDS_HIDDEN)


def normalize_username(raw: str) -> str:
    return raw.strip().lower()


def _role(raw: str | Role) -> Role:
    try:
        return Role(raw)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise ValidationError(f"Unknown role {raw!r}: choose one of {choices}.") from None


def _get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    return user


def _keep_an_admin(session: Session, user: User) -> None:
    """Refuse a change that would leave nobody able to manage users."""
    # Lock every active admin, so two admins demoting each other at once cannot both pass.
    admins = session.scalars(select(User.id).where(User.role == Role.ADMIN, User.active).with_for_update()).all()
    others = [admin for admin in admins if admin != user.id]
    if user.role == Role.ADMIN and user.active and not others:
        raise ValidationError("This is the last active admin; make another admin first.")


def create_user(
    session: Session, actor: Actor, *, username: str, name: str, email: str, role: str | Role, password: str
) -> UserView:
    audit.require(actor, Permission.MANAGE_USERS, "user.create", "user")
    username = normalize_username(username)
    if not _USERNAME.match(username):
        raise ValidationError(
            "Usernames are 2–64 characters: lowercase letters, digits, dot, dash or underscore,"
            " starting with a letter or digit."
        )
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"The username {username!r} is taken.")
    user = User(
        username=username,
        name=required_text(name, User.name, "Name"),
        email=required_text(normalize_email(email), User.email, "Email"),
        role=_role(role).value,
        password_hash=hash_password(password),
        active=True,
        failed_logins=0,
        version=1,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "user", user.id, after=_snapshot(user))
    return _view(user)


def change_role(session: Session, actor: Actor, user_id: int, role: str | Role) -> UserView:
    audit.require(actor, Permission.MANAGE_USERS, "user.change_role", "user", user_id)
    new_role = _role(role)
    user = _get(session, user_id)
    if user.role == new_role:
        raise ValidationError(f"{user.username} already has the role {new_role}.")
    if new_role != Role.ADMIN:
        _keep_an_admin(session, user)
    with _changing(session, actor, "user.change_role", user):
        user.role = new_role.value
    return _view(user)


def set_active(session: Session, actor: Actor, user_id: int, *, active: bool) -> UserView:
    action = "user.reactivate" if active else "user.deactivate"
    audit.require(actor, Permission.MANAGE_USERS, action, "user", user_id)
    user = _get(session, user_id)
    if user.active == active:
        raise ValidationError(f"{user.username} is already {'active' if active else 'deactivated'}.")
    if not active:
        if user.id == actor.user_id:
            raise ValidationError("You cannot deactivate your own account.")
        _keep_an_admin(session, user)
    with _changing(session, actor, action, user):
        user.active = active
    return _view(user)


def reset_password(session: Session, actor: Actor, user_id: int, password: str) -> UserView:
    """Set a new password; also lifts a sign-in lockout."""
    audit.require(actor, Permission.MANAGE_USERS, "user.reset_password", "user", user_id)
    user = _get(session, user_id)
    with _changing(session, actor, "user.reset_password", user):
        user.password_hash = hash_password(password)
        user.sessions_revoked_at = datetime.now(UTC)  # a browser signed in with the old password is out
        _clear_lockout(user)
    return _view(user)


def unlock(session: Session, actor: Actor, user_id: int) -> UserView:
    """Lift a sign-in lockout before its 15 minutes are up."""
    audit.require(actor, Permission.MANAGE_USERS, "user.unlock", "user", user_id)
    user = _get(session, user_id)
    if sign_in_locked_until(session, user.username, datetime.now(UTC)) is None:
        raise ValidationError(f"{user.username} is not locked out.")
    with _changing(session, actor, "user.unlock", user):
        _clear_lockout(user)
    return _view(user)


def _clear_lockout(user: User) -> None:
    user.failed_logins = 0
    user.lockout_cleared_at = datetime.now(UTC)


def list_users(session: Session, actor: Actor) -> list[UserView]:
    """Everyone, active first, each with their lockout if they have one."""
    audit.require(actor, Permission.MANAGE_USERS, "user.list", "user")
    now = datetime.now(UTC)
    return [
        replace(_view(u), locked_until=sign_in_locked_until(session, u.username, now))
        for u in session.scalars(select(User).order_by(User.active.desc(), User.username))
    ]


def find_active_user(session: Session, username: str) -> UserView | None:
    user = session.scalar(select(User).where(User.username == normalize_username(username), User.active))
    return None if user is None else _view(user)


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0
