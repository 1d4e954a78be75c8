"""Formatting for display: money and shares with babel, dates, CSV downloads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pandas as pd
from babel.numbers import format_percent

from core.money import Money

LOCALE = "en_PH"


def money(value: Money) -> str:
    return value.format(LOCALE)


def percent(share: Decimal) -> str:
    return format_percent(share, format="#,##0.0%", locale=LOCALE)


def when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone().strftime("%d %b %Y %H:%M")


def csv_bytes(table: pd.DataFrame) -> bytes:
    """CSV for download, with cells that a spreadsheet would run as a formula defused."""
    safe = table.map(lambda v: f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v)
    return safe.to_csv(index=False).encode("utf-8")
