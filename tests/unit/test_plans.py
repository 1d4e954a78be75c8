"""Payment plans as pure rules: schedules that sum exactly in every minor unit, instalment dates,
refusals, payments filling instalments in date order, and every status a plan can take."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ValidationError
from core.money import Money, minor_unit
from core.plans import MAX_INSTALMENTS, Due, InstalmentState, PlanRules, Terms, fill, schedule, status_on

FIRST = date(2024, 1, 31)
RULES = PlanRules(broken_after_missed=2, broken_after_days_late=30)

# No example database: hypothesis would write it into the working directory.
_quiet = settings(database=None, deadline=None)


def terms(total: Money, instalments: int = 3, frequency: str = "monthly", **changes: object) -> Terms:
    return Terms(total=total, instalments=instalments, frequency=frequency, first_due_on=FIRST, **changes)  # type: ignore[arg-type]


def amounts(dues: list[Due]) -> list[Money]:
    return [due.amount for due in dues]


def states(*rows: tuple[date, str, str]) -> list[InstalmentState]:
    """Instalments in PHP as (due on, amount, paid)."""
    return [InstalmentState(due_on, Money(amount, "PHP"), Money(paid, "PHP")) for due_on, amount, paid in rows]


# Amounts: exact in the currency's minor unit, remainder on the last instalment


@pytest.mark.parametrize(
    ("total", "count", "expected"),
    [
        (Money("1000.00", "PHP"), 3, ["333.33", "333.33", "333.34"]),
        (Money("100", "JPY"), 3, ["33", "33", "34"]),
        (Money("10.000", "KWD"), 3, ["3.333", "3.333", "3.334"]),
        (Money("0.07", "PHP"), 3, ["0.02", "0.02", "0.03"]),
        (Money("999", "JPY"), 7, ["142", "142", "142", "142", "142", "142", "147"]),
    ],
    ids=["PHP", "JPY", "KWD", "PHP-cents", "JPY-remainder-of-five"],
)
def test_a_schedule_sums_exactly_to_the_total_with_the_remainder_on_the_last_instalment(
    total: Money, count: int, expected: list[str]
) -> None:
    dues = schedule(terms(total, count))

    assert amounts(dues) == [Money(amount, total.currency) for amount in expected]
    assert sum(amounts(dues)) == total


def test_an_even_split_leaves_no_remainder() -> None:
    dues = schedule(terms(Money("900.00", "PHP"), 3))

    assert amounts(dues) == [Money("300.00", "PHP")] * 3


def test_a_single_instalment_is_the_whole_total() -> None:
    dues = schedule(terms(Money("1234.567", "KWD"), 1))

    assert dues == [Due(FIRST, Money("1234.567", "KWD"))]


def test_the_down_payment_comes_first_and_the_rest_is_split_evenly() -> None:
    dues = schedule(
        terms(Money("1000.00", "PHP"), 3, down_payment=Money("100.00", "PHP"), down_payment_on=date(2024, 1, 15))
    )

    assert dues[0] == Due(date(2024, 1, 15), Money("100.00", "PHP"), down_payment=True)
    assert amounts(dues[1:]) == [Money("300.00", "PHP")] * 3
    assert not any(due.down_payment for due in dues[1:])
    assert sum(amounts(dues)) == Money("1000.00", "PHP")


def test_the_down_payment_is_due_on_the_first_date_unless_told_otherwise() -> None:
    dues = schedule(terms(Money("1000", "JPY"), 3, down_payment=Money("100", "JPY")))

    assert dues[0] == Due(FIRST, Money("100", "JPY"), down_payment=True)
    assert amounts(dues[1:]) == [Money("300", "JPY")] * 3
    assert dues[1].due_on == FIRST


def test_a_zero_down_payment_is_no_down_payment() -> None:
    dues = schedule(terms(Money("900.00", "PHP"), 3, down_payment=Money("0", "PHP")))

    assert len(dues) == 3
    assert not any(due.down_payment for due in dues)


# Dates


def test_weekly_instalments_fall_seven_days_apart() -> None:
    dues = schedule(terms(Money("400.00", "PHP"), 4, "weekly"))

    assert [due.due_on for due in dues] == [date(2024, 1, 31), date(2024, 2, 7), date(2024, 2, 14), date(2024, 2, 21)]


def test_biweekly_instalments_fall_fourteen_days_apart() -> None:
    dues = schedule(terms(Money("300.00", "PHP"), 3, "biweekly"))

    assert [due.due_on for due in dues] == [date(2024, 1, 31), date(2024, 2, 14), date(2024, 2, 28)]


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        (date(2024, 1, 31), [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]),
        (date(2025, 1, 31), [date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30)]),
        (date(2024, 11, 30), [date(2024, 11, 30), date(2024, 12, 30), date(2025, 1, 30), date(2025, 2, 28)]),
    ],
    ids=["leap-year", "common-year", "across-new-year"],
)
def test_monthly_instalments_keep_the_day_of_the_first_date_where_the_month_has_it(
    first: date, expected: list[date]
) -> None:
    dues = schedule(Terms(total=Money("400.00", "PHP"), instalments=4, frequency="monthly", first_due_on=first))

    assert [due.due_on for due in dues] == expected


def test_custom_dates_are_used_in_date_order() -> None:
    given_dates = (date(2024, 3, 15), date(2024, 2, 1), date(2024, 2, 20))

    dues = schedule(terms(Money("100.00", "PHP"), 3, "custom", custom_dates=given_dates))

    assert [due.due_on for due in dues] == [date(2024, 2, 1), date(2024, 2, 20), date(2024, 3, 15)]
    assert amounts(dues) == [Money("33.33", "PHP"), Money("33.33", "PHP"), Money("33.34", "PHP")]


# Refusals


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"instalments": 0}, "from 1 to 120 instalments, not 0"),
        ({"instalments": MAX_INSTALMENTS + 1}, "from 1 to 120 instalments, not 121"),
        ({"frequency": "fortnightly"}, "'fortnightly' is not a plan frequency"),
        ({"frequency": "custom"}, "Give the dates"),
        ({"frequency": "custom", "custom_dates": (FIRST, FIRST)}, "same date twice"),
        (
            {"frequency": "custom", "custom_dates": tuple(FIRST + timedelta(days=n) for n in range(121))},
            "at most 120 instalments",
        ),
        ({"down_payment": Money("1000.00", "PHP")}, "less than the total"),
        ({"down_payment": Money("1500.00", "PHP")}, "less than the total"),
        ({"down_payment": Money("-5.00", "PHP")}, "more than zero"),
        ({"down_payment": Money("100.00", "USD")}, "down payment is in USD; the plan is in PHP"),
        (
            {"down_payment": Money("100.00", "PHP"), "down_payment_on": FIRST + timedelta(days=1)},
            "on or before the first instalment",
        ),
    ],
    ids=[
        "no-instalments",
        "too-many-instalments",
        "unknown-frequency",
        "custom-without-dates",
        "custom-date-twice",
        "too-many-custom-dates",
        "down-payment-equal-to-total",
        "down-payment-above-total",
        "negative-down-payment",
        "down-payment-in-another-currency",
        "down-payment-after-first-instalment",
    ],
)
def test_a_schedule_that_cannot_be_kept_is_refused(changes: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"instalments": 3, "frequency": "monthly"}
    with pytest.raises(ValidationError, match=message):
        schedule(terms(Money("1000.00", "PHP"), **{**base, **changes}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("total", "count"),
    [(Money("0.05", "PHP"), 6), (Money("5", "JPY"), 6), (Money("0.002", "KWD"), 3)],
    ids=["PHP", "JPY", "KWD"],
)
def test_a_total_smaller_than_one_minor_unit_per_instalment_is_refused(total: Money, count: int) -> None:
    with pytest.raises(ValidationError, match=f"cannot be split into {count} instalments"):
        schedule(terms(total, count))


def test_what_is_left_after_the_down_payment_must_still_split() -> None:
    with pytest.raises(ValidationError, match="cannot be split into 2 instalments"):
        schedule(terms(Money("1.00", "PHP"), 2, down_payment=Money("0.99", "PHP")))


@pytest.mark.parametrize("total", [Money("0", "PHP"), Money("-100", "JPY")], ids=["zero", "negative"])
def test_a_plan_with_nothing_to_pay_is_refused(total: Money) -> None:
    with pytest.raises(ValidationError, match="more than zero"):
        schedule(terms(total))


# Filling instalments with what was paid


def test_payments_fill_instalments_in_date_order_and_the_next_one_shows_partial() -> None:
    dues = [
        Due(date(2024, 3, 1), Money("300.00", "PHP")),
        Due(date(2024, 1, 1), Money("300.00", "PHP")),
        Due(date(2024, 2, 1), Money("300.00", "PHP")),
    ]

    filled = fill(dues, Money("450.00", "PHP"))

    assert [(s.due_on, s.paid) for s in filled] == [
        (date(2024, 1, 1), Money("300.00", "PHP")),
        (date(2024, 2, 1), Money("150.00", "PHP")),
        (date(2024, 3, 1), Money("0.00", "PHP")),
    ]
    assert [s.state(date(2024, 1, 15)) for s in filled] == ["paid", "partial", "due"]
    assert filled[1].left == Money("150.00", "PHP")


def test_a_down_payment_is_filled_before_an_instalment_due_the_same_day() -> None:
    dues = schedule(terms(Money("1000", "JPY"), 3, down_payment=Money("100", "JPY")))

    filled = fill(dues, Money("100", "JPY"))

    assert [(s.down_payment, s.paid) for s in filled[:2]] == [(True, Money("100", "JPY")), (False, Money("0", "JPY"))]


def test_paying_more_than_the_schedule_fills_every_instalment_and_no_more() -> None:
    dues = schedule(terms(Money("10.000", "KWD"), 3))

    filled = fill(dues, Money("12.500", "KWD"))

    assert [s.paid for s in filled] == amounts(dues)
    assert all(s.left.is_zero() for s in filled)


def test_nothing_paid_leaves_every_instalment_unpaid() -> None:
    filled = fill(schedule(terms(Money("900.00", "PHP"))), Money.zero("PHP"))

    assert all(s.paid.is_zero() for s in filled)


def test_a_partly_paid_instalment_past_its_date_is_missed() -> None:
    [instalment] = states((date(2024, 1, 31), "300.00", "100.00"))

    assert instalment.state(date(2024, 1, 31)) == "partial"
    assert instalment.state(date(2024, 2, 1)) == "missed"
    assert instalment.days_late(date(2024, 2, 10)) == 10


# Status on a given day

JAN, FEB, MAR = date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)


def test_a_plan_with_nothing_past_due_is_current() -> None:
    plan = states((JAN, "300.00", "0.00"), (FEB, "300.00", "0.00"))

    assert status_on("current", plan, JAN - timedelta(days=1), RULES) == "current"


def test_an_instalment_due_today_is_not_late() -> None:
    plan = states((JAN, "300.00", "0.00"), (FEB, "300.00", "0.00"))

    assert status_on("current", plan, JAN, RULES) == "current"


def test_a_plan_is_late_the_day_after_an_instalment_is_not_fully_paid() -> None:
    plan = states((JAN, "300.00", "299.99"), (FEB, "300.00", "0.00"))

    assert status_on("current", plan, JAN + timedelta(days=1), RULES) == "late"


def test_paid_instalments_in_the_past_keep_a_plan_current() -> None:
    plan = states((JAN, "300.00", "300.00"), (FEB, "300.00", "0.00"))

    assert status_on("current", plan, FEB, RULES) == "current"


def test_a_late_plan_whose_missed_instalment_is_then_paid_is_current_again() -> None:
    plan = states((JAN, "300.00", "300.00"), (FEB, "300.00", "0.00"))

    assert status_on("late", plan, FEB - timedelta(days=1), RULES) == "current"


def test_a_plan_breaks_when_the_rules_number_of_instalments_is_missed() -> None:
    week = timedelta(days=7)
    plan = states((JAN, "100.00", "0.00"), (JAN + week, "100.00", "0.00"), (JAN + 2 * week, "100.00", "0.00"))

    assert status_on("late", plan, JAN + week, RULES) == "late"  # one missed, 7 days late
    assert status_on("late", plan, JAN + week + timedelta(days=1), RULES) == "broken"  # two missed, 8 days late


def test_a_plan_breaks_when_one_instalment_is_the_rules_number_of_days_late() -> None:
    plan = states((JAN, "300.00", "0.00"), (JAN + timedelta(days=90), "300.00", "0.00"))

    assert status_on("late", plan, JAN + timedelta(days=29), RULES) == "late"
    assert status_on("late", plan, JAN + timedelta(days=30), RULES) == "broken"


def test_the_rules_decide_when_a_plan_breaks() -> None:
    plan = states((JAN, "300.00", "0.00"), (FEB, "300.00", "0.00"), (MAR, "300.00", "0.00"))
    lenient = PlanRules(broken_after_missed=3, broken_after_days_late=60)
    strict = PlanRules(broken_after_missed=1, broken_after_days_late=1)

    assert status_on("current", plan, FEB + timedelta(days=1), lenient) == "late"
    assert status_on("current", plan, JAN + timedelta(days=1), strict) == "broken"


def test_a_fully_paid_plan_is_completed_even_before_its_dates() -> None:
    dues = schedule(terms(Money("900", "JPY")))

    for current in ("current", "late", "completed"):
        assert status_on(current, fill(dues, Money("900", "JPY")), FIRST - timedelta(days=1), RULES) == "completed"


def test_a_completed_plan_whose_payment_is_reversed_follows_the_payments_again() -> None:
    plan = states((JAN, "300.00", "0.00"), (FEB, "300.00", "0.00"))

    assert status_on("completed", plan, JAN + timedelta(days=1), RULES) == "late"


@pytest.mark.parametrize("current", ["proposed", "rejected", "cancelled", "broken"])
def test_a_plan_a_person_decides_on_keeps_its_status_whatever_is_paid(current: str) -> None:
    paid_up = states((JAN, "300.00", "300.00"), (FEB, "300.00", "300.00"))
    far_behind = states((JAN, "300.00", "0.00"), (FEB, "300.00", "0.00"))

    assert status_on(current, paid_up, MAR, RULES) == current
    assert status_on(current, far_behind, MAR, RULES) == current


# Property: every schedule sums exactly, in whole minor units


@st.composite
def plan_terms(draw: st.DrawFn) -> Terms:
    currency = draw(st.sampled_from(["PHP", "JPY", "KWD", "USD"]))
    count = draw(st.integers(min_value=1, max_value=MAX_INSTALMENTS))
    minor_units = draw(st.integers(min_value=count, max_value=10**12))
    frequency = draw(st.sampled_from(["weekly", "biweekly", "monthly"]))
    first = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
    total = Money(Decimal(minor_units).scaleb(-minor_unit(currency)), currency)
    return Terms(total=total, instalments=count, frequency=frequency, first_due_on=first)


@_quiet
@given(plan_terms())
def test_every_schedule_sums_to_its_total_in_positive_whole_minor_units(plan: Terms) -> None:
    dues = schedule(plan)
    currency = plan.total.currency
    step = Decimal(1).scaleb(-minor_unit(currency))
    *regular, last = amounts(dues)

    assert len(dues) == plan.instalments
    assert sum(amounts(dues)) == plan.total
    assert all(due.amount.amount > 0 for due in dues)
    assert all(due.amount.amount == due.amount.amount.quantize(step) for due in dues)
    assert len(set(regular)) <= 1  # the regular instalments are all the same
    remainder = last - regular[0] if regular else Money.zero(currency)
    assert Money.zero(currency) <= remainder < Money(step * plan.instalments, currency)
    assert [due.due_on for due in dues] == sorted({due.due_on for due in dues})
