"""The demo book: deterministic for a seed, and shaped like the three markets it stands for."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core import db
from core.demo import DEMO_USERS, DemoResult, seed_demo
from core.roles import Role
from core.services import dashboard
from tests.factories import SYSTEM

AS_OF = date(2024, 6, 30)
DEMO = "c.external_ref ~ '^(PH|SG|US)-[0-9]+$'"  # the demo's customers, not any other test's

# Everything the seed decides, without database ids (sequences move on between runs) and
# without the timestamps of the entries services stamp with the clock (disputes, promises, holds).
FINGERPRINT = {
    "customers": f"""SELECT c.external_ref, c.name, c.kind, c.country, c.time_zone, c.segment, c.risk_tier,
                            u.username, c.credit_limit, c.on_hold
                     FROM customers c JOIN users u ON u.id = c.collector_id WHERE {DEMO}""",
    "contacts": f"""SELECT c.external_ref, ct.name, ct.role, ct.email, ct.phone, ct.consent_sms
                    FROM contacts ct JOIN customers c ON c.id = ct.customer_id WHERE {DEMO}""",
    "invoices": f"""SELECT c.external_ref, i.number, i.issue_date, i.due_date, i.currency, i.amount, i.status,
                           i.disputed
                    FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE {DEMO}""",
    "payments": f"""SELECT i.number, p.received_on, p.amount, p.method, a.amount
                    FROM allocations a JOIN payments p ON p.id = a.payment_id
                    JOIN invoices i ON i.id = a.invoice_id JOIN customers c ON c.id = i.customer_id
                    WHERE {DEMO}""",
    "activities": f"""SELECT c.external_ref, a.kind, a.outcome, regexp_replace(a.summary, '#[0-9]+', '#'), a.actor,
                             CASE WHEN a.kind IN ('dispute', 'promise', 'hold', 'plan', 'payment') THEN NULL
                                  ELSE a.occurred_at END
                      FROM activities a JOIN customers c ON c.id = a.customer_id WHERE {DEMO}""",
}


def fingerprint(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    return {name: sorted(map(tuple, session.execute(text(sql))), key=repr) for name, sql in FINGERPRINT.items()}


def seed(session: Session) -> DemoResult:
    return seed_demo(
        session, customer_count=25, seed=3, as_of=AS_OF, password_for=lambda username: "demo-password-" + username
    )


@dataclass(frozen=True)
class DemoBook:
    session: Session
    result: DemoResult
    first_fingerprint: dict[str, list[tuple[Any, ...]]]
    second_fingerprint: dict[str, list[tuple[Any, ...]]]


@pytest.fixture(scope="module")
def demo(database: str) -> Iterator[DemoBook]:
    """Seed twice on one connection (the first run rolled back, usernames being unique), keep the
    second for the module's tests, and roll everything back at the end. Seeding hashes four
    passwords and writes a few thousand rows, so it is done once per module, not per test."""
    connection = db.engine().connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    first_run = session.begin_nested()
    seed(session)
    first = fingerprint(session)
    first_run.rollback()
    result = seed(session)
    yield DemoBook(session, result, first, fingerprint(session))
    session.close()
    outer.rollback()
    connection.close()


def rows(demo: DemoBook, sql: str) -> list[Any]:
    return list(demo.session.execute(text(sql)))


def test_the_same_seed_builds_the_same_book(demo):
    assert all(demo.first_fingerprint.values())
    assert demo.first_fingerprint == demo.second_fingerprint


def test_the_result_counts_what_was_written(demo):
    [(customers, invoices, payments)] = rows(
        demo,
        f"""
        SELECT count(DISTINCT c.id), count(DISTINCT i.id), count(DISTINCT p.id)
        FROM customers c LEFT JOIN invoices i ON i.customer_id = c.id LEFT JOIN payments p ON p.customer_id = c.id
        WHERE {DEMO}""",
    )
    assert (customers, invoices, payments) == (25, demo.result.invoices, demo.result.payments)


def test_there_is_one_demo_user_per_role_and_each_can_sign_in(demo):
    assert sorted(login.role for login in demo.result.logins) == sorted(Role)
    assert {login.username: login.password for login in demo.result.logins} == {
        username: "demo-password-" + username for username, _, _ in DEMO_USERS
    }
    stored = dict(
        rows(
            demo,
            "SELECT username, role FROM users WHERE active AND username IN ('admin', 'manager', 'collector', 'viewer')",
        )
    )
    assert stored == {username: role.value for username, _, role in DEMO_USERS}


def test_every_country_is_present_with_time_zones_of_that_country(demo):
    zones: dict[str, set[str]] = {}
    for country, zone in rows(demo, f"SELECT c.country, c.time_zone FROM customers c WHERE {DEMO}"):
        zones.setdefault(country, set()).add(zone)

    assert set(zones) == {"PH", "SG", "US"}
    assert zones["PH"] == {"Asia/Manila"}
    assert zones["SG"] == {"Asia/Singapore"}
    assert all(zone.startswith("America/") for zone in zones["US"])


def test_phones_are_e164_with_the_countrys_calling_code(demo):
    calling_code = {"PH": "+63", "SG": "+65", "US": "+1"}
    phones = rows(
        demo,
        f"""SELECT c.country, ct.phone FROM contacts ct JOIN customers c ON c.id = ct.customer_id
                            WHERE {DEMO} AND ct.phone IS NOT NULL""",
    )

    assert len(phones) >= 25
    for country, phone in phones:
        assert phone.startswith(calling_code[country]), (country, phone)
        assert phone[1:].isdigit() and 8 <= len(phone) <= 16


def test_invoices_are_in_the_currency_of_their_customers_country(demo):
    currencies = rows(
        demo,
        f"""SELECT c.country, array_agg(DISTINCT i.currency)
                                FROM invoices i JOIN customers c ON c.id = i.customer_id
                                WHERE {DEMO} GROUP BY c.country""",
    )
    assert dict(currencies) == {"PH": ["PHP"], "SG": ["SGD"], "US": ["USD"]}


def test_there_are_full_and_partial_payments(demo):
    [(full, partial)] = rows(
        demo,
        f"""
        SELECT count(*) FILTER (WHERE paid = i.amount), count(*) FILTER (WHERE paid < i.amount)
        FROM invoices i JOIN customers c ON c.id = i.customer_id
        JOIN (SELECT invoice_id, sum(amount) AS paid FROM allocations GROUP BY invoice_id) a ON a.invoice_id = i.id
        WHERE {DEMO}""",
    )
    assert full > 0
    assert partial > 0


def test_open_balances_spread_over_several_aging_buckets(demo):
    summary = dashboard.book_summary(demo.session, SYSTEM, as_of=AS_OF)
    for figures in summary.currencies:
        filled = [bucket for bucket, money in figures.by_bucket.items() if not money.is_zero()]
        assert "current" in filled
        assert len(filled) >= 3, (figures.currency, filled)


def test_the_demo_has_payment_plans_in_every_status(demo):
    statuses = demo.session.execute(
        text(
            f"""SELECT DISTINCT p.status FROM payment_plans p JOIN customers c ON c.id = p.customer_id
                WHERE {DEMO}"""
        )
    ).scalars()
    assert set(statuses) == {"current", "late", "broken", "completed", "cancelled", "proposed", "rejected"}


def test_every_report_renders_with_charts_for_the_demo_book(demo, monkeypatch):
    """The Reports page in AppTest on the demo book's own (rolled-back) connection."""
    from datetime import timedelta

    from sqlalchemy.orm import sessionmaker

    from tests.ui.helpers import signed_in, tables_with, texts

    factory = sessionmaker(bind=demo.session.connection(), join_transaction_mode="create_savepoint")
    monkeypatch.setattr(db, "session_factory", lambda: factory)
    at = signed_in("manager", "reports")
    at.date_input(key="reports_period").set_value((AS_OF - timedelta(days=365), AS_OF))
    at.date_input(key="reports_as_of").set_value(AS_OF)
    at = at.run()

    assert not at.exception, at.exception
    assert not at.error
    assert texts(at.title) == ["Reports"]
    aging = tables_with(at, "180+")[0]
    assert set(aging["currency"]) == {"PHP", "SGD", "USD"}  # one row each: never added across currencies
    assert set(tables_with(at, "dso_countback")[0]["currency"]) == {"PHP", "SGD", "USD"}
    assert not tables_with(at, "late_share")[0].empty
    assert not tables_with(at, "weighted")[0].empty  # the demo's plans and promises give a forecast
    # No reminder was sent and no dispute open by the book's day (its disputes are opened when it is
    # seeded): those two say so; every other report draws its chart.
    assert [str(i.value) for i in at.info] == [
        "No reminder was sent in this period for these choices.",
        "No dispute is open for these choices.",
    ]
    assert len(at.get("vega_lite_chart")) >= 6


