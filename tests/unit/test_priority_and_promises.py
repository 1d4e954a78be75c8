"""The queue's priority score explains itself; promises are kept, broken or pending by date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import Money
from core.priority import AccountFacts, Weights, priority
from core.promises import broken_since, promise_status

TODAY = date(2026, 11, 24)


def facts(**changes: object) -> AccountFacts:
    base: dict[str, object] = {"as_of": TODAY, "oldest_due_date": TODAY - timedelta(days=100), "balance_rank": 0.5}
    return AccountFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_the_score_shows_its_reasons_largest_first():
    score = priority(
        facts(
            broken_promise_on=date(2026, 11, 12),
            balance_rank=0.97,
            last_contact_on=TODAY - timedelta(days=1),
        )
    )

    assert score.explain() == (
        "+30 broken promise on 12 Nov, +22 91–180 days past due, +15 balance in the top 5%, "
        "-10 contacted yesterday, +4 medium risk"
    )
    assert score.score == 30 + 22 + 15 - 10 + 4


def test_a_broken_promise_lifts_an_account_above_an_otherwise_equal_one():
    assert priority(facts(broken_promise_on=TODAY - timedelta(days=1))).score > priority(facts()).score


@pytest.mark.parametrize(
    ("days_past_due", "points"),
    [(0, 0), (1, 8), (30, 8), (31, 14), (60, 14), (61, 18), (90, 18), (91, 22), (180, 22), (181, 26)],
)
def test_the_bucket_weight_follows_the_aging_edges(days_past_due, points):
    score = priority(
        facts(
            oldest_due_date=TODAY - timedelta(days=days_past_due),
            risk_tier="low",
            last_contact_on=TODAY - timedelta(days=30),
        )
    )
    assert score.score == points


def test_recent_contact_lowers_and_no_contact_raises_the_score():
    never, today, week, month = (
        priority(facts(last_contact_on=when)).score
        for when in (None, TODAY, TODAY - timedelta(days=5), TODAY - timedelta(days=30))
    )
    assert today < week < month < never


def test_missed_instalments_count_each_and_weights_can_change():
    weights = Weights(missed_instalment=10, risk={"low": 0, "medium": 0, "high": 0})
    score = priority(facts(missed_instalments=3, last_contact_on=TODAY - timedelta(days=30)), weights)
    assert str(score.reasons[0]) == "+30 3 missed instalments"


def test_weights_must_cover_every_bucket():
    with pytest.raises(ValueError, match="lack aging buckets: 180\\+"):
        Weights(bucket={"current": 0, "1-30": 1, "31-60": 2, "61-90": 3, "91-180": 4})


@given(
    days=st.integers(min_value=-30, max_value=2_000),
    rank=st.floats(min_value=0, max_value=1),
    risk=st.sampled_from(["low", "medium", "high"]),
    broken=st.booleans(),
    missed=st.integers(min_value=0, max_value=12),
    contacted=st.none() | st.integers(min_value=0, max_value=60),
)
def test_the_score_is_always_exactly_the_sum_of_its_reasons(days, rank, risk, broken, missed, contacted):
    score = priority(
        facts(
            oldest_due_date=TODAY - timedelta(days=days),
            balance_rank=rank,
            risk_tier=risk,
            broken_promise_on=TODAY - timedelta(days=2) if broken else None,
            missed_instalments=missed,
            last_contact_on=None if contacted is None else TODAY - timedelta(days=contacted),
        )
    )
    assert score.score == sum(reason.points for reason in score.reasons)
    assert all(reason.points for reason in score.reasons)


PHP = "PHP"


@pytest.mark.parametrize(
    ("paid", "as_of_offset", "status"),
    [
        ("0", -1, "pending"),  # before the promised date
        ("0", 0, "pending"),  # on the promised date itself
        ("0", 1, "broken"),  # the day after
        ("499.99", 1, "broken"),  # short by a centavo
        ("500.00", 0, "kept"),
        ("500.00", -3, "kept"),  # paid early
        ("750.00", 10, "kept"),
    ],
)
def test_a_promise_is_kept_by_payments_up_to_its_date_and_broken_the_day_after(paid, as_of_offset, status):
    due = date(2026, 11, 20)
    result = promise_status(
        amount=Money("500.00", PHP), due_on=due, paid_by_due=Money(paid, PHP), as_of=due + timedelta(days=as_of_offset)
    )
    assert result == status


def test_a_cancelled_promise_stays_cancelled_and_breaks_the_day_after_its_date():
    due = date(2026, 11, 20)
    assert promise_status(
        amount=Money("1", PHP), due_on=due, paid_by_due=Money("5", PHP), as_of=due, cancelled=True
    ) == ("cancelled")
    assert broken_since(due) == date(2026, 11, 21)
