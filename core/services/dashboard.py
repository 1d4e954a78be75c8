"""The first dashboard: open and overdue balance per currency, aging, and counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.aging import BUCKETS, aging_bucket
from core.models import Customer
from core.money import Money
from core.reports import report_sql
from core.roles import Actor, Permission
from core.services import audit


@dataclass(frozen=True)
class CurrencySummary:
    currency: str
    open_balance: Money
    overdue_balance: Money
    open_invoices: int
    overdue_invoices: int
    by_bucket: dict[str, Money] = field(default_factory=dict)

    @property
    def overdue_share(self) -> Decimal:
        """Overdue ÷ open balance, 0–1; zero when nothing is open."""
        if self.open_balance.is_zero():
            return Decimal(0)
        return self.overdue_balance.amount / self.open_balance.amount


@dataclass(frozen=True)
class BookSummary:
    as_of: date
    currencies: list[CurrencySummary]
    customers: int
    customers_with_balance: int
    customers_overdue: int


def book_summary(session: Session, actor: Actor, *, as_of: date) -> BookSummary:
    audit.require(actor, Permission.VIEW_ACCOUNTS, "dashboard.view", "book")
    totals: dict[str, dict[str, Money]] = {}
    counts: dict[str, list[int]] = {}
    for row in session.execute(report_sql("open_balances_by_age"), {"as_of": as_of}):
        buckets = totals.setdefault(row.currency, {b: Money.zero(row.currency) for b in BUCKETS})
        bucket = aging_bucket(row.days_past_due)
        buckets[bucket] += Money(row.open_balance, row.currency)
        tally = counts.setdefault(row.currency, [0, 0])
        tally[0] += row.invoices
        if bucket != "current":
            tally[1] += row.invoices
    currencies = [
        CurrencySummary(
            currency=code,
            open_balance=sum(buckets.values(), Money.zero(code)),
            overdue_balance=sum((m for b, m in buckets.items() if b != "current"), Money.zero(code)),
            open_invoices=counts[code][0],
            overdue_invoices=counts[code][1],
            by_bucket=buckets,
        )
        for code, buckets in sorted(totals.items())
    ]
    people = session.execute(report_sql("customers_with_balance"), {"as_of": as_of}).one()
    return BookSummary(
        as_of=as_of,
        currencies=currencies,
        customers=session.scalar(select(func.count()).select_from(Customer)) or 0,
        customers_with_balance=people.with_balance,
        customers_overdue=people.overdue,
    )