def test_the_portal_opens_for_demo_debtors_and_takes_a_dispute_and_a_promise(demo, monkeypatch):
    """The debtor portal in AppTest on the demo book: one debtor of each country sees their own
    account; one disputes an invoice and promises to pay, and both are on their timeline."""
    from sqlalchemy.orm import sessionmaker

    from core.models import Activity
    from core.services import portal
    from tests.factories import SYSTEM
    from tests.ui.helpers import app, texts

    factory = sessionmaker(bind=demo.session.connection(), join_transaction_mode="create_savepoint")
    monkeypatch.setattr(db, "session_factory", lambda: factory)
    owing = rows(
        demo,
        """SELECT DISTINCT ON (c.country) c.id, c.name FROM customers c JOIN invoices i ON i.customer_id = c.id
           WHERE i.status = 'open' AND NOT i.disputed ORDER BY c.country, c.id""",
    )
    assert len(owing) >= 3
    for customer_id, name in owing:
        at = app("portal/app.py")
        at.query_params["t"] = portal.portal_link(demo.session, SYSTEM, customer_id).split("?t=", 1)[1]
        at.run()
        assert not at.exception and not at.error, (name, at.exception, texts(at.error))
        assert texts(at.title) == [name]

    at.text_area(key="portal_dispute_note").input("Not delivered")
    at.button(key="FormSubmitter:portal_dispute_form-Dispute this invoice").click().run()
    at.text_input(key="portal_promise_amount").input("100")
    at.button(key="FormSubmitter:portal_promise_form-Promise to pay").click().run()
    assert not at.error, texts(at.error)
    kinds = demo.session.scalars(
        select(Activity.kind).where(Activity.customer_id == owing[-1][0], Activity.actor == "portal")
    ).all()
    assert {"dispute", "promise"} <= set(kinds)
