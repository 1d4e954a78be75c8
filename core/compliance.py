"""The compliance guard: may we contact this person, on this channel, at this address, now, about
this debt? A pure rule that answers with every reason it says no and, when only time stands in the
way, the first moment it would say yes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ValidationError

CHANNELS = ("email", "sms", "letter", "call")
TIMED_CHANNELS = frozenset({"email", "sms", "call"})  # letters are posted, not delivered at an hour
CAPPED_CHANNELS = frozenset({"email", "sms"})  # "messages" for the weekly cap
CONTACT_ROLES = ("debtor", "guarantor", "billing")
# Call outcomes that were a telephone conversation with the person, and calls that never rang
# through (12 CFR 1006.14(b): busy and not-in-service calls are not "placed").
CONVERSATIONS = frozenset({"rpc", "promise_made", "refused"})
NOT_PLACED = frozenset({"busy", "not_in_service"})
DAY, WEEK = timedelta(days=1), timedelta(days=7)


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


@dataclass(frozen=True)
class ContactRules:
    """One country's contact rules. The class defaults are the safe default for countries Recoup
    has no rules for. Contact is allowed while earliest <= local time < latest: "until 21:00"
    means 21:00 itself is too late."""

    earliest: time = time(8)
    latest: time = time(21)
    fixed_zone: str | None = None  # the hours are read in this zone whatever the debtor's zone is
    hours_waived_past_dpd: int | None = None  # more days past due than this: the hours do not apply
    consent_waives_hours: bool = False  # a recorded consent to be contacted at any hour
    calls_per_7_days: int | None = 7  # attempts per person per debt in any 7 days
    days_after_conversation: int | None = 7  # no call this long after a telephone conversation
    sms_per_day: int | None = 1  # per customer, any 24 hours, sent messages only
    messages_per_week: int | None = 3  # email + SMS per customer, any 7 days, sent messages only
    allowed_roles: frozenset[str] = frozenset(CONTACT_ROLES)
    opt_out_required: bool = True  # every email and SMS carries a way to opt out

    def __post_init__(self) -> None:
        if self.earliest >= self.latest:
            raise ValueError(f"contact hours must start before they end, not {self.earliest:%H:%M}–{self.latest:%H:%M}")
        if self.fixed_zone is not None and _zone(self.fixed_zone) is None:
            raise ValueError(f"{self.fixed_zone!r} is not an IANA time zone")
        if not self.allowed_roles or not self.allowed_roles <= set(CONTACT_ROLES):
            raise ValueError(f"allowed roles must be some of {', '.join(CONTACT_ROLES)}")
        if not self.opt_out_required:
            raise ValueError("every email and SMS must carry an opt-out; this rule cannot be switched off")


DEFAULT_RULES: dict[str, ContactRules] = {
    # 12 CFR 1006.6(b)(1) hours; 1006.14(b) call frequency.
    "US": ContactRules(),
    # SEC MC 18 s.2019: 06:00–22:00 Manila time unless more than 15 days past due or consented;
    # only the borrower and guarantors.
    "PH": ContactRules(
        earliest=time(6),
        latest=time(22),
        fixed_zone="Asia/Manila",
        hours_waived_past_dpd=15,
        consent_waives_hours=True,
        calls_per_7_days=None,
        days_after_conversation=None,
        allowed_roles=frozenset({"debtor", "guarantor"}),
    ),
    # No statutory hours or call counts found; Recoup's own 08:00–21:00.
    "SG": ContactRules(calls_per_7_days=None, days_after_conversation=None),
}

_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_COUNTS = ("calls_per_7_days", "days_after_conversation", "sms_per_day", "messages_per_week")


def rules_for(country: str, overrides: Mapping[str, Any] | None = None) -> ContactRules:
    """The rules for `country`: its defaults with the settings' overrides for it on top, e.g.
    {"US": {"earliest": "08:30", "sms_per_day": null}}. Raises ValidationError naming the bad value."""
    country = country.upper()
    base = DEFAULT_RULES.get(country, ContactRules())
    given = (overrides or {}).get(country) or {}
    if not isinstance(given, Mapping):
        raise ValidationError(f"Contact rules for {country} must be a set of named values.")
    changes = {key: _parse(country, key, value) for key, value in given.items()}
    try:
        return replace(base, **changes)
    except ValueError as error:
        raise ValidationError(f"Contact rules for {country}: {error}.") from None


def _parse(country: str, key: str, value: Any) -> Any:
    where = f"Contact rule {key!r} for {country}"
    if key in ("earliest", "latest"):
        if not isinstance(value, str) or not _HH_MM.match(value):
            raise ValidationError(f"{where} must be a time such as 08:00, not {value!r}.")
        return time.fromisoformat(value)
    if key == "fixed_zone":
        if value is not None and (not isinstance(value, str) or _zone(value) is None):
            raise ValidationError(f"{where} must be an IANA time zone such as Asia/Manila, not {value!r}.")
        return value
    if key in (*_COUNTS, "hours_waived_past_dpd"):
        least = 0 if key == "hours_waived_past_dpd" else 1
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            raise ValidationError(f"{where} must be a whole number of at least {least}, or empty for no limit.")
        return value
    if key in ("consent_waives_hours", "opt_out_required"):
        if not isinstance(value, bool):
            raise ValidationError(f"{where} must be true or false, not {value!r}.")
        return value
    if key == "allowed_roles":
        if not isinstance(value, list | tuple | set | frozenset) or not all(isinstance(role, str) for role in value):
            raise ValidationError(f"{where} must be a list of roles such as ['debtor', 'guarantor'].")
        return frozenset(value)
    raise ValidationError(f"{country} has no contact rule {key!r}.")


@dataclass(frozen=True)
class PastContact:
    """One earlier contact from the customer's history. Failed sends and calls never placed carry
    sent=False and are never counted; inbound contacts count only as conversations."""

    at: datetime  # time zone aware
    channel: str
    address: str = ""
    debt_key: str | None = None  # None: not known, counted with every debt
    contact_id: int | None = None  # the person; None: not known, counted with everyone
    outcome: str | None = None  # for calls: rpc, voicemail, busy, no_answer, …
    sent: bool = True
    direction: str = "outbound"
    consented: bool = False  # a call the person asked for within the previous 7 days: not counted

    def __post_init__(self) -> None:
        if self.at.utcoffset() is None:
            raise ValueError("a past contact's time must be time zone aware")


@dataclass(frozen=True)
class ContactRequest:
    """One contact we are about to make, and the facts the rules look at."""

    channel: str
    address: str
    time_zone: str | None  # the customer's IANA zone
    contact_role: str = "debtor"
    contact_id: int | None = None
    debt_key: str | None = None
    days_past_due: int = 0
    disputed: bool = False  # everything this contact is about is in dispute
    consent: bool = True  # consent to be contacted on this channel
    hours_consent: bool = False  # recorded consent to be contacted outside the hours
    call_consent: bool = False  # the person asked for this call within the last 7 days
    opted_out_channels: frozenset[str] = frozenset()
    opted_out_addresses: frozenset[str] = frozenset()
    on_hold: bool = False
    hold_until: date | None = None  # the day chasing resumes
    bankrupt: bool = False
    attorney_on_record: bool = False
    deceased: bool = False
    do_not_contact: bool = False
    has_opt_out_line: bool = False  # the email or SMS text says how to opt out
    history: tuple[PastContact, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValidationError(f"{self.channel!r} is not a channel; use one of {', '.join(CHANNELS)}.")


@dataclass(frozen=True)
class Reason:
    code: str  # stable, for grouping in reports: "quiet_hours", "bankrupt", …
    text: str  # for the account timeline

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[Reason, ...]
    retry_at: datetime | None  # UTC; set only when every reason passes with time

    def explain(self) -> str:
        return "; ".join(reason.text for reason in self.reasons) or "allowed"


_Block = tuple[Reason, datetime | None]  # a reason and when it clears by itself (None: it does not)


def decide(request: ContactRequest, rules: ContactRules, *, now: datetime) -> Decision:
    """Every reason not to contact now; with only time-bound reasons, when to try again."""
    if now.utcoffset() is None:
        raise ValueError("now must be time zone aware")
    now = now.astimezone(UTC)
    zone = _zone(rules.fixed_zone or request.time_zone)
    blocks: list[_Block] = []

    def block(code: str, text: str, clears: datetime | None = None) -> None:
        blocks.append((Reason(code, text), clears))

    if request.on_hold:
        if request.hold_until is None:
            block("on_hold", "on hold")
        else:
            resumes = _opening(request.hold_until, time(0), zone or ZoneInfo("UTC"))
            if resumes > now:
                block("on_hold", f"on hold until {request.hold_until.isoformat()}", resumes)
    for flag, text in (
        ("bankrupt", "bankrupt"),
        ("attorney_on_record", "attorney on record"),
        ("deceased", "deceased"),
        ("do_not_contact", "do not contact"),
    ):
        if getattr(request, flag):
            block(flag, text)
    if request.disputed:
        block("disputed", "disputed")
    if request.contact_role not in rules.allowed_roles:
        block("role_not_allowed", f"contact role {request.contact_role} may not be contacted")
    if request.channel in request.opted_out_channels:
        block("opted_out_channel", f"opted out of {request.channel}")
    if _same_address(request.address, request.opted_out_addresses):
        block("opted_out_address", f"address opted out: {request.address}")
    if not request.address.strip():
        block("no_address", f"no {request.channel} address")
    if not request.consent:
        block("no_consent", f"no consent to {request.channel}")
    if request.channel in CAPPED_CHANNELS and rules.opt_out_required and not request.has_opt_out_line:
        block("no_opt_out_line", "no opt-out line in the message")

    hours_apply = request.channel in TIMED_CHANNELS and not _hours_waived(request, rules)
    if hours_apply and zone is None:
        block("unknown_time_zone", "unknown time zone")
    elif hours_apply and zone is not None and not _within_hours(now, zone, rules):
        local = now.astimezone(zone)
        window = f"{rules.earliest:%H:%M}–{rules.latest:%H:%M}"
        block("quiet_hours", f"quiet hours: {local:%H:%M} in {zone.key}, contact {window}", now)

    if request.channel == "call" and not request.call_consent:
        blocks += _call_limits(request, rules, now)
    if request.channel in CAPPED_CHANNELS:
        blocks += _message_caps(request, rules, now)

    if not blocks:
        return Decision(True, (), None)
    reasons = tuple(reason for reason, _ in blocks)
    clears = [moment for _, moment in blocks]
    if any(moment is None for moment in clears):
        return Decision(False, reasons, None)
    retry = max(moment for moment in clears if moment is not None)
    if hours_apply and zone is not None:
        retry = _next_open(retry, zone, rules)
    return Decision(False, reasons, retry)


def _call_limits(request: ContactRequest, rules: ContactRules, now: datetime) -> list[_Block]:
    blocks: list[_Block] = []
    calls = [
        past
        for past in request.history
        if past.channel == "call"
        and past.sent
        and _matches(past.contact_id, request.contact_id)
        and _matches(past.debt_key, request.debt_key)
    ]
    if rules.calls_per_7_days is not None:
        attempts = sorted(
            past.at
            for past in calls
            if past.direction == "outbound"
            and past.outcome not in NOT_PLACED
            and not past.consented
            and past.at > now - WEEK
        )
        if len(attempts) >= rules.calls_per_7_days:
            text = f"{len(attempts)} call attempts in the last 7 days about this debt"
            blocks.append((Reason("call_attempts", text), attempts[len(attempts) - rules.calls_per_7_days] + WEEK))
    if rules.days_after_conversation is not None:
        quiet = timedelta(days=rules.days_after_conversation)
        talks = [past.at for past in calls if past.outcome in CONVERSATIONS and past.at > now - quiet]
        if talks:
            last = max(talks)
            days = (now - last).days
            ago = "today" if days == 0 else "1 day ago" if days == 1 else f"{days} days ago"
            text = f"telephone conversation about this debt {ago}"
            blocks.append((Reason("recent_conversation", text), last + quiet))
    return blocks


def _message_caps(request: ContactRequest, rules: ContactRules, now: datetime) -> list[_Block]:
    blocks: list[_Block] = []
    sent = [past for past in request.history if past.sent and past.direction == "outbound"]
    for cap, channels, window, code, text in (
        (rules.sms_per_day, {"sms"}, DAY, "daily_sms_cap", "daily SMS cap reached"),
        (rules.messages_per_week, CAPPED_CHANNELS, WEEK, "weekly_message_cap", "weekly message cap reached"),
    ):
        if cap is None or request.channel not in channels:
            continue
        times = sorted(past.at for past in sent if past.channel in channels and past.at > now - window)
        if len(times) >= cap:
            blocks.append((Reason(code, f"{text} ({cap})"), times[len(times) - cap] + window))
    return blocks


def _matches(past: object, current: object) -> bool:
    # Unknown on either side counts together: the guard errs towards fewer contacts.
    return past is None or current is None or past == current


def _same_address(address: str, opted_out: frozenset[str]) -> bool:
    return address.strip().casefold() in {other.strip().casefold() for other in opted_out}


def _hours_waived(request: ContactRequest, rules: ContactRules) -> bool:
    past_due = rules.hours_waived_past_dpd is not None and request.days_past_due > rules.hours_waived_past_dpd
    return past_due or (rules.consent_waives_hours and request.hours_consent)


def _within_hours(moment: datetime, zone: ZoneInfo, rules: ContactRules) -> bool:
    return rules.earliest <= moment.astimezone(zone).time() < rules.latest


def _next_open(moment: datetime, zone: ZoneInfo, rules: ContactRules) -> datetime:
    """`moment` if it is within the hours, else the next time the hours open."""
    if _within_hours(moment, zone, rules):
        return moment
    local = moment.astimezone(zone)
    day = local.date() if local.time() < rules.earliest else local.date() + DAY
    return _opening(day, rules.earliest, zone, after=moment)


def _opening(day: date, wall: time, zone: ZoneInfo, *, after: datetime | None = None) -> datetime:
    """The first instant after `after` at which the local clock on `day` reads `wall` or later, in
    UTC. A wall time met twice (autumn) opens at its first pass unless that is already over; one
    the clock skips (spring) opens the moment the clock jumps past it."""
    naive = datetime.combine(day, wall)
    first, second = (naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    if first.astimezone(zone).replace(tzinfo=None) != naive:  # skipped: fold=1 reads before the gap
        low, high = int(second.timestamp()), int(first.timestamp())
        while high - low > 1:
            middle = (low + high) // 2
            reached = datetime.fromtimestamp(middle, UTC).astimezone(zone).replace(tzinfo=None) >= naive
            low, high = (low, middle) if reached else (middle, high)
        return datetime.fromtimestamp(high, UTC)
    return first if after is None or first > after else second
