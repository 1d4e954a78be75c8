"""Formatting for display: money and shares with babel, and dates."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from babel.numbers import format_percent

from core.money import Money

LOCALE = "en_PH"


def money(value: Money) -> str:
    return value.format(LOCALE)


def percent(share: Decimal) -> str:
    return format_percent(share, format="#,##0.0%", locale=LOCALE)


def when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone().strftime("%d %b %Y %H:%M")
