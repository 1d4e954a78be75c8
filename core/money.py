"""Money: an exact Decimal amount in one ISO 4217 currency, rounded to its minor unit."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from functools import cache

from babel.numbers import format_currency, get_currency_precision, list_currencies

from core.errors import CurrencyMismatch, InvalidAmount

AmountLike = str | int | Decimal
MAX_DIGITS = 19  # what a NUMERIC(19, 4) column holds
_CONTEXT = Context(prec=MAX_DIGITS + 10)


@cache
def known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@cache
def minor_unit(currency: str) -> int:
    """Digits after the decimal point for a currency (JPY 0, PHP 2, KWD 3), from CLDR data."""
    return int(get_currency_precision(check_currency(currency)))


def check_currency(code: str) -> str:
    """Return the upper-cased ISO 4217 code, or raise InvalidAmount if it is unknown."""
    if not isinstance(code, str) or code.upper() not in known_currencies():
        raise InvalidAmount(f"Unknown currency code {code!r}: use an ISO 4217 code such as PHP, SGD or USD.")
    return code.upper()


def to_decimal(value: AmountLike) -> Decimal:
    """Turn a str/int/Decimal into a finite Decimal; floats are refused (they are inexact)."""
    if isinstance(value, (bool, float)):
        raise InvalidAmount(f"Amounts must not be floats ({value!r}); pass a string or Decimal.")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidAmount(f"{value!r} is not a number.") from None
    else:
        raise InvalidAmount(f"Amounts must be str, int or Decimal, not {type(value).__name__}.")
    if not result.is_finite():
        raise InvalidAmount(f"{value!r} is not a finite amount.")
    return result


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency. Arithmetic and comparison across currencies raise."""

    amount: Decimal
    currency: str

    def __init__(self, amount: AmountLike, currency: str) -> None:
        code = check_currency(currency)
        exponent = Decimal(1).scaleb(-minor_unit(code))
        value = to_decimal(amount)
        if value.adjusted() >= MAX_DIGITS - 4:
            raise InvalidAmount(f"{amount!r} is too large for an amount.")
        rounded = value.quantize(exponent, rounding=ROUND_HALF_UP, context=_CONTEXT)
        if rounded.is_zero():
            rounded = abs(rounded)  # no "-0.00"
        object.__setattr__(self, "amount", rounded)
        object.__setattr__(self, "currency", code)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def typed(cls, raw: str, currency: str) -> Money:
        """What a person typed into an amount box ("1500", "1,500.00"), or InvalidAmount saying so."""
        try:
            return cls(raw.strip().replace(",", ""), currency)
        except (InvalidAmount, InvalidOperation, ValueError):
            raise InvalidAmount(f"{raw!r} is not an amount in {currency} such as 1500 or 1,500.00.") from None

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"Cannot combine Money with {type(other).__name__}.")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot combine {self.currency} with {other.currency}.")
        return other

    def __add__(self, other: object) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __radd__(self, other: object) -> Money:
        if other == 0:  # lets sum() start from its default 0
            return self
        return self.__add__(other)

    def __sub__(self, other: object) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        if isinstance(factor, (float, bool)) or not isinstance(factor, (int, Decimal)):
            raise InvalidAmount("Money can be multiplied by an int or Decimal only.")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: object) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: object) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: object) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: object) -> bool:
        return self.amount >= self._same(other).amount

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot compare {self.currency} with {other.currency}.")
        return self.amount == other.amount

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def is_zero(self) -> bool:
        return self.amount == 0

    def format(self, locale: str = "en_US") -> str:
        """Display with the currency's symbol and the locale's grouping, e.g. ₱1,234.50."""
        return format_currency(self.amount, self.currency, locale=locale)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
