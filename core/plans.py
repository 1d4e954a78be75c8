"""Payment plans as pure rules: the schedule of a new plan, how payments fill its instalments,
and the plan's status on a given day. No database here; core/services/plans.py stores them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from dateutil.relativedelta import relativedelta

from core.errors import ValidationError
from core.money import Money, minor_unit

MAX_INSTALMENTS = 120
# A status the payments decide; the others (proposed, rejected, broken, cancelled) stay until a
# person changes them, so a broken plan is not quietly mended by a late payment.
DERIVED_STATUSES = ("current", "late", "completed")
ACTIVE_STATUSES = ("current", "late")  # the plan is running: its invoices are not dunned while current
STEPS = {"weekly": relativedelta(weeks=1), "biweekly": relativedelta(weeks=2), "monthly": relativedelta(months=1)}


@dataclass(frozen=True)
class PlanRules:
    """When a plan counts as broken: this many instalments missed, or one this many days late."""

    broken_after_missed: int = 2
    broken_after_days_late: int = 30


@dataclass(frozen=True)
class Terms:
    """What a customer and a collector agree: how the total is paid."""

    total: Money
    instalments: int
    frequency: str  # weekly, biweekly, monthly or custom
    first_due_on: date
    down_payment: Money | None = None
    down_payment_on: date | None = None  # default: first_due_on
    custom_dates: tuple[date, ...] = ()


@dataclass(frozen=True)
class Due:
    due_on: date
    amount: Money
    down_payment: bool = False


def fee_for(principal: Money, percent: Decimal) -> Money:
    """A flat fee (or simple interest agreed up front) of percent of the principal, rounded."""
    if percent < 0 or percent > 100:
        raise ValidationError(f"A plan fee of {percent}% is not allowed: use 0 to 100.")
    return Money(principal.amount * percent / 100, principal.currency)


def schedule(terms: Terms) -> list[Due]:
    """The dated amounts of a plan. Each instalment is the rest after the down payment divided
    evenly and cut to the currency's minor unit; the cents left over go on the last one, so the
    schedule sums exactly to the total (JPY: whole yen, KWD: fils)."""
    total, currency = terms.total, terms.total.currency
    if total.amount <= 0:
        raise ValidationError("A plan needs an amount to pay: the total must be more than zero.")
    dates = _dates(terms)
    dues: list[Due] = []
    rest = total
    if terms.down_payment is not None and not terms.down_payment.is_zero():
        down = terms.down_payment
        if down.currency != currency:
            raise ValidationError(f"The down payment is in {down.currency}; the plan is in {currency}.")
        if down.amount < 0 or down >= total:
            raise ValidationError(f"The down payment must be more than zero and less than the total {total.format()}.")
        down_on = terms.down_payment_on or terms.first_due_on
        if down_on > dates[0]:
            raise ValidationError("The down payment is due on or before the first instalment.")
        dues.append(Due(down_on, down, down_payment=True))
        rest = total - down
    step = Decimal(1).scaleb(-minor_unit(currency))
    each = Money((rest.amount / len(dates)).quantize(step, rounding=ROUND_DOWN), currency)
    if each.is_zero():
        smallest = Money(step, currency).format()
        raise ValidationError(f"{rest.format()} cannot be split into {len(dates)} instalments of at least {smallest}.")
    for number, due_on in enumerate(dates, start=1):
        amount = each if number < len(dates) else rest - each * (len(dates) - 1)
        dues.append(Due(due_on, amount))
    return dues


def _dates(terms: Terms) -> list[date]:
    if terms.frequency == "custom":
        dates = sorted(terms.custom_dates)
        if not dates:
            raise ValidationError("Give the dates of a custom schedule.")
        if len(set(dates)) != len(dates):
            raise ValidationError("A custom schedule has the same date twice.")
        if len(dates) > MAX_INSTALMENTS:
            raise ValidationError(f"A plan has at most {MAX_INSTALMENTS} instalments.")
        return dates
    if terms.frequency not in STEPS:
        raise ValidationError(f"{terms.frequency!r} is not a plan frequency: weekly, biweekly, monthly or custom.")
    if not 1 <= terms.instalments <= MAX_INSTALMENTS:
        raise ValidationError(f"A plan has from 1 to {MAX_INSTALMENTS} instalments, not {terms.instalments}.")
    # Counted from the first date each time, so 31 Jan → 28 Feb → 31 Mar (not 28 Mar).
    return [terms.first_due_on + STEPS[terms.frequency] * n for n in range(terms.instalments)]


@dataclass(frozen=True)
class InstalmentState:
    due_on: date
    amount: Money
    paid: Money
    down_payment: bool = False

    @property
    def left(self) -> Money:
        return self.amount - self.paid

    def state(self, as_of: date) -> str:
        """paid, partial (some paid, not yet late), missed (past due and not fully paid) or due."""
        if self.left.is_zero():
            return "paid"
        if self.due_on < as_of:
            return "missed"
        return "partial" if not self.paid.is_zero() else "due"

    def days_late(self, as_of: date) -> int:
        return max((as_of - self.due_on).days, 0) if not self.left.is_zero() else 0


def fill(dues: list[Due], paid: Money) -> list[InstalmentState]:
    """Spread what was paid over the instalments in date order: each is paid in full before the next."""
    states = []
    left = paid
    for due in sorted(dues, key=lambda d: (d.due_on, not d.down_payment)):
        applied = min(due.amount, left) if left.amount > 0 else Money.zero(due.amount.currency)
        left -= applied
        states.append(InstalmentState(due.due_on, due.amount, applied, due.down_payment))
    return states


def status_on(current: str, states: list[InstalmentState], as_of: date, rules: PlanRules) -> str:
    """The plan's status on as_of. Only current/late/completed follow the payments; late turns
    broken once the rules say so, and broken stays broken."""
    if current not in DERIVED_STATUSES:
        return current
    if states and all(s.left.is_zero() for s in states):
        return "completed"
    missed = [s for s in states if s.state(as_of) == "missed"]
    if not missed:
        return "current"
    worst = max(s.days_late(as_of) for s in missed)
    if len(missed) >= rules.broken_after_missed or worst >= rules.broken_after_days_late:
        return "broken"
    return "late"


def next_due(states: list[InstalmentState], as_of: date) -> InstalmentState | None:
    """The first instalment not yet fully paid that is due today or later."""
    return next((s for s in states if not s.left.is_zero() and s.due_on >= as_of), None)


def day_after(value: date) -> date:
    return value + timedelta(days=1)
