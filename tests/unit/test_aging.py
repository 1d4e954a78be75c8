"""Days past due and the aging buckets, at every bucket edge."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.aging import BUCKETS, aging_bucket, days_past_due

DUE = date(2024, 2, 15)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2024, 2, 15), 0),
        (date(2024, 2, 16), 1),
        (date(2024, 2, 14), -1),
        (date(2024, 3, 1), 15),  # across a leap-year February
        (date(2025, 2, 15), 366),
    ],
)
def test_days_past_due_is_as_of_minus_due_date(as_of: date, expected: int) -> None:
    assert days_past_due(DUE, as_of) == expected


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-30, "current"),
        (-1, "current"),
        (0, "current"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "91-180"),
        (180, "91-180"),
        (181, "180+"),
        (5000, "180+"),
    ],
)
def test_aging_bucket_at_each_edge(days: int, bucket: str) -> None:
    assert aging_bucket(days) == bucket


def test_invoice_due_today_is_current_and_tomorrow_it_is_one_to_thirty() -> None:
    assert aging_bucket(days_past_due(DUE, DUE)) == "current"
    assert aging_bucket(days_past_due(DUE, DUE + timedelta(days=1))) == "1-30"


def test_every_bucket_is_reachable_and_buckets_are_in_aging_order() -> None:
    reached = [aging_bucket(days) for days in range(-5, 400)]
    assert list(dict.fromkeys(reached)) == list(BUCKETS)
