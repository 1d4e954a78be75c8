"""Days past due and aging buckets: pure rules over dates."""

from __future__ import annotations

from datetime import date

BUCKETS = ("current", "1-30", "31-60", "61-90", "91-180", "180+")


def days_past_due(due_date: date, as_of: date) -> int:
    """As-of date minus due date; zero or less means not yet overdue."""
    return (as_of - due_date).days


def aging_bucket(days: int) -> str:
    if days <= 0:
        return "current"
    if days <= 30:
        return "1-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    if days <= 180:
        return "91-180"
    return "180+"
