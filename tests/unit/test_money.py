"""Money: construction, rounding to the minor unit, same-currency arithmetic, formatting."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import CurrencyMismatch, InvalidAmount
from core.money import Money

# No example database: hypothesis would write it into the working directory.
_quiet = settings(database=None, deadline=None)


# Construction


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("12.50", Decimal("12.50")),
        (12, Decimal("12.00")),
        (Decimal("12.5"), Decimal("12.50")),
        (" 7 ", Decimal("7.00")),
    ],
    ids=["str", "int", "Decimal", "str-with-spaces"],
)
def test_amount_is_built_from_str_int_or_decimal(amount: object, expected: Decimal) -> None:
    money = Money(amount, "PHP")  # type: ignore[arg-type]
    assert money.amount == expected
    assert money.currency == "PHP"


def test_float_amount_is_refused() -> None:
    with pytest.raises(InvalidAmount, match="float"):
        Money(0.1, "USD")  # type: ignore[arg-type]


def test_bool_amount_is_refused() -> None:
    with pytest.raises(InvalidAmount):
        Money(True, "USD")


@pytest.mark.parametrize(
    "amount",
    ["NaN", "sNaN", "Infinity", "-Infinity", Decimal("NaN"), Decimal("Infinity")],
)
def test_non_finite_amount_is_refused(amount: str | Decimal) -> None:
    with pytest.raises(InvalidAmount):
        Money(amount, "USD")


@pytest.mark.parametrize("amount", ["", "twelve", "1,000.00", "$5"])
def test_text_that_is_not_a_number_is_refused(amount: str) -> None:
    with pytest.raises(InvalidAmount, match="not a number"):
        Money(amount, "USD")


@pytest.mark.parametrize("amount", [None, [1], b"1"])
def test_amount_of_another_type_is_refused(amount: object) -> None:
    with pytest.raises(InvalidAmount):
        Money(amount, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["XYZ", "PESO", "", "P"])
def test_unknown_currency_is_refused(currency: str) -> None:
    with pytest.raises(InvalidAmount, match="currency"):
        Money("1", currency)


def test_currency_code_is_upper_cased() -> None:
    assert Money("1", "php").currency == "PHP"


def test_zero_is_zero_in_the_given_currency() -> None:
    zero = Money.zero("SGD")
    assert zero.is_zero()
    assert zero == Money("0.00", "SGD")
    assert not Money("0.01", "SGD").is_zero()


def test_money_is_frozen() -> None:
    money = Money("1", "USD")
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.amount = Decimal(2)  # type: ignore[misc]
    assert money.amount == Decimal("1.00")


# Rounding to the currency's minor unit


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1.005", "USD", "1.01"),
        ("1.004", "USD", "1.00"),
        ("-1.005", "USD", "-1.01"),
        ("2.345", "PHP", "2.35"),
        ("2.345", "SGD", "2.35"),
        ("1.2345", "KWD", "1.235"),
        ("1.5", "JPY", "2"),
        ("2.5", "JPY", "3"),
        ("1.4", "JPY", "1"),
    ],
)
def test_amount_is_rounded_half_up_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    money = Money(amount, currency)
    assert money.amount == Decimal(expected)
    assert money.amount.as_tuple().exponent == Decimal(expected).as_tuple().exponent


def test_rounded_amounts_compare_equal_to_their_rounded_value() -> None:
    assert Money("1.005", "USD") == Money("1.01", "USD")


@pytest.mark.parametrize(
    ("currency", "text"),
    [("JPY", "5"), ("PHP", "5.00"), ("USD", "5.00"), ("KWD", "5.000")],
)
def test_str_shows_the_minor_unit_and_currency(currency: str, text: str) -> None:
    assert str(Money(5, currency)) == f"{text} {currency}"


# Arithmetic and comparison


def test_same_currency_amounts_add_and_subtract() -> None:
    assert Money("10.25", "PHP") + Money("0.75", "PHP") == Money("11", "PHP")
    assert Money("10.25", "PHP") - Money("0.75", "PHP") == Money("9.50", "PHP")
    assert -Money("3", "PHP") == Money("-3", "PHP")


@pytest.mark.parametrize(
    "combine",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
        lambda a, b: a == b,
        lambda a, b: a != b,
    ],
    ids=["add", "sub", "lt", "le", "gt", "ge", "eq", "ne"],
)
def test_mixing_currencies_raises(combine: Callable[[Money, Money], object]) -> None:
    with pytest.raises(CurrencyMismatch):
        combine(Money("1", "USD"), Money("1", "PHP"))


def test_adding_a_plain_number_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Money("1", "USD") + Decimal(1)  # type: ignore[operator]


def test_money_is_never_equal_to_a_plain_number() -> None:
    assert Money("1", "USD") != Decimal(1)
    assert Money("0", "USD") != 0


def test_same_currency_amounts_order() -> None:
    small, large = Money("9.99", "SGD"), Money("10", "SGD")
    assert small < large
    assert small <= large
    assert large > small
    assert large >= small
    assert small <= Money("9.99", "SGD")
    assert not small > large


def test_sum_of_a_list_adds_up() -> None:
    payments = [Money("100.10", "PHP"), Money("200.20", "PHP"), Money("0.70", "PHP")]
    assert sum(payments) == Money("301", "PHP")


def test_sum_of_mixed_currencies_raises() -> None:
    with pytest.raises(CurrencyMismatch):
        sum([Money("1", "PHP"), Money("1", "SGD")])


def test_equal_amounts_hash_alike() -> None:
    assert hash(Money("1.005", "USD")) == hash(Money("1.01", "USD"))
    assert len({Money("1", "USD"), Money("1.00", "USD")}) == 1


@pytest.mark.parametrize(
    ("factor", "expected"),
    [
        (3, Money("30.30", "USD")),
        (Decimal("0.5"), Money("5.05", "USD")),
        (Decimal("0.333"), Money("3.36", "USD")),
    ],
)
def test_multiplying_by_int_or_decimal_rounds_to_the_minor_unit(factor: int | Decimal, expected: Money) -> None:
    assert Money("10.10", "USD") * factor == expected
    assert factor * Money("10.10", "USD") == expected


@pytest.mark.parametrize("factor", [1.5, True, "2"])
def test_multiplying_by_float_bool_or_text_is_refused(factor: object) -> None:
    with pytest.raises(InvalidAmount):
        Money("10", "USD") * factor  # type: ignore[operator]


# Formatting


@pytest.mark.parametrize(
    ("money", "locale", "text"),
    [
        (Money("1234.5", "PHP"), "en_PH", "₱1,234.50"),
        (Money("1234.5", "USD"), "en_US", "$1,234.50"),
        (Money("1234.5", "SGD"), "en_SG", "$1,234.50"),
        (Money("1234.5", "JPY"), "en_US", "¥1,235"),
        (Money("1234.5", "KWD"), "en_US", "KWD1,234.500"),
    ],
)
def test_format_shows_symbol_grouping_and_minor_unit(money: Money, locale: str, text: str) -> None:
    assert money.format(locale) == text


def test_format_defaults_to_en_us() -> None:
    assert Money("1000000", "USD").format() == "$1,000,000.00"


# Properties

_amounts = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False)


@_quiet
@given(a=_amounts, b=_amounts)
def test_adding_then_subtracting_the_same_amount_gives_the_original(a: Decimal, b: Decimal) -> None:
    x, y = Money(a, "PHP"), Money(b, "PHP")
    assert x + y - y == x


@_quiet
@given(amounts=st.lists(_amounts, max_size=20), data=st.data())
def test_sum_does_not_depend_on_order(amounts: list[Decimal], data: st.DataObject) -> None:
    monies = [Money(a, "SGD") for a in amounts]
    shuffled = data.draw(st.permutations(monies))
    assert sum(shuffled, Money.zero("SGD")) == sum(monies, Money.zero("SGD"))
    assert sum(monies, Money.zero("SGD")).amount == sum(amounts, Decimal(0))


@_quiet
@given(amount=st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=6, allow_nan=False))
def test_rounding_is_idempotent_and_stays_within_half_a_minor_unit(
    amount: Decimal,
) -> None:
    once = Money(amount, "KWD")
    assert Money(once.amount, "KWD") == once
    assert abs(once.amount - amount) <= Decimal("0.0005")
