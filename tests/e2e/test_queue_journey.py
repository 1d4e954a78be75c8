"""End to end in Chromium: a collector opens the top account of "My queue", logs a call with a
promise to pay, and sees both on the account's timeline."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from core import db
from core.services import users
from tests.e2e.server import AppServer, settled
from tests.e2e.test_sign_in import sign_in
from tests.factories import make_customer, make_invoice

pytestmark = pytest.mark.e2e


def test_a_collector_works_the_top_account_of_their_queue(app_server: AppServer, page: Page):
    tag = uuid.uuid4().hex[:6].upper()
    with db.transaction() as session:
        collector = users.find_active_user(session, app_server.users["collector"])
        top = make_customer(session, collector_id=collector.id, name=f"Topmost Holdings {tag}")
        make_invoice(session, top, amount="9000000.00", due_in_days=-200, number=f"TOP-{tag}")

    page.goto(app_server.url)
    sign_in(page, app_server.users["collector"], app_server.password)
    settled(page)  # a click while the dashboard still runs can be lost to its rerun
    page.get_by_test_id("stSidebar").get_by_role("link", name="Work queue").click()
    expect(page.get_by_role("heading", name="Work queue")).to_be_visible()
    settled(page)  # a page link clicked during a rerun sets its query but the page switch is lost
    # Near the top, not necessarily first: other journeys share this server and its collector.
    page.get_by_role("link", name=re.compile(rf"^\d+\. Topmost Holdings {tag}$")).click()
    expect(page.get_by_role("heading", name=f"Topmost Holdings {tag}")).to_be_visible()
    settled(page)  # a dropdown opened while the page still runs is closed by the rerun

    page.get_by_test_id("stSelectbox").filter(has=page.get_by_text("Outcome", exact=True)).click()
    page.keyboard.type("Promise")  # filters the list: the option is drawn even if the list is scrolled
    page.get_by_role("option", name="Promise made").click()
    page.get_by_role("textbox", name="Promised amount").fill("2,500.00")
    page.get_by_role("textbox", name="Note", exact=True).fill(f"Will pay by transfer {tag}")
    page.get_by_role("button", name="Log call").click()

    expect(page.get_by_text("Call logged with the promise.")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Promised ₱2,500\.00 by"))).to_be_visible()
    expect(page.get_by_text(re.compile(rf"Promise made.*Will pay by transfer {tag}"))).to_be_visible()
