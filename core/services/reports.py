"""The managers' reports. Each runs one named query from sql/reports in the database with bound
parameters; pandas only shapes the small result it returns. Figures are per currency, never
summed across currencies. The definitions are in the README (Reports)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.aging import BUCKETS
from core.errors import ValidationError
from core.models import Invoice
from core.reports import report_sql, tune_for_reports
from core.roles import Actor, Permission
from core.services import aging_snapshot, audit

GROUPS = ("customer", "collector", "segment", "country")
SHOWN_ROWS = 500  # rows a Reports table draws of a long report; its downloads read them all
COUNTBACK_MONTHS = 24  # how far back countback DSO looks before it says "more than"


@dataclass(frozen=True)
class ReportFilter:
    """What every report is cut by. None: any. collector_id 0: unassigned accounts."""

    as_of: date
    start: date
    end: date
    currency: str | None = None
    country: str | None = None
    segment: str | None = None
    collector_id: int | None = None

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValidationError("The period must start on or before its end.")
        if self.currency is not None and (len(self.currency) != 3 or not self.currency.isalpha()):
            raise ValidationError(f"{self.currency!r} is not a currency code such as PHP or USD.")

    def params(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "start": self.start,
            "end": self.end,
            "currency": self.currency,
            "country": self.country,
            "segment": self.segment,
            "collector_id": self.collector_id,
        }


def _scoped(session: Session, actor: Actor, what: str, chosen: ReportFilter) -> ReportFilter:
    """Collectors see their own accounts' figures; everyone else what they chose."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, f"report.{what}", "report")
    if (mine := actor.assigned_only) is not None:
        return replace(chosen, collector_id=mine)
    return chosen


def currencies(session: Session) -> list[str]:
    return list(session.scalars(select(Invoice.currency).distinct().order_by(Invoice.currency)))


def _frame(session: Session, name: str, params: dict[str, Any]) -> pd.DataFrame:
    tune_for_reports(session)
    result = session.execute(report_sql(name), params)
    keys, rows = list(result.keys()), result.all()
    if not rows:
        return pd.DataFrame(columns=keys)
    # Column by column: pandas infers the same types as from rows, in half the time on 100k rows.
    return pd.DataFrame(dict(zip(keys, zip(*rows, strict=True), strict=True)), columns=keys)


AGING_COLUMNS = ["group_key", "label", "currency", *BUCKETS, "total", "overdue", "invoices", "customers"]
AGING_TOTAL_COLUMNS = ["currency", *BUCKETS, "total", "overdue", "invoices", "overdue_invoices", "customers", "groups"]


@dataclass(frozen=True)
class AgingOverview:
    """What the Reports page draws: each currency's largest groups, and each currency's totals over
    all of its groups (groups: how many there are)."""

    largest: pd.DataFrame
    totals: pd.DataFrame

    @property
    def group_count(self) -> int:
        return int(self.totals["groups"].sum()) if not self.totals.empty else 0


def _aging(session: Session, actor: Actor, chosen: ReportFilter, group_by: str, shown: int | None) -> pd.DataFrame:
    if group_by not in GROUPS:
        raise ValidationError(f"Group aging by one of {', '.join(GROUPS)}, not {group_by!r}.")
    f = _scoped(session, actor, "aging", chosen)
    # The snapshot when it holds the day (today or the last month end: see
    # core/services/aging_snapshot.py), else the invoices.
    params = f.params() | {
        "group_by": group_by,
        "shown": shown,
        "computed": False,
        "definition": aging_snapshot.definition(),
        "ids": None,
    }
    return _frame(session, "report_aging", params)


def aging(session: Session, actor: Actor, chosen: ReportFilter, *, group_by: str = "customer") -> pd.DataFrame:
    """Open balance per aging bucket as of chosen.as_of, one row per group and currency, largest
    first in each currency: every group (a download, the CLI)."""
    frame = _aging(session, actor, chosen, group_by, None)
    return frame[frame["kind"] == "group"][AGING_COLUMNS].reset_index(drop=True)


