"""Users: validation and the admin safeguards. Sign-in: refusals that reveal nothing, and the lockout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.errors import Conflict, ValidationError
from core.models import User
from core.roles import Role
from core.services import signin, users
from core.services.users import UserView
from tests.factories import PASSWORD, SYSTEM, make_user

NOW = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
WRONG = "Username or password is incorrect."


def minutes(n: float) -> datetime:
    return NOW + timedelta(minutes=n)


def fail(session: Session, username: str, *at_minutes: float) -> list[str | None]:
    """Sign in with a wrong password at each time; return the refusals shown."""
    return [signin.sign_in(session, username, "not-the-password", now=minutes(m)).refusal for m in at_minutes]


def only_admins(session: Session, *admins: UserView) -> None:
    """Make these the only active admins, whatever admins other tests committed (undone by the rollback)."""
    keep = [admin.id for admin in admins]
    session.execute(update(User).where(User.role == Role.ADMIN, User.id.not_in(keep)).values(active=False))


# Creating users


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"username": "x"}, "2–64 characters"),
        ({"username": "has space"}, "lowercase letters"),
        ({"username": "-dash-first"}, "starting with a letter or digit"),
        ({"username": "ünïcode"}, "lowercase letters"),
        ({"password": "short"}, "at least 10 characters"),
        ({"password": "a" * 73}, "72"),
        ({"password": "é" * 37}, "72"),  # 37 characters, 74 bytes
        ({"role": "superuser"}, "Unknown role"),
        ({"name": "   "}, "Name is required"),
    ],
    ids=[
        "too-short",
        "space",
        "leading-dash",
        "non-ascii",
        "short-password",
        "73-byte-password",
        "74-byte-accented-password",
        "unknown-role",
        "blank-name",
    ],
)
def test_create_user_refuses_invalid_input(session, changes, message):
    fields = {
        "username": "valid.name",
        "name": "Valid Name",
        "email": "valid@example.com",
        "role": Role.COLLECTOR,
        "password": PASSWORD,
        **changes,
    }
    with pytest.raises(ValidationError, match=message):
        users.create_user(session, SYSTEM, **fields)
    assert users.find_active_user(session, "valid.name") is None


def test_create_user_normalises_the_username_and_refuses_a_duplicate(session):
    made = users.create_user(
        session,
        SYSTEM,
        username="  Dana.Cruz ",
        name="Dana Cruz",
        email="dana@example.com",
        role="manager",
        password=PASSWORD,
    )
    assert (made.username, made.role, made.active) == ("dana.cruz", Role.MANAGER, True)

    with pytest.raises(Conflict, match="taken"):
        users.create_user(
            session,
            SYSTEM,
            username="DANA.CRUZ",
            name="Another Dana",
            email="d2@example.com",
            role=Role.VIEWER,
            password=PASSWORD,
        )


# Keeping an admin


def test_the_last_active_admin_cannot_be_deactivated(session):
    admin = make_user(session, Role.ADMIN)
    only_admins(session, admin)
    with pytest.raises(ValidationError, match="last active admin"):
        users.set_active(session, SYSTEM, admin.id, active=False)
    assert users.find_active_user(session, admin.username) is not None


def test_the_last_active_admin_cannot_be_demoted(session):
    admin = make_user(session, Role.ADMIN)
    only_admins(session, admin)
    with pytest.raises(ValidationError, match="last active admin"):
        users.change_role(session, SYSTEM, admin.id, Role.MANAGER)
    assert users.find_active_user(session, admin.username).role == Role.ADMIN


def test_an_admin_can_be_demoted_and_deactivated_while_another_admin_remains(session):
    first, second = make_user(session, Role.ADMIN), make_user(session, Role.ADMIN)
    only_admins(session, first, second)

    assert users.change_role(session, second.as_actor(), first.id, Role.MANAGER).role == Role.MANAGER
    assert users.set_active(session, second.as_actor(), first.id, active=False).active is False


def test_an_admin_cannot_deactivate_their_own_account(session):
    me, other = make_user(session, Role.ADMIN), make_user(session, Role.ADMIN)
    with pytest.raises(ValidationError, match="your own account"):
        users.set_active(session, me.as_actor(), me.id, active=False)
    assert users.set_active(session, me.as_actor(), other.id, active=False).active is False


# Signing in


def test_a_good_sign_in_returns_the_user_and_clears_the_failure_count(session):
    user = make_user(session, Role.COLLECTOR)
    assert fail(session, user.username, 0, 1) == [WRONG, WRONG]
    assert users.find_active_user(session, user.username).failed_logins == 2

    outcome = signin.sign_in(session, f"  {user.username.upper()} ", PASSWORD, now=minutes(2))

    assert outcome.refusal is None
    assert (outcome.user.id, outcome.user.failed_logins, outcome.user.last_login_at) == (user.id, 0, minutes(2))


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(session):
    user = make_user(session, Role.VIEWER)
    outcome = signin.sign_in(session, user.username, "not-the-password", now=NOW)
    assert (outcome.user, outcome.refusal) == (None, WRONG)


def test_an_inactive_user_with_the_right_password_gets_the_same_refusal(session):
    user = make_user(session, Role.VIEWER)
    users.set_active(session, SYSTEM, user.id, active=False)
    outcome = signin.sign_in(session, user.username, PASSWORD, now=NOW)
    assert (outcome.user, outcome.refusal) == (None, WRONG)


def test_five_failures_within_fifteen_minutes_lock_even_the_right_password(session):
    user = make_user(session, Role.COLLECTOR)
    refusals = fail(session, user.username, 0, 1, 2, 3, 4)
    assert refusals[:4] == [WRONG] * 4
    assert "locked" in refusals[4]

    sixth = signin.sign_in(session, user.username, PASSWORD, now=minutes(5))

    assert sixth.user is None
    assert "locked" in sixth.refusal
    assert "14 more minutes" in sixth.refusal  # locked until 15 minutes after the fifth failure


def test_an_unknown_username_is_locked_the_same_way_so_its_existence_is_not_revealed(session):
    known = make_user(session, Role.COLLECTOR)
    known_refusals = fail(session, known.username, 0, 1, 2, 3, 4)
    unknown_refusals = fail(session, "no-such-user", 0, 1, 2, 3, 4)
    assert unknown_refusals == known_refusals

    known_sixth = signin.sign_in(session, known.username, PASSWORD, now=minutes(5))
    unknown_sixth = signin.sign_in(session, "no-such-user", PASSWORD, now=minutes(5))
    assert "locked" in unknown_sixth.refusal
    assert unknown_sixth == known_sixth


def test_the_lock_lifts_fifteen_minutes_after_the_fifth_failure(session):
    user = make_user(session, Role.COLLECTOR)
    fail(session, user.username, 0, 1, 2, 3, 4)

    assert "locked" in signin.sign_in(session, user.username, PASSWORD, now=minutes(4 + 14)).refusal
    outcome = signin.sign_in(session, user.username, PASSWORD, now=minutes(4 + 16))
    assert (outcome.refusal, outcome.user.id) == (None, user.id)


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(session):
    user = make_user(session, Role.COLLECTOR)
    assert fail(session, user.username, 0, 4, 8, 12, 16) == [WRONG] * 5

    outcome = signin.sign_in(session, user.username, PASSWORD, now=minutes(17))
    assert (outcome.refusal, outcome.user.id) == (None, user.id)


def test_a_good_sign_in_resets_the_count_towards_the_lock(session):
    user = make_user(session, Role.COLLECTOR)
    fail(session, user.username, 0, 1, 2, 3)
    assert signin.sign_in(session, user.username, PASSWORD, now=minutes(4)).user is not None

    assert fail(session, user.username, 5, 6, 7, 8) == [WRONG] * 4  # eight failures in nine minutes, none locks
    assert signin.sign_in(session, user.username, PASSWORD, now=minutes(9)).user is not None


def test_an_absurdly_long_username_is_refused_like_any_other(session):
    outcome = signin.sign_in(session, "x" * 250, "not-the-password", now=NOW)
    assert (outcome.user, outcome.refusal) == (None, WRONG)


# Who may sign in at all


def test_find_active_user_and_credentials_leave_out_inactive_users(session):
    active, leaving = make_user(session, Role.COLLECTOR), make_user(session, Role.VIEWER)
    users.set_active(session, SYSTEM, leaving.id, active=False)

    assert users.find_active_user(session, active.username.upper()).id == active.id
    assert users.find_active_user(session, leaving.username) is None
    names = {credential.username for credential in signin.credentials(session)}
    assert active.username in names
    assert leaving.username not in names


def lock_out_now(session: Session, username: str) -> datetime:
    now = datetime.now(UTC)
    for n in range(5):
        signin.sign_in(session, username, "not-the-password", now=now - timedelta(minutes=5 - n))
    return now


def test_an_admin_unlocks_a_locked_out_user(session):
    user = make_user(session, Role.COLLECTOR)
    now = lock_out_now(session, user.username)
    [listed] = [u for u in users.list_users(session, SYSTEM) if u.id == user.id]
    assert listed.locked_until is not None and listed.locked_until > now

    users.unlock(session, SYSTEM, user.id)

    outcome = signin.sign_in(session, user.username, PASSWORD, now=datetime.now(UTC))
    assert (outcome.refusal, outcome.user.id) == (None, user.id)


def test_resetting_a_password_lifts_the_lockout(session):
    user = make_user(session, Role.COLLECTOR)
    lock_out_now(session, user.username)

    users.reset_password(session, SYSTEM, user.id, "a-brand-new-password")

    outcome = signin.sign_in(session, user.username, "a-brand-new-password", now=datetime.now(UTC))
    assert (outcome.refusal, outcome.user.id) == (None, user.id)


def test_unlocking_a_user_who_is_not_locked_is_refused(session):
    user = make_user(session, Role.COLLECTOR)
    with pytest.raises(ValidationError, match="not locked out"):
        users.unlock(session, SYSTEM, user.id)


@pytest.mark.parametrize("known", [True, False], ids=["known-user", "unknown-user"])
def test_parallel_guesses_cannot_slip_past_the_lockout(database, known):
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func, select

    from core import db
    from core.models import LoginAttempt

    username = f"parallel_guess_{known}".lower()
    if known:
        with db.transaction() as s:
            make_user(s, Role.VIEWER, username=username)

    def guess(password: str) -> str | None:
        with db.transaction() as s:
            return signin.sign_in(s, username, password).refusal

    with ThreadPoolExecutor(max_workers=8) as pool:
        refusals = list(pool.map(guess, ["wrong-password-1"] * 16))

    with db.transaction() as s:
        recorded = s.scalar(select(func.count()).where(LoginAttempt.username == username, ~LoginAttempt.succeeded))
    assert recorded == 5  # the rest were refused as locked without being tried
    assert sum("locked" in (r or "") for r in refusals) == 12
    assert "locked" in guess(PASSWORD)


def test_a_password_reset_ends_sessions_and_cookies_begun_before_it(session):
    user = make_user(session, Role.COLLECTOR)
    issued = datetime.now(UTC) - timedelta(minutes=1)
    assert signin.current_user(session, user.username, signed_in_at=issued) is not None

    users.reset_password(session, SYSTEM, user.id, "a-brand-new-password")

    assert signin.current_user(session, user.username, signed_in_at=issued) is None
    assert (
        signin.current_user(session, user.username, signed_in_at=datetime.now(UTC) + timedelta(seconds=1)) is not None
    )


def test_a_session_of_a_deactivated_or_unknown_user_is_over(session):
    user = make_user(session, Role.COLLECTOR)
    users.set_active(session, SYSTEM, user.id, active=False)
    now = datetime.now(UTC)
    assert signin.current_user(session, user.username, signed_in_at=now) is None
    assert signin.current_user(session, "nobody-at-all", signed_in_at=now) is None
