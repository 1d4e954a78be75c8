"""The book summary on a tiny hand-made book: balances and aging per currency, as of a date."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from core.aging import BUCKETS
from core.money import Money
from core.roles import Role
from core.services import dashboard, ledger
from tests.factories import SYSTEM, make_customer, make_invoice, make_user

# Long before the invoices any other test makes (those are dated around today), so that rows
# other tests may have committed cannot creep into these totals.
AS_OF = date(2009, 3, 31)


def php(amount: str) -> Money:
    return Money(amount, "PHP")


def invoice(session: Session, customer_id: int, amount: str, *, days_past_due: int, currency: str = "PHP") -> int:
    return make_invoice(session, customer_id, amount=amount, currency=currency, due_in_days=-days_past_due, as_of=AS_OF)


def payment(session: Session, customer_id: int, invoice_id: int, amount: Money, received_on: date) -> None:
    ledger.record_payment(
        session,
        SYSTEM,
        customer_id,
        amount=amount,
        received_on=received_on,
        reference=f"DASH-{invoice_id}-{received_on}",
        invoice_ids=[invoice_id],
    )


@pytest.fixture
def book(session: Session) -> dict[str, int]:
    """Three customers: pesos at the bucket edges, dollars 61 days late, pesos not yet due."""
    pesos, dollars, current = make_customer(session), make_customer(session), make_customer(session)
    invoice(session, pesos, "100.00", days_past_due=0)
    invoice(session, pesos, "200.00", days_past_due=1)
    thirty = invoice(session, pesos, "400.00", days_past_due=30)
    thirty_one = invoice(session, pesos, "800.00", days_past_due=31)
    payment(session, pesos, thirty_one, php("50.00"), received_on=AS_OF)  # on the as-of date: counts
    payment(session, pesos, thirty, php("400.00"), received_on=AS_OF + timedelta(days=1))  # after: does not
    invoice(session, pesos, "5000.00", days_past_due=-40)  # issued 10 days after AS_OF: not yet in the book
    invoice(session, dollars, "300.00", days_past_due=61, currency="USD")
    invoice(session, current, "1600.00", days_past_due=-5)
    return {"pesos": pesos, "dollars": dollars, "current": current}


def by_currency(summary: dashboard.BookSummary) -> dict[str, dashboard.CurrencySummary]:
    return {figures.currency: figures for figures in summary.currencies}


def test_the_book_is_summed_per_currency_and_never_across(session, book):
    summary = dashboard.book_summary(session, SYSTEM, as_of=AS_OF)

    assert [figures.currency for figures in summary.currencies] == ["PHP", "USD"]
    for figures in summary.currencies:
        amounts = [figures.open_balance, figures.overdue_balance, *figures.by_bucket.values()]
        assert {money.currency for money in amounts} == {figures.currency}


def test_peso_balances_count_payments_received_up_to_the_as_of_date_only(session, book):
    pesos = by_currency(dashboard.book_summary(session, SYSTEM, as_of=AS_OF))["PHP"]

    # 100 + 200 + 400 (paid the day after) + 750 (800 less 50) + 1600 not yet due
    assert pesos.open_balance == php("3050.00")
    assert pesos.overdue_balance == php("1350.00")
    assert pesos.overdue_share == Decimal("1350.00") / Decimal("3050.00")
    assert (pesos.open_invoices, pesos.overdue_invoices) == (5, 3)


def test_the_aging_edges_land_in_the_right_buckets(session, book):
    pesos = by_currency(dashboard.book_summary(session, SYSTEM, as_of=AS_OF))["PHP"]

    assert list(pesos.by_bucket) == list(BUCKETS)
    assert pesos.by_bucket == {
        "current": php("1700.00"),  # due today (0 days) and due in 5 days
        "1-30": php("600.00"),  # 1 day and 30 days past due
        "31-60": php("750.00"),  # 31 days past due, less the payment on the as-of date
        "61-90": php("0"),
        "91-180": php("0"),
        "180+": php("0"),
    }


def test_a_later_as_of_date_counts_the_later_payment_and_ages_everything_by_a_day(session, book):
    pesos = by_currency(dashboard.book_summary(session, SYSTEM, as_of=AS_OF + timedelta(days=1)))["PHP"]

    assert pesos.by_bucket["current"] == php("1600.00")
    assert pesos.by_bucket["1-30"] == php("300.00")  # the 30-day invoice is paid; 0 and 1 moved up a day
    assert pesos.by_bucket["31-60"] == php("750.00")


def test_dollar_figures_stand_alone(session, book):
    dollars = by_currency(dashboard.book_summary(session, SYSTEM, as_of=AS_OF))["USD"]

    assert dollars.open_balance == dollars.overdue_balance == Money("300.00", "USD")
    assert dollars.by_bucket["61-90"] == Money("300.00", "USD")
    assert dollars.overdue_share == 1


def test_customers_with_a_balance_and_with_something_overdue_are_counted(session, book):
    summary = dashboard.book_summary(session, SYSTEM, as_of=AS_OF)
    assert (summary.customers_with_balance, summary.customers_overdue) == (3, 2)


def test_a_viewer_may_view_the_dashboard(session, book):
    viewer = make_user(session, Role.VIEWER).as_actor()
    assert dashboard.book_summary(session, viewer, as_of=AS_OF) == dashboard.book_summary(session, SYSTEM, as_of=AS_OF)
