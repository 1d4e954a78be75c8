"""The first dashboard: open and overdue balance per currency, aging, and counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.aging import BUCKETS
from core.models import Customer, PaymentPlan, Send
from core.money import Money
from core.reports import report_sql
from core.roles import Actor, Permission
from core.services import aging_snapshot, audit


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
class BookSummary:  # a collector's: their own accounts
    as_of: date
    currencies: list[CurrencySummary]
    customers: int
    customers_with_balance: int
    customers_overdue: int


def book_summary(session: Session, actor: Actor, *, as_of: date) -> BookSummary:
    audit.require(actor, Permission.VIEW_ACCOUNTS, "dashboard.view", "book")
    mine = actor.assigned_only
    params = {"as_of": as_of, "collector_id": mine, "definition": aging_snapshot.definition()}
    # The aging report's totals per currency, with no group rows: read from the aging snapshot
    # when it holds the day (core/services/aging_snapshot.py), else computed from the invoices.
    from core.services.reports import ReportFilter, aging_overview  # reports build on this module's neighbours

    day = ReportFilter(as_of=as_of, start=as_of, end=as_of)
    currencies = [
        CurrencySummary(
            currency=(code := str(row["currency"])),
            open_balance=Money(row["total"], code),
            overdue_balance=Money(row["overdue"], code),
            open_invoices=int(row["invoices"]),
            overdue_invoices=int(row["overdue_invoices"]),
            by_bucket={bucket: Money(row[bucket], code) for bucket in BUCKETS},
        )
        for row in aging_overview(session, actor, day, shown=0).totals.to_dict("records")
    ]
    people = session.execute(report_sql("customers_with_balance"), params).one()
    customers = select(func.count()).select_from(Customer)
    if mine is not None:
        customers = customers.where(Customer.collector_id == mine)
    return BookSummary(
        as_of=as_of,
        currencies=currencies,
        customers=session.scalar(customers) or 0,
        customers_with_balance=people.with_balance,
        customers_overdue=people.overdue,
    )


@dataclass(frozen=True)
class MonthFigures:
    """One currency this month: DSO (countback), CEI, and collected against last month."""

    currency: str
    dso: Decimal | None
    cei: Decimal | None
    collected: Money
    collected_last_month: Money


def month_figures(session: Session, actor: Actor, *, as_of: date) -> list[MonthFigures]:
    """This month's DSO and CEI and what was collected, per currency (a collector: their accounts)."""
    from core.services.reports import ReportFilter, monthly  # reports build on this module's neighbours

    this_month = as_of.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    frame = monthly(session, actor, ReportFilter(as_of=as_of, start=last_month, end=as_of))
    figures = []
    for currency, rows in frame.groupby("currency"):
        by_month = {row["month"]: row for row in rows.to_dict("records")}
        now, before = by_month.get(this_month), by_month.get(last_month)
        code = str(currency)
        figures.append(
            MonthFigures(
                currency=code,
                dso=now["dso_countback"] if now else None,
                cei=now["cei"] if now else None,
                collected=Money(now["collected"] if now else 0, code),
                collected_last_month=Money(before["collected"] if before else 0, code),
            )
        )
    return figures


@dataclass(frozen=True)
class Health:
    plans: dict[str, int]  # current / late / broken
    sends: dict[str, int]  # since yesterday: sent, blocked, failed; and uncertain waiting for a manager


def health(session: Session, actor: Actor, *, as_of: date) -> Health:
    """Plan health and the reminder batch since yesterday (a collector: their accounts)."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "dashboard.view", "book")
    mine = actor.assigned_only
    plans = {status: 0 for status in ("current", "late", "broken")}
    plan_rows = select(PaymentPlan.status, func.count()).where(PaymentPlan.status.in_(list(plans)))
    if mine is not None:
        plan_rows = plan_rows.join(Customer, Customer.id == PaymentPlan.customer_id).where(
            Customer.collector_id == mine
        )
    plans |= dict(session.execute(plan_rows.group_by(PaymentPlan.status)).all())
    since = datetime.combine(as_of - timedelta(days=1), time(0), UTC)
    sends = {"sent": 0, "blocked": 0, "failed": 0, "uncertain": 0}
    send_rows = select(Send.status, func.count()).where(
        Send.status.in_(list(sends)), or_(Send.updated_at >= since, Send.status == "uncertain")
    )
    if mine is not None:
        send_rows = send_rows.join(Customer, Customer.id == Send.customer_id).where(Customer.collector_id == mine)
    sends |= dict(session.execute(send_rows.group_by(Send.status)).all())
    return Health(plans, sends)