def aging_overview(
    session: Session, actor: Actor, chosen: ReportFilter, *, group_by: str = "customer", shown: int = SHOWN_ROWS
) -> AgingOverview:
    """The shown largest groups of each currency and the totals of all of them, in one query: a
    page never pulls a 100,000-row table to draw 500 rows of it."""
    frame = _aging(session, actor, chosen, group_by, shown)
    groups = frame["kind"] == "group"
    return AgingOverview(
        largest=frame[groups][AGING_COLUMNS].reset_index(drop=True),
        totals=frame[~groups][AGING_TOTAL_COLUMNS].reset_index(drop=True),
    )


def late_payers(session: Session, actor: Actor, chosen: ReportFilter, *, shown: int | None = None) -> pd.DataFrame:
    """Per customer, the invoices settled in the period: how many late, average and median days
    late, and whether they are paying later than before (trend); latest payers first. shown: only
    that many of them (customers: how many there are in all)."""
    f = _scoped(session, actor, "late_payers", chosen)
    frame = _frame(session, "report_late_payers", f.params() | {"shown": shown})
    return frame if shown is not None else frame.drop(columns=["customers"])


def monthly(session: Session, actor: Actor, chosen: ReportFilter) -> pd.DataFrame:
    """Month by month over the period, per currency: receivables, current receivables, credit
    sales, collected, DSO (countback and standard), best possible DSO, average days delinquent
    and CEI."""
    f = _scoped(session, actor, "dso", chosen)
    first = f.start.replace(day=1)
    last = f.end.replace(day=1)
    lookback = _months_before(first, COUNTBACK_MONTHS)
    rows = _frame(session, "report_receivables_by_month", f.params() | {"first_month": lookback, "last_month": last})
    frames = [_dso_and_cei(months, str(code), first) for code, months in rows.groupby("currency", sort=True)]
    if not frames:
        return pd.DataFrame(columns=MONTHLY_COLUMNS)
    return pd.concat(frames, ignore_index=True)[MONTHLY_COLUMNS]


MONTHLY_COLUMNS = [
    "currency",
    "month",
    "receivables",
    "current_receivables",
    "credit_sales",
    "collected",
    "credited",
    "dso_countback",
    "dso_standard",
    "best_possible_dso",
    "average_days_delinquent",
    "cei",
]


def _months_before(first: date, months: int) -> date:
    year, month = divmod(first.year * 12 + first.month - 1 - months, 12)
    return date(year, month + 1, 1)


def _days_in(month: date) -> int:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return (following - month).days


def countback_dso(receivables: Decimal, sales: list[tuple[date, Decimal]]) -> Decimal | None:
    """Countback DSO: from what is owed at the month end, take away each month's credit sales
    going back from that month, adding its days, until less is left than a month's sales; then
    add that remainder's share of the month's days. A month with no (or negative) sales adds its
    days whole. None: still owed after COUNTBACK_MONTHS (shown as "more than")."""
    left, days = receivables, Decimal(0)
    if left <= 0:
        return Decimal(0)
    for month, sold in sales:  # newest first
        if sold > 0 and left <= sold:
            return days + left / sold * _days_in(month)
        left -= max(sold, Decimal(0))
        days += _days_in(month)
    return None


def _dso_and_cei(rows: pd.DataFrame, currency: str, first: date) -> pd.DataFrame:
    out = []
    history = list(rows.itertuples(index=False))
    for n, row in enumerate(history):
        if row.month < first:
            continue
        days = Decimal(_days_in(row.month))
        sales, owed, current = Decimal(row.credit_sales), Decimal(row.receivables), Decimal(row.current_receivables)
        credited = Decimal(row.credited)
        back = [(r.month, Decimal(r.credit_sales)) for r in reversed(history[: n + 1])]
        beginning = Decimal(history[n - 1].receivables) if n else Decimal(0)
        # CEI: what was collected ÷ what could have been. A credit note is neither: it comes off both.
        cei_base = beginning + sales - credited - current
        dso = countback_dso(owed, back)
        standard = owed / sales * days if sales > 0 else None
        best = current / sales * days if sales > 0 else None
        out.append(
            {
                "currency": currency,
                "month": row.month,
                "receivables": owed,
                "current_receivables": current,
                "credit_sales": sales,
                "collected": Decimal(row.collected),
                "credited": credited,
                "dso_countback": _round(dso),
                "dso_standard": _round(standard),
                "best_possible_dso": _round(best),
                "average_days_delinquent": _round(standard - best)
                if standard is not None and best is not None
                else None,
                "cei": _round((beginning + sales - credited - owed) / cei_base * 100) if cei_base > 0 else None,
            }
        )
    return pd.DataFrame(out, columns=MONTHLY_COLUMNS)


