"""The rules the reminder batch follows that a manager may change, each a versioned setting:
contact rules per country (hours, caps, who may be contacted; core/compliance.py ships the
defaults), when a reminder turns into a collector's call (`dunning`), and the limitation period
per country before which a legal demand may go out (core/letters.py ships the defaults).

Only what differs from the shipped defaults is stored, so a later release's corrected default
still reaches every country a manager did not change."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from core import compliance, letters
from core.compliance import ContactRules
from core.errors import ValidationError
from core.money import Money
from core.roles import Actor
from core.services.settings import save_setting, setting_row
from core.templates import AgencyInfo

CONTACT_RULES, DUNNING, LIMITATION = "contact_rules", "dunning", "limitation_years"
DEFAULT_ESCALATE_AFTER = 3


def _stored(value: Any) -> Any:
    """A rule's value as the setting keeps it (JSON)."""
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, frozenset):
        return sorted(value)
    return value


@dataclass(frozen=True)
class CountryRules:
    country: str
    rules: ContactRules
    changed: tuple[str, ...]  # the rules that differ from the shipped defaults


def contact_rules(session: Session) -> tuple[list[CountryRules], int]:
    """Every country with shipped or saved rules, as they apply now; and the setting's version."""
    row = setting_row(session, CONTACT_RULES)
    overrides = {} if row is None else dict(row.value)
    countries = sorted(set(compliance.DEFAULT_RULES) | set(overrides))
    return [
        CountryRules(country, compliance.rules_for(country, overrides), tuple(sorted(overrides.get(country, {}))))
        for country in countries
    ], (0 if row is None else row.version)


def save_contact_rules(session: Session, actor: Actor, table: dict[str, dict[str, Any]], *, version: int) -> None:
    """Store each country's rules, given as named values the way the setting spells them
    ({"PH": {"earliest": "06:00", "sms_per_day": None, …}}). Every value is checked the way the
    batch reads it; a bad one is refused, naming the country and the rule, and nothing is saved."""
    overrides: dict[str, dict[str, Any]] = {}
    for country, given in table.items():
        code = country.strip().upper()
        if len(code) != 2 or not code.isalpha():
            raise ValidationError(f"{country!r} is not a country code: use two letters such as PH, SG or US.")
        if code in overrides:
            raise ValidationError(f"{code} is listed twice.")
        rules = compliance.rules_for(code, {code: given})
        base = compliance.DEFAULT_RULES.get(code, ContactRules())
        changed = {
            f.name: _stored(getattr(rules, f.name))
            for f in fields(ContactRules)
            if getattr(rules, f.name) != getattr(base, f.name)
        }
        overrides[code] = changed
    save_setting(session, actor, CONTACT_RULES, {c: v for c, v in overrides.items() if v}, version=version)


@dataclass(frozen=True)
class Escalation:
    """After this many reminders without a reply or a payment (0: never), or above these balances
    per currency, the next step is a collector's call instead of another message."""

    after: int = DEFAULT_ESCALATE_AFTER
    above: tuple[Money, ...] = ()


def escalation(session: Session) -> tuple[Escalation, int]:
    row = setting_row(session, DUNNING)
    if row is None:
        return Escalation(), 0
    value = dict(row.value)
    above = tuple(Money(Decimal(str(a)), c) for c, a in sorted((value.get("escalate_above") or {}).items()))
    return Escalation(int(value.get("escalate_after", DEFAULT_ESCALATE_AFTER)), above), row.version


def parse_thresholds(text: str) -> tuple[Money, ...]:
    """ "PHP 500000; USD 10000" as amounts; a clear refusal otherwise."""
    found: dict[str, Money] = {}
    for part in text.replace(",", ";").split(";"):
        words = part.split()
        if not words:
            continue
        if len(words) != 2:
            raise ValidationError(f"Write each threshold as a currency and an amount, e.g. PHP 500000, not {part!r}.")
        try:
            amount = Decimal(words[1].replace("_", ""))
        except InvalidOperation:
            raise ValidationError(f"{words[1]!r} is not an amount: write it like 500000 or 12500.50.") from None
        try:
            money = Money(amount, words[0].upper())
        except ValueError as error:
            raise ValidationError(f"{part.strip()!r}: {error}.") from None
        if money.amount <= 0:
            raise ValidationError(f"A threshold must be more than zero, not {money.format()}.")
        if money.currency in found:
            raise ValidationError(f"{money.currency} has two thresholds.")
        found[money.currency] = money
    return tuple(found.values())


def save_escalation(session: Session, actor: Actor, new: Escalation, *, version: int) -> None:
    if not 0 <= new.after <= 50:
        raise ValidationError("Reminders before a call: 0 (never) to 50.")
    value = {"escalate_after": new.after, "escalate_above": {m.currency: str(m.amount) for m in new.above}}
    save_setting(session, actor, DUNNING, value, version=version)


def limitation_periods(session: Session) -> tuple[dict[str, int], int]:
    """Years per country after which a debt is time-barred: shipped, with saved ones on top."""
    row = setting_row(session, LIMITATION)
    saved = {} if row is None else {c: int(y) for c, y in row.value.items()}
    return dict(sorted({**letters.LIMITATION_YEARS, **saved}.items())), (0 if row is None else row.version)


def save_limitation_periods(session: Session, actor: Actor, years: dict[str, int], *, version: int) -> None:
    changed: dict[str, int] = {}
    for country, value in years.items():
        code = country.strip().upper()
        if len(code) != 2 or not code.isalpha():
            raise ValidationError(f"{country!r} is not a country code: use two letters such as PH, SG or US.")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 50:
            raise ValidationError(f"The limitation period for {code} is a whole number of years from 1 to 50.")
        if letters.LIMITATION_YEARS.get(code) != value:
            changed[code] = value
    save_setting(session, actor, LIMITATION, changed, version=version)


AGENCY = "agency"


def agency(session: Session) -> tuple[AgencyInfo | None, int]:
    """The collection agency's name and licence when Recoup collects as one (None: a creditor
    collecting its own debts), and the setting's version."""
    row = setting_row(session, AGENCY)
    if row is None or not row.value.get("licence_number"):
        return None, 0 if row is None else row.version
    value = row.value
    return AgencyInfo(value["name"], value["licence_number"], value.get("licence_authority", "")), row.version


def save_agency(session: Session, actor: Actor, new: AgencyInfo | None, *, version: int) -> None:
    """Singapore's Debt Collection Act 2022 licenses collection agencies; letters and messages
    then name the licence. None: not an agency (nothing is shown)."""
    if new is not None:
        if not new.name.strip() or not new.licence_number.strip():
            raise ValidationError("An agency needs its name and licence number (or clear both).")
        if len(new.name) > 200 or len(new.licence_number) > 100 or len(new.licence_authority) > 200:
            raise ValidationError("The agency's name, licence number or authority is too long.")
    value = (
        {}
        if new is None
        else {
            "name": new.name.strip(),
            "licence_number": new.licence_number.strip(),
            "licence_authority": new.licence_authority.strip(),
        }
    )
    save_setting(session, actor, AGENCY, value, version=version)
