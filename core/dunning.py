"""Dunning as pure rules: which step of a sequence is due for an account today, on which day a
step falls (business days and public holidays per country), what stops an account from being
dunned at all, and the send key that makes a message unique. No database here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import holidays

from core.money import Money

MAX_CONTACTS_WITHOUT_RESPONSE = 3


@dataclass(frozen=True)
class Step:
    step_id: int
    position: int
    offset_days: int  # from the cycle's anchor (the oldest open due date); negative = before due
    channel: str
    stage: str
    template_key: str
    mode: str = "auto"
    business_days: bool = False
    conditions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Account:
    """What the planner knows of one customer's debt in one currency."""

    customer_id: int
    country: str
    segment: str | None
    risk_tier: str
    currency: str
    anchor: date  # the oldest open, undisputed due date: the cycle starts there
    overdue: Money  # open, undisputed and past due
    on_current_plan: bool = False
    promise_until: date | None = None  # a pending promise not yet due pauses the sequence
    blocked_by: tuple[str, ...] = ()  # holds and flags that stop every contact


@cache
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    try:
        return holidays.country_holidays(country, years=year)
    except NotImplementedError:  # a country the package does not know: weekends only
        return holidays.HolidayBase()


def is_business_day(day: date, country: str) -> bool:
    return day.weekday() < 5 and day not in _holidays(country, day.year)


def step_day(step: Step, anchor: date, country: str) -> date:
    """The day a step falls due: anchor + offset, moved on to the next business day when the step
    says so (a reminder never lands on a Sunday or on Rizal Day)."""
    day = anchor + timedelta(days=step.offset_days)
    if step.business_days:
        while not is_business_day(day, country):
            day += timedelta(days=1)
    return day


def conditions_hold(step: Step, account: Account) -> tuple[bool, str]:
    """Whether the step's conditions fit the account, and if not why (for the skip record)."""
    c = step.conditions
    minimum = c.get("min_overdue", {}).get(account.currency)
    if minimum is not None and account.overdue.amount < Decimal(str(minimum)):
        return False, f"overdue {account.overdue.format()} is under the step's minimum {minimum} {account.currency}"
    if c.get("segments") and account.segment not in c["segments"]:
        return False, f"segment {account.segment or 'none'} is not one of {', '.join(c['segments'])}"
    if c.get("countries") and account.country not in c["countries"]:
        return False, f"country {account.country} is not one of {', '.join(c['countries'])}"
    if c.get("risk_tiers") and account.risk_tier not in c["risk_tiers"]:
        return False, f"risk {account.risk_tier} is not one of {', '.join(c['risk_tiers'])}"
    return True, ""


@dataclass(frozen=True)
class Due:
    step: Step
    day: date
    superseded: tuple[Step, ...] = ()  # earlier steps also due but never sent: the latest one wins


def due_step(steps: list[Step], account: Account, today: date) -> Due | None:
    """The latest step whose day has come and whose conditions hold. When the batch was down for
    days, earlier due steps are superseded rather than all sent at once."""
    ready = [
        (step, day)
        for step in sorted(steps, key=lambda s: s.position)
        if (day := step_day(step, account.anchor, account.country)) <= today and conditions_hold(step, account)[0]
    ]
    if not ready:
        return None
    step, day = ready[-1]
    return Due(step, day, tuple(s for s, _ in ready[:-1]))


def pause_reason(account: Account, today: date) -> str | None:
    """Why this account gets no dunning today at all (None: it may). Holds and flags; a current
    plan (its instalment reminders replace dunning); a promise not yet due."""
    if account.blocked_by:
        return ", ".join(account.blocked_by)
    if account.on_current_plan:
        return "on a current payment plan"
    if account.promise_until is not None and account.promise_until >= today:
        return f"promised to pay by {account.promise_until:%d %b %Y}"
    return None


def send_key(customer_id: int, step_id: int, currency: str, cycle: date) -> str:
    """One message per customer, step, currency and dunning cycle: the send ledger's unique key."""
    return f"c{customer_id}:s{step_id}:{currency}:{cycle.isoformat()}"