def _round(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.1"))


def recovery(session: Session, actor: Actor, chosen: ReportFilter) -> pd.DataFrame:
    """Per currency: what was overdue at the start of the period, and how much of it was collected
    by its end (payments received in the period on those invoices)."""
    f = _scoped(session, actor, "recovery", chosen)
    frame = _frame(session, "report_recovery", f.params())
    frame["recovery_rate"] = [
        (Decimal(c) / Decimal(o) * 100).quantize(Decimal("0.1")) if o else None
        for c, o in zip(frame["collected"], frame["overdue_at_start"], strict=True)
    ]
    return frame


def promises(session: Session, actor: Actor, chosen: ReportFilter) -> pd.DataFrame:
    """Promises made in the period by who took them and channel: made, kept, broken, kept-rate."""
    f = _scoped(session, actor, "promises", chosen)
    return _frame(session, "report_promises", f.params())


def disputes(session: Session, actor: Actor, chosen: ReportFilter) -> pd.DataFrame:
    """Open disputes as of chosen.as_of by reason and age, with what the invoices still owe."""
    f = _scoped(session, actor, "disputes", chosen)
    return _frame(session, "report_disputes", f.params())


def forecast(session: Session, actor: Actor, chosen: ReportFilter) -> pd.DataFrame:
    """The 13 weeks from chosen.as_of: plan instalments and pending promises due each week, as
    promised and weighted by each customer's kept-rate."""
    f = _scoped(session, actor, "forecast", chosen)
    return _frame(session, "report_forecast", f.params())


def collectors(session: Session, actor: Actor, chosen: ReportFilter) -> pd.DataFrame:
    """Per collector: attempts, right-party contacts, promises made and kept, collected on their
    accounts, average days late of what was settled."""
    f = _scoped(session, actor, "collectors", chosen)
    return _frame(session, "report_collectors", f.params())


def channels(session: Session, actor: Actor, chosen: ReportFilter) -> pd.DataFrame:
    """Per sequence step, channel and aging bucket: the share of reminded customers who paid within
    3, 7 and 14 days, beside customers in the same bucket who were sent nothing that week."""
    f = _scoped(session, actor, "channels", chosen)
    return _frame(session, "report_channels", f.params())


def period_default(today: date) -> tuple[date, date]:
    """The last twelve whole months and this one."""
    return _months_before(today.replace(day=1), 12), today


def week_starts(today: date, weeks: int = 13) -> list[date]:
    monday = today - timedelta(days=today.weekday())
    return [monday + timedelta(weeks=n) for n in range(weeks)]


def run_report(
    session: Session, actor: Actor, name: str, chosen: ReportFilter, *, group_by: str = "customer"
) -> pd.DataFrame:
    """A report by its command-line name, as a table."""
    if name == "aging":
        return aging(session, actor, chosen, group_by=group_by)
    if name in ("dso", "cei"):
        return monthly(session, actor, chosen)
    if name == "recovery":
        return recovery(session, actor, chosen)
    builders = {
        "late-payers": late_payers,
        "promises": promises,
        "disputes": disputes,
        "forecast": forecast,
        "collectors": collectors,
        "channels": channels,
    }
    if name not in builders:
        raise ValidationError(f"There is no {name!r} report.")
    return builders[name](session, actor, chosen)
