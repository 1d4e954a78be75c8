"""End to end in Chromium against `streamlit run`: signing in per role, and direct page URLs
on a freshly started server showing the sign-in instead of data."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.server import AppServer

pytestmark = pytest.mark.e2e


def sign_in(page: Page, username: str, password: str) -> None:
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def wait_for_session_cookie(page: Page, *, present: bool = True) -> None:
    """The sign-in cookie is written (and deleted) by a component in the browser after the
    run; wait until that has happened."""
    for _ in range(100):
        if any(c["name"] == "recoup_session" for c in page.context.cookies()) == present:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the sign-in cookie was never {'written' if present else 'deleted'}")


@pytest.mark.parametrize(
    ("role", "sees_admin"), [("admin", True), ("manager", False), ("collector", False), ("viewer", False)]
)
def test_each_role_signs_in_and_sees_only_its_pages(app_server: AppServer, page: Page, role: str, sees_admin: bool):
    page.goto(app_server.url)
    sign_in(page, app_server.users[role], app_server.password)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_test_id("stCaptionContainer").get_by_text(role.title(), exact=True)).to_be_visible()
    expect(sidebar.get_by_role("link", name="Dashboard")).to_be_visible()
    expect(sidebar.get_by_role("link", name="Admin")).to_have_count(1 if sees_admin else 0)
    expect(sidebar.get_by_role("link", name="Payment plans")).to_have_count(0 if sees_admin else 1)


def test_admin_url_refuses_a_collector(app_server: AppServer, page: Page):
    page.goto(f"{app_server.url}/admin")
    sign_in(page, app_server.users["collector"], app_server.password)
    expect(page.get_by_text(re.compile("cannot open Admin"))).to_be_visible()
    expect(page.get_by_role("heading", name="Admin")).to_have_count(0)


def test_wrong_password_is_refused_without_saying_why(app_server: AppServer, page: Page):
    page.goto(app_server.url)
    sign_in(page, app_server.users["viewer"], "not-the-password")
    expect(page.get_by_text("Username or password is incorrect.")).to_be_visible()
    expect(page.get_by_role("heading", name="Dashboard")).to_have_count(0)


@pytest.mark.parametrize("path", ["admin", "dashboard", "plans", "reports", "workflows"])
def test_direct_url_on_a_fresh_server_shows_sign_in_not_data(fresh_server: AppServer, page: Page, path: str):
    page.goto(f"{fresh_server.url}/{path}")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("textbox", name="Password")).to_be_visible()
    expect(page.get_by_role("heading", name="Admin")).to_have_count(0)
    expect(page.get_by_role("heading", name="Payment plans")).to_have_count(0)
    expect(page.get_by_role("heading", name="Workflows")).to_have_count(0)
    expect(page.get_by_role("heading", name="Reports")).to_have_count(0)
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(0)


def test_deep_link_survives_sign_in(fresh_server: AppServer, page: Page):
    page.goto(f"{fresh_server.url}/admin")
    sign_in(page, fresh_server.users["admin"], fresh_server.password)
    expect(page.get_by_role("heading", name="Admin")).to_be_visible()
    expect(page.get_by_role("tab", name="Audit log")).to_be_visible()


def test_sign_in_survives_a_reload(app_server: AppServer, page: Page):
    page.goto(app_server.url)
    sign_in(page, app_server.users["collector"], app_server.password)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    wait_for_session_cookie(page)
    page.reload()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)


def test_sign_out_returns_to_sign_in(app_server: AppServer, page: Page):
    page.goto(app_server.url)
    sign_in(page, app_server.users["manager"], app_server.password)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    wait_for_session_cookie(page)
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    wait_for_session_cookie(page, present=False)
    page.reload()  # the cookie is gone too: a reload does not sign back in
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_a_password_reset_signs_out_browsers_holding_the_old_cookie(app_server: AppServer, page: Page):
    from core import db
    from core.services import users
    from tests.factories import SYSTEM, make_user

    with db.transaction() as session:
        user = make_user(session, "viewer", username="e2e_reset_me")
    page.goto(app_server.url)
    sign_in(page, user.username, app_server.password)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    wait_for_session_cookie(page)

    with db.transaction() as session:
        users.reset_password(session, SYSTEM, user.id, "a-brand-new-password")
    page.reload()

    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("heading", name="Dashboard")).to_have_count(0)
