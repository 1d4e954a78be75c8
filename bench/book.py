"""A synthetic book at scale, generated straight into the database with set-based SQL (bench/sql)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import phonenumbers
from sqlalchemy import Connection, text

from core.demo_markets import MARKETS
from core.models import PAYMENT_METHODS

log = logging.getLogger(__name__)
# Names that sound like each market, for people; companies take theirs from words in 03_customers.sql.
NAMES = {
    "PH": (
        ("Maria", "Jose", "Juan", "Ana", "Mark", "Grace", "Carlo", "Kristine"),
        ("Santos", "Reyes", "Cruz", "Bautista", "Garcia", "Mendoza", "Villanueva", "Dela Cruz"),
    ),
    "SG": (
        ("Wei Ling", "Jun Jie", "Siti", "Muhammad", "Hui Min", "Priya", "Kai Xuan", "Nurul"),
        ("Tan", "Lim", "Lee", "Ng", "Wong", "Rahman", "Kumar", "Goh"),
    ),
    "US": (
        ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda"),
        ("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson"),
    ),
}
SQL = Path(__file__).resolve().parent / "sql"
# Run in this order on one connection: the later ones use pg_temp.roll and bench_markets.
STEPS = (
    "01_roll",
    "02_markets",
    "03_customers",
    "04_contacts",
    "05_invoice_plan",
    "06_invoices",
    "07_payments",
    "08_allocations",
    "09_sequences",
    "10_analyze",
)


@dataclass(frozen=True)
class Scale:
    customers: int
    invoices: int
    payments: int
    seed: int
    as_of: date


@dataclass(frozen=True)
class BookCounts:
    customers: int
    contacts: int
    invoices: int
    paid_invoices: int
    payments: int
    allocations: int

    @property
    def rows(self) -> int:
        return self.customers + self.contacts + self.invoices + self.payments + self.allocations


def sql_file(name: str) -> str:
    return (SQL / f"{name}.sql").read_text()


def markets_json() -> str:
    """The demo markets as rows for bench_markets: shares per mille, E.164 mobile prefixes."""
    rows, share_from = [], 0
    for market in MARKETS:
        share_to = share_from + round(market.share * 1000)
        calling_code = phonenumbers.country_code_for_region(market.country)
        rows.append(
            {
                "country": market.country,
                "currency": market.currency,
                "time_zone": market.time_zones[0],
                "share_from": share_from,
                "share_to": share_to,
                "segments": list(market.segments),
                "amount_low": market.amount_range[0],
                "amount_high": market.amount_range[1],
                "phone_prefixes": [f"+{calling_code}{prefix.lstrip('0')}" for prefix in market.phone_prefixes],
                "phone_digits": market.phone_digits,
                "domain": market.domain,
                "first_names": list(NAMES[market.country][0]),
                "last_names": list(NAMES[market.country][1]),
            }
        )
        share_from = share_to
    rows[-1]["share_to"] = 1000  # rounding must not leave a customer without a market
    return json.dumps(rows)


def prepare(connection: Connection) -> None:
    """The session-local helpers every later statement uses: pg_temp.roll and bench_markets."""
    connection.execute(text(sql_file("01_roll")))
    connection.execute(text(sql_file("02_markets")), {"markets": markets_json()})


def generate_book(connection: Connection, scale: Scale) -> BookCounts:
    """Fill the empty, migrated database on this connection; the caller commits."""
    params = {
        "seed": scale.seed,
        "as_of": scale.as_of,
        "customers": scale.customers,
        "invoices": scale.invoices,
        "payments": scale.payments,
        "methods": list(PAYMENT_METHODS),
    }
    prepare(connection)
    for step in STEPS[2:]:
        started = time.perf_counter()
        result = connection.execute(text(sql_file(step)), params)  # each statement binds only what it names
        log.info("  %-16s %9s rows in %5.1f s", step[3:], _rowcount(result.rowcount), time.perf_counter() - started)
    return count_book(connection)


def _rowcount(count: int) -> str:
    return f"{count:,}" if count >= 0 else "-"


def count_book(connection: Connection) -> BookCounts:
    row = connection.execute(
        text(
            "SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM contacts) AS contacts,"
            " (SELECT count(*) FROM invoices) AS invoices,"
            " (SELECT count(*) FROM invoices WHERE status = 'paid') AS paid_invoices,"
            " (SELECT count(*) FROM payments) AS payments, (SELECT count(*) FROM allocations) AS allocations"
        )
    ).one()
    return BookCounts(**row._asdict())
