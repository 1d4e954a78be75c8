"""Signing in and out through the form, the refusals it shows, and the menu each role gets."""

from __future__ import annotations

import pytest

from core import db
from core.roles import Role
from core.security import MAX_PASSWORD_BYTES
from core.services import users
from core.services.signin import WRONG
from tests.factories import PASSWORD, SYSTEM, make_user
from tests.ui.helpers import app, commit_staff, shows_sign_in_form, sign_in, signed_in, texts


@pytest.fixture(scope="module")
def staff(database: str) -> dict[Role, str]:
    return commit_staff("ui_signin")


def menu_labels(at) -> list[str]:
    return [link.proto.label for link in at.sidebar.get("page_link")]


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(staff):
    at = sign_in(app().run(), staff[Role.VIEWER], "not-the-password")

    assert not at.exception
    assert texts(at.error) == [WRONG]
    assert shows_sign_in_form(at)
    assert not at.metric


def test_an_unknown_username_gets_the_same_refusal_as_a_wrong_password(database):
    at = sign_in(app().run(), "ui_signin_nobody", PASSWORD)

    assert texts(at.error) == [WRONG]


def test_an_empty_form_asks_for_username_and_password(database):
    at = app().run()
    at = at.button(key="sign_in_submit").click().run()

    assert texts(at.error) == ["Enter your username and password."]
    assert not at.metric


def test_a_password_over_72_bytes_is_refused_with_the_limit(staff):
    too_long = "é" * (MAX_PASSWORD_BYTES // 2 + 1)  # under 72 characters, over 72 bytes
    at = sign_in(app().run(), staff[Role.VIEWER], too_long)

    assert not at.exception
    (message,) = texts(at.error)
    assert str(MAX_PASSWORD_BYTES) in message
    assert shows_sign_in_form(at)
    assert not at.metric


def test_a_correct_sign_in_opens_the_dashboard(staff):
    at = sign_in(app().run(), staff[Role.COLLECTOR])

    assert not at.exception
    assert not at.error
    assert texts(at.title) == ["Dashboard"]
    assert {m.label for m in at.metric} >= {"Customers", "Open invoices"}
    assert not shows_sign_in_form(at)


def test_the_username_is_not_case_sensitive(staff):
    at = sign_in(app().run(), f"  {staff[Role.MANAGER].upper()} ")

    assert not at.error
    assert texts(at.title) == ["Dashboard"]


def test_five_wrong_passwords_lock_the_username(database):
    with db.transaction() as session:
        make_user(session, Role.VIEWER, username="ui_signin_locked")
    at = app().run()
    for _ in range(5):
        at = sign_in(at, "ui_signin_locked", "not-the-password")

    at = sign_in(at, "ui_signin_locked", PASSWORD)

    (message,) = texts(at.error)
    assert message.startswith("Too many failed sign-ins.")
    assert not at.metric


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_the_sidebar_links_to_admin_for_an_admin_only(staff, role):
    at = sign_in(app().run(), staff[role])

    expected = {
        Role.ADMIN: ["Dashboard", "Work queue", "Admin"],
        Role.MANAGER: [
            "Dashboard",
            "Work queue",
            "Payment plans",
            "Reports",
            "Import",
            "Unapplied payments",
            "Workflows",
        ],
    }.get(role, ["Dashboard", "Work queue", "Payment plans", "Reports"])
    assert menu_labels(at) == expected
    assert "sign_out" in {button.key for button in at.sidebar.button}


def test_signing_out_shows_the_sign_in_form_again(staff):
    at = sign_in(app().run(), staff[Role.MANAGER])
    assert texts(at.title) == ["Dashboard"]

    at = at.sidebar.button(key="sign_out").click().run()

    assert not at.exception
    assert shows_sign_in_form(at)
    assert "You are signed out." in texts(at.info)
    assert not at.metric
    assert not at.get("page_link")
    assert not at.session_state["authentication_status"]


def test_after_signing_out_one_can_sign_in_again(staff):
    at = sign_in(app().run(), staff[Role.MANAGER])
    at = at.sidebar.button(key="sign_out").click().run()

    at = sign_in(at, staff[Role.ADMIN])

    assert texts(at.title) == ["Dashboard"]
    assert menu_labels(at) == ["Dashboard", "Work queue", "Admin"]


def test_a_deactivated_user_is_signed_out_on_their_next_page_load(database):
    with db.transaction() as session:
        gone = make_user(session, Role.COLLECTOR, username="ui_signin_gone")
    at = signed_in(gone.username)
    assert texts(at.title) == ["Dashboard"]
    with db.transaction() as session:
        users.set_active(session, SYSTEM, gone.id, active=False)

    at.run()

    assert not at.exception
    assert any("session has ended" in message for message in texts(at.warning))
    assert shows_sign_in_form(at)
    assert not at.metric


def test_a_password_reset_ends_a_session_that_is_already_open(database):
    with db.transaction() as session:
        user = make_user(session, Role.VIEWER, username="ui_signin_reset")
    at = sign_in(app().run(), user.username)
    assert texts(at.title) == ["Dashboard"]
    with db.transaction() as session:
        users.reset_password(session, SYSTEM, user.id, "a-brand-new-password")

    at.run()

    assert any("session has ended" in message for message in texts(at.warning))
    assert shows_sign_in_form(at)
