"""The demo book's markets: PH, SG and US, with names, phone numbers, amounts and payment
habits that look like each of them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

import phonenumbers
from faker import Faker

from core.money import Money


@dataclass(frozen=True)
class Market:
    country: str
    share: float
    currency: str
    time_zones: tuple[str, ...]
    phone_prefixes: tuple[str, ...]  # national-format starts of valid mobile numbers
    phone_digits: int  # digits after the prefix
    amount_range: tuple[int, int]  # typical invoice amount, whole units
    domain: str
    segments: tuple[str, ...]


MARKETS = (
    Market(
        "PH",
        0.45,
        "PHP",
        ("Asia/Manila",),
        ("0917", "0918", "0919", "0920", "0927", "0998"),
        7,
        (3_000, 450_000),
        "example.ph",
        ("SME", "Retail", "Enterprise", "Distributor"),
    ),
    Market(
        "SG",
        0.30,
        "SGD",
        ("Asia/Singapore",),
        ("8", "9"),
        7,
        (150, 25_000),
        "example.sg",
        ("SME", "Enterprise", "Government-linked"),
    ),
    Market(
        "US",
        0.25,
        "USD",
        ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
        ("212", "312", "415", "617", "713", "303", "206"),
        7,
        (120, 20_000),
        "example.com",
        ("SMB", "Mid-market", "Enterprise", "Consumer"),
    ),
)


class People:
    """Names and companies that sound like each market."""

    def __init__(self, seed: int) -> None:
        self.fakers = {"PH": Faker("en_PH"), "US": Faker("en_US"), "SG_zh": Faker("zh_CN"), "SG_ms": Faker("en_MS")}
        for offset, faker in enumerate(self.fakers.values()):
            faker.seed_instance(seed + offset)

    def person(self, country: str, rng: random.Random) -> str:
        if country == "SG":
            if rng.random() < 0.7:
                return str(self.fakers["SG_zh"].romanized_name()).title()
            return str(self.fakers["SG_ms"].name())
        return str(self.fakers[country].name())

    def company(self, country: str, rng: random.Random) -> str:
        if country == "SG":
            surname = self.person("SG", rng).split()[-1]
            trade = rng.choice(("Trading", "Engineering", "Logistics", "Supplies", "Holdings", "Marine"))
            return f"{surname} {trade} Pte. Ltd."
        return str(self.fakers[country].company())


def phone(market: Market, rng: random.Random) -> str:
    while True:
        prefix = rng.choice(market.phone_prefixes)
        raw = prefix + "".join(str(rng.randint(0, 9)) for _ in range(market.phone_digits))
        if market.country == "US":
            raw = prefix + str(rng.randint(2, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(6))
        number = phonenumbers.parse(raw, market.country)
        if phonenumbers.is_valid_number(number):
            return raw


def invoice_amount(market: Market, rng: random.Random) -> Money:
    low, high = market.amount_range
    whole = int(low * (high / low) ** rng.random())  # log-uniform: many small, a few large
    return Money(Decimal(whole) + Decimal(rng.randint(0, 99)) / 100, market.currency)


def slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())[:20] or "contact"


def pick_market(rng: random.Random) -> Market:
    return rng.choices(MARKETS, weights=[m.share for m in MARKETS])[0]


def payment_method(market: Market, rng: random.Random) -> str:
    if market.country == "PH":
        return rng.choice(("bank_transfer", "e_wallet", "check", "cash"))
    if market.country == "SG":
        return rng.choice(("bank_transfer", "bank_transfer", "e_wallet", "check"))
    return rng.choice(("bank_transfer", "card", "check", "direct_debit"))
