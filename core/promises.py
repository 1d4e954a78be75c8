"""Promise to pay: whether a promise is pending, kept, broken or cancelled. A pure rule."""

from __future__ import annotations

from datetime import date, timedelta

from core.money import Money

PROMISE_STATUSES = ("pending", "kept", "broken", "cancelled")


def promise_status(*, amount: Money, due_on: date, paid_by_due: Money, as_of: date, cancelled: bool = False) -> str:
    """Kept as soon as payments received on or before the promised date cover the amount;
    broken from the day after that date otherwise; pending until then.

    paid_by_due: what the debtor paid from the promise being made up to the promised date
    (payments after the date never keep a promise, however large).
    """
    if cancelled:
        return "cancelled"
    if paid_by_due >= amount:
        return "kept"
    if as_of > due_on:
        return "broken"
    return "pending"


def broken_since(due_on: date) -> date:
    """The first day a promise not kept counts as broken."""
    return due_on + timedelta(days=1)
