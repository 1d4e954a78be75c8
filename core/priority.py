"""The work queue's priority score: a sum of weighted reasons, each one shown to the collector
("+30 broken promise on 12 Nov"). A pure rule over a small set of facts per account."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from core.aging import BUCKETS, aging_bucket


def _frozen(values: dict[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class Weights:
    """Points per reason. Managers will tune these in settings; these are the defaults."""

    bucket: Mapping[str, int] = field(
        default_factory=lambda: _frozen({"current": 0, "1-30": 8, "31-60": 14, "61-90": 18, "91-180": 22, "180+": 26})
    )
    broken_promise: int = 30
    promise_due_today: int = 12
    missed_instalment: int = 25
    balance_top_5_percent: int = 15
    balance_top_20_percent: int = 8
    risk: Mapping[str, int] = field(default_factory=lambda: _frozen({"low": 0, "medium": 4, "high": 10}))
    never_contacted: int = 6
    contacted_yesterday: int = -10  # today or yesterday
    contacted_this_week: int = -5  # two to seven days ago

    def __post_init__(self) -> None:
        if missing := set(BUCKETS) - set(self.bucket):
            raise ValueError(f"weights lack aging buckets: {', '.join(sorted(missing))}")


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class AccountFacts:
    """What the score looks at for one account, as of one day."""

    as_of: date
    oldest_due_date: date | None  # of the overdue open invoices not in dispute
    balance_rank: float  # share of accounts with a smaller overdue balance (0 = smallest, 1 = largest)
    risk_tier: str = "medium"
    broken_promise_on: date | None = None  # the most recent promised date not kept
    promise_due_today: bool = False
    missed_instalments: int = 0
    last_contact_on: date | None = None


@dataclass(frozen=True)
class Reason:
    points: int
    text: str

    def __str__(self) -> str:
        return f"{self.points:+d} {self.text}"


@dataclass(frozen=True)
class Priority:
    score: int
    reasons: tuple[Reason, ...]

    def explain(self) -> str:
        return ", ".join(str(reason) for reason in self.reasons) or "nothing urgent"


def _day(value: date) -> str:
    return f"{value.day} {value:%b}"


def priority(facts: AccountFacts, weights: Weights = DEFAULT_WEIGHTS) -> Priority:
    """The score and its reasons, largest first. The score is exactly the sum of the reasons."""
    reasons: list[Reason] = []
    if facts.broken_promise_on is not None:
        reasons.append(Reason(weights.broken_promise, f"broken promise on {_day(facts.broken_promise_on)}"))
    if facts.promise_due_today:
        reasons.append(Reason(weights.promise_due_today, "promise due today"))
    if facts.missed_instalments:
        plural = "s" if facts.missed_instalments > 1 else ""
        reasons.append(
            Reason(
                weights.missed_instalment * facts.missed_instalments,
                f"{facts.missed_instalments} missed instalment{plural}",
            )
        )
    if facts.oldest_due_date is not None:
        bucket = aging_bucket((facts.as_of - facts.oldest_due_date).days)
        if weights.bucket[bucket]:
            label = "not yet due" if bucket == "current" else f"{bucket.replace('-', '–')} days past due"
            reasons.append(Reason(weights.bucket[bucket], label))
    if facts.balance_rank >= 0.95:
        reasons.append(Reason(weights.balance_top_5_percent, "balance in the top 5%"))
    elif facts.balance_rank >= 0.80:
        reasons.append(Reason(weights.balance_top_20_percent, "balance in the top 20%"))
    if weights.risk.get(facts.risk_tier, 0):
        reasons.append(Reason(weights.risk[facts.risk_tier], f"{facts.risk_tier} risk"))
    if facts.last_contact_on is None:
        reasons.append(Reason(weights.never_contacted, "never contacted"))
    else:
        days = (facts.as_of - facts.last_contact_on).days
        if days <= 1:
            reasons.append(
                Reason(weights.contacted_yesterday, "contacted today" if days <= 0 else "contacted yesterday")
            )
        elif days <= 7:
            reasons.append(Reason(weights.contacted_this_week, f"contacted {days} days ago"))
    reasons = [reason for reason in reasons if reason.points]
    reasons.sort(key=lambda reason: -abs(reason.points))
    return Priority(sum(reason.points for reason in reasons), tuple(reasons))
