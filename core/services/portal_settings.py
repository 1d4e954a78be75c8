"""The portal's settings, which managers change on Workflows → Portal: how long links last, the
second factor, the limits on what a debtor may promise or ask for, and how to pay by transfer in
each currency."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.roles import Actor
from core.services.settings import save_setting, setting_row

PORTAL = "portal"
SECOND_FACTORS = ("none", "phone_last4", "postal_code")

DEFAULT_INSTRUCTIONS = {
    "PHP": (
        "Bank transfer (InstaPay or PESONet) to our account, or GCash / Maya to our merchant number. "
        "Put your invoice number in the reference."
    ),
    "SGD": "PayNow to our UEN, or bank transfer (FAST). Put your invoice number in the reference.",
    "USD": "Wire transfer to our USD account. Put your invoice number in the reference.",
}


@dataclass(frozen=True)
class PortalSettings:
    link_days: int = 30  # how long a portal link opens the account
    # "phone_last4": the last 4 digits of a phone on file first; "postal_code": the customer's
    second_factor: str = "none"
    promise_max_days: int = 30  # a debtor's promise is due within this many days
    plan_max_instalments: int = 12  # monthly payments a debtor may ask for
    instructions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_INSTRUCTIONS))


def portal_settings(session: Session) -> PortalSettings:
    row = setting_row(session, PORTAL)
    return PortalSettings() if row is None else _from(row.value)


def portal_settings_version(session: Session) -> int:
    row = setting_row(session, PORTAL)
    return 0 if row is None else row.version


def _from(value: dict[str, Any]) -> PortalSettings:
    defaults = PortalSettings()
    return PortalSettings(
        link_days=int(value.get("link_days", defaults.link_days)),
        second_factor=str(value.get("second_factor", defaults.second_factor)),
        promise_max_days=int(value.get("promise_max_days", defaults.promise_max_days)),
        plan_max_instalments=int(value.get("plan_max_instalments", defaults.plan_max_instalments)),
        instructions={str(k): str(v) for k, v in value.get("instructions", defaults.instructions).items()},
    )


def save_portal_settings(session: Session, actor: Actor, new: PortalSettings, *, version: int) -> None:
    if not 1 <= new.link_days <= 365:
        raise ValidationError("Links can last from 1 to 365 days.")
    if new.second_factor not in SECOND_FACTORS:
        raise ValidationError(f"The second factor is one of {', '.join(SECOND_FACTORS)}.")
    if not 1 <= new.promise_max_days <= 180:
        raise ValidationError("A debtor's promise can be due within 1 to 180 days.")
    if not 2 <= new.plan_max_instalments <= 60:
        raise ValidationError("A debtor may ask for 2 to 60 monthly payments at most.")
    for currency, text in new.instructions.items():
        if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
            raise ValidationError(f"{currency!r} is not a currency code such as PHP.")
        if len(text) > 2000:
            raise ValidationError(f"The {currency} instructions are longer than 2,000 characters.")
    save_setting(session, actor, PORTAL, asdict(new), version=version, what="portal settings")
