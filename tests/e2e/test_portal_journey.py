"""End to end in Chromium: a manager makes a portal link on the account page; the debtor opens it
on the portal (its own server), disputes an invoice and promises to pay; the manager sees both on
the account. And the portal's server serves no staff page, even on a fresh server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from core import db
from core.portal_links import LinkNotValid
from tests.e2e.server import AppServer, settled, start_server
from tests.e2e.test_sign_in import sign_in
from tests.factories import PASSWORD, make_customer, make_invoice

pytestmark = pytest.mark.e2e


@pytest.fixture
def servers(e2e_users: dict[str, str]) -> Iterator[tuple[AppServer, AppServer]]:
    """The portal, and a staff app whose links point at it."""
    portal = start_server(e2e_users, PASSWORD, script="portal/app.py")
    staff = start_server(e2e_users, PASSWORD, env={"RECOUP_PORTAL_URL": portal.url})
    yield staff, portal
    staff.stop()
    portal.stop()


def open_tab(page: Page, tab: str, button: str) -> None:
    """Open a tab and wait for its form's button. A click landing while the app still redraws
    after the last action can be lost with the redraw: then click again."""
    for _ in range(3):
        page.get_by_role("tab", name=tab).click()
        settled(page)
        if page.get_by_role("button", name=button).is_visible():
            return
    expect(page.get_by_role("button", name=button)).to_be_visible()


def test_a_debtor_disputes_and_promises_on_the_portal_and_the_manager_sees_both(servers, page: Page):
    staff, portal = servers
    tag = uuid.uuid4().hex[:6].upper()
    with db.transaction() as session:
        customer = make_customer(session, name=f"Portal Journey {tag}")
        make_invoice(session, customer, amount="2500.00", due_in_days=-15, number=f"PJ-A-{tag}")
        make_invoice(session, customer, amount="1500.00", due_in_days=-5, number=f"PJ-B-{tag}")

    page.goto(f"{staff.url}/account?id={customer}")
    sign_in(page, staff.users["manager"], staff.password)
    settled(page)
    page.get_by_role("tab", name="Debtor portal").click()
    page.get_by_role("button", name="Make a portal link").click()
    settled(page)
    link = page.get_by_test_id("stCode").inner_text().strip()
    assert link.startswith(f"{portal.url}/?t="), link

    debtor = page.context.new_page()
    debtor.goto(link)
    settled(debtor)
    expect(debtor.get_by_role("heading", name=f"Portal Journey {tag}")).to_be_visible()

    open_tab(debtor, "Dispute", "Dispute this invoice")
    debtor.get_by_label("Tell us more").fill("We never received these goods")
    debtor.get_by_role("button", name="Dispute this invoice").click()
    settled(debtor)
    expect(debtor.get_by_text(f"We have your dispute of invoice PJ-A-{tag}")).to_be_visible()

    open_tab(debtor, "Promise to pay", "Promise to pay")
    debtor.get_by_label("Amount").fill("1000")
    due = datetime.now(ZoneInfo("Asia/Manila")).date() + timedelta(days=7)  # the form's suggestion, in their zone
    debtor.get_by_role("button", name="Promise to pay").click()
    settled(debtor)
    expect(debtor.get_by_text(f"by {due:%d %b %Y}")).to_be_visible()

    page.reload()
    settled(page)
    page.get_by_role("tab", name="Promises and disputes").click()
    panel = page.get_by_role("tabpanel", name="Promises and disputes")
    # The tables are canvases; their cells are in the accessible table behind them.
    expect(panel.get_by_text(f"PJ-A-{tag}")).to_be_attached()  # the dispute
    expect(panel.get_by_text("₱1,000.00")).to_be_attached()  # the promise
    page.get_by_role("tab", name="Timeline").click()
    expect(page.get_by_text("by the debtor, on the portal").first).to_be_visible()


def test_the_portal_server_serves_no_staff_page_and_a_bad_link_shows_nothing(e2e_users, page: Page):
    portal = start_server(e2e_users, PASSWORD, script="portal/app.py")  # fresh: nobody has visited it
    try:
        for path in ("/queue", "/account?id=1", "/admin", "/?t=forged"):
            page.goto(f"{portal.url}{path}")
            settled(page)
            expect(page.get_by_text(str(LinkNotValid()))).to_be_visible()
            expect(page.get_by_role("textbox", name="Password")).to_have_count(0)
            expect(page.get_by_test_id("stDataFrame")).to_have_count(0)
    finally:
        portal.stop()
