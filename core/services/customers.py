"""Customers (debtors) and their contacts: creating, flagging and assigning them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.contactinfo import check_time_zone, mask_email, mask_phone, normalize_email, normalize_phone
from core.errors import Conflict, NotFound, ValidationError
from core.fields import optional_text, required_text
from core.models import CONTACT_ROLES, CUSTOMER_KINDS, RISK_TIERS, Contact, Customer, User
from core.money import Money
from core.roles import DEBTOR_ACTIONS, Actor, Permission, Role
from core.services import audit

FLAGS = ("on_hold", "bankrupt", "attorney_on_record", "deceased", "do_not_contact", "legal")
CHANNELS = ("email", "sms", "call", "letter")


@dataclass(frozen=True)
class NewCustomer:
    external_ref: str
    name: str
    country: str
    time_zone: str
    kind: str = "company"
    language: str = "en"
    segment: str | None = None
    postal_code: str | None = None
    risk_tier: str = "medium"
    collector_id: int | None = None
    credit_limit: Money | None = None


@dataclass(frozen=True)
class NewContact:
    name: str
    role: str = "debtor"
    email: str | None = None
    phone: str | None = None
    consent: tuple[str, ...] = ("email", "call", "letter")


@dataclass(frozen=True)
class ContactView:
    id: int
    name: str
    role: str
    email: str | None
    phone: str | None  # E.164, or masked
    masked: bool
    consent: tuple[str, ...]
    opted_out: tuple[str, ...]
    preferred_from: time | None = None
    preferred_until: time | None = None
    language: str | None = None


def list_contacts(session: Session, actor: Actor, customer_id: int) -> list[ContactView]:
    """A customer's contacts. Roles without SEE_CONTACT_DETAILS get emails and phones masked,
    here in the service, so no page can forget to."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "contact.view", "customer", customer_id)
    masked = not actor.may(Permission.SEE_CONTACT_DETAILS)
    rows = session.scalars(select(Contact).where(Contact.customer_id == customer_id).order_by(Contact.id))
    return [
        ContactView(
            id=c.id,
            name=c.name,
            role=c.role,
            email=mask_email(c.email) if masked else c.email,
            phone=mask_phone(c.phone) if masked else c.phone,
            masked=masked,
            consent=tuple(ch for ch in CHANNELS if getattr(c, f"consent_{ch}")),
            opted_out=tuple(ch for ch in CHANNELS if getattr(c, f"opted_out_{ch}")),
            preferred_from=c.preferred_from,
            preferred_until=c.preferred_until,
            language=c.language,
        )
        for c in rows
    ]


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValidationError(f"{value!r} is not a valid {what}: choose one of {', '.join(allowed)}.")
    return value


def get_customer_row(session: Session, customer_id: int, *, lock: bool = False) -> Customer:
    customer = session.get(Customer, customer_id, with_for_update=lock)
    if customer is None:
        raise NotFound(f"No customer with id {customer_id}.")
    return customer


def require_work(session: Session, actor: Actor, customer: Customer, action: str) -> None:
    """Managers act on any account, collectors only on their own, a debtor on the portal on theirs;
    everyone else is refused."""
    if actor.debtor_of is not None:
        allowed = customer.id == actor.debtor_of and action in DEBTOR_ACTIONS
    else:
        allowed = actor.may_work_account(customer.collector_id)
    if not allowed:
        audit.deny(
            actor,
            "That is not something you can do here."
            if actor.debtor_of is not None  # a debtor learns nothing of other accounts
            else f"Your role ({actor.role}) may not act on {customer.name}'s account.",
            action,
            "customer",
            customer.id,
        )


def create_customer(session: Session, actor: Actor, new: NewCustomer) -> int:
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "customer.create", "customer")
    ref = required_text(new.external_ref, Customer.external_ref, "External ref")
    name = required_text(new.name, Customer.name, "Customer name")
    if session.scalar(select(Customer.id).where(Customer.external_ref == ref)) is not None:
        raise Conflict(f"A customer with external ref {ref!r} already exists.")
    country = new.country.strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise ValidationError(f"{new.country!r} is not a two-letter ISO country code such as PH, SG or US.")
    if new.collector_id is not None:
        _check_collector(session, new.collector_id)
    customer = Customer(
        external_ref=ref,
        name=name,
        kind=_choice(new.kind, CUSTOMER_KINDS, "customer kind"),
        country=country,
        time_zone=check_time_zone(new.time_zone),
        language=required_text(new.language, Customer.language, "Language"),
        segment=optional_text(new.segment, Customer.segment, "Segment"),
        postal_code=optional_text(new.postal_code, Customer.postal_code, "Postal code"),
        risk_tier=_choice(new.risk_tier, RISK_TIERS, "risk tier"),
        collector_id=new.collector_id,
        credit_limit=new.credit_limit.amount if new.credit_limit else None,
        credit_currency=new.credit_limit.currency if new.credit_limit else None,
        version=1,
    )
    session.add(customer)
    session.flush()
    audit.record(session, actor, "customer.create", "customer", customer.id, after=audit.snapshot(customer))
    return customer.id


def _check_collector(session: Session, user_id: int) -> None:
    user = session.get(User, user_id)
    if user is None or not user.active or user.role not in (Role.COLLECTOR, Role.MANAGER):
        raise ValidationError("Accounts can be assigned to active collectors and managers only.")


def add_contact(session: Session, actor: Actor, customer_id: int, new: NewContact) -> int:
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "contact.create", "customer", customer_id)
    customer = get_customer_row(session, customer_id)
    if not new.email and not new.phone:
        raise ValidationError("A contact needs an email address or a phone number.")
    unknown = set(new.consent) - set(CHANNELS)
    if unknown:
        raise ValidationError(f"Unknown channel(s) {', '.join(sorted(unknown))}: use {', '.join(CHANNELS)}.")
    contact = Contact(
        customer_id=customer.id,
        name=required_text(new.name, Contact.name, "Contact name"),
        role=_choice(new.role, CONTACT_ROLES, "contact role"),
        email=optional_text(normalize_email(new.email), Contact.email, "Email") if new.email else None,
        phone=normalize_phone(new.phone, customer.country) if new.phone else None,
        **{f"consent_{channel}": channel in new.consent for channel in CHANNELS},
        **{f"opted_out_{channel}": False for channel in CHANNELS},
    )
    session.add(contact)
    session.flush()
    audit.record(session, actor, "contact.create", "contact", contact.id, after=audit.snapshot(contact))
    return contact.id


def set_flags(session: Session, actor: Actor, customer_id: int, **flags: bool) -> None:
    """Set or clear holds and the flags that stop all contact (bankrupt, deceased…)."""
    unknown = set(flags) - set(FLAGS)
    if unknown:
        raise ValidationError(f"Unknown flag(s) {', '.join(sorted(unknown))}: use {', '.join(FLAGS)}.")
    customer = get_customer_row(session, customer_id, lock=True)
    require_work(session, actor, customer, "customer.set_flags")
    with audit.changing(session, actor, "customer.set_flags", "customer", customer):
        for flag, value in flags.items():
            setattr(customer, flag, bool(value))


FLAG_LABELS = {
    "on_hold": "On hold",
    "bankrupt": "Bankrupt",
    "attorney_on_record": "Attorney on record",
    "deceased": "Deceased",
    "do_not_contact": "Do not contact",
    "legal": "Handed over to legal",
}


def set_flag(
    session: Session,
    actor: Actor,
    customer_id: int,
    flag: str,
    *,
    on: bool,
    why: str,
    until: date | None = None,
    today: date | None = None,
) -> None:
    """Set or clear one hold or flag, saying why; who, when and why show on the account and its
    timeline. A hold may run until a date (the account returns to the queue that day)."""
    if flag not in FLAGS:
        raise ValidationError(f"Unknown flag {flag!r}: use one of {', '.join(FLAGS)}.")
    customer = get_customer_row(session, customer_id, lock=True)
    require_work(session, actor, customer, "customer.set_flag")
    why = required_text(why, Customer.next_action_note, "Reason")
    if until is not None and (flag != "on_hold" or not on):
        raise ValidationError("Only a hold being set can run until a date.")
    if until is not None and until <= (today or date.today()):
        raise ValidationError("A hold must run until a day after today.")
    if getattr(customer, flag) == on and not (flag == "on_hold" and on and until != customer.hold_until):
        state = "already set" if on else "not set"
        raise ValidationError(f"{FLAG_LABELS[flag]} is {state} on this account.")
    with audit.changing(session, actor, "customer.set_flag", "customer", customer):
        setattr(customer, flag, on)
        if flag == "on_hold":
            customer.hold_until = until if on else None
        notes = dict(customer.flag_notes or {})
        if on:
            notes[flag] = {"by": actor.username, "at": datetime.now(UTC).isoformat(timespec="minutes"), "why": why}
        else:
            notes.pop(flag, None)
        customer.flag_notes = notes
        label = FLAG_LABELS[flag] + (f" until {until:%d %b %Y}" if until else "")
        from core.services.activities import NewActivity, add_to_timeline

        add_to_timeline(
            session,
            actor,
            customer.id,
            NewActivity(
                kind="hold" if flag == "on_hold" else "status_change",
                summary=f"{label} {'set' if on else 'cleared'}: {why}",
                details={"flag": flag, "on": on, "why": why, "until": until.isoformat() if until else None},
            ),
        )


def set_next_action(
    session: Session, actor: Actor, customer_id: int, *, on: date | None, note: str = "", today: date | None = None
) -> None:
    """When to work the account again (None: as soon as it is due); it leaves "today" until then."""
    customer = get_customer_row(session, customer_id, lock=True)
    require_work(session, actor, customer, "customer.next_action")
    if on is not None and on < (today or date.today()):
        raise ValidationError("The next action cannot be in the past.")
    with audit.changing(session, actor, "customer.next_action", "customer", customer):
        customer.next_action_on = on
        customer.next_action_note = optional_text(note, Customer.next_action_note, "Next action note")


@dataclass(frozen=True)
class ContactPreferences:
    opted_out: tuple[str, ...] = ()
    preferred_from: time | None = None
    preferred_until: time | None = None
    language: str | None = None


def set_contact_preferences(session: Session, actor: Actor, contact_id: int, prefs: ContactPreferences) -> None:
    """Opt a contact (an address or number) out per channel, and record preferred hours and language."""
    contact = session.get(Contact, contact_id, with_for_update=True)
    if contact is None:
        raise NotFound(f"No contact with id {contact_id}.")
    require_work(session, actor, get_customer_row(session, contact.customer_id), "contact.preferences")
    if unknown := set(prefs.opted_out) - set(CHANNELS):
        raise ValidationError(f"Unknown channel(s) {', '.join(sorted(unknown))}: use {', '.join(CHANNELS)}.")
    if (prefs.preferred_from is None) != (prefs.preferred_until is None):
        raise ValidationError("Give both ends of the preferred hours, or neither.")
    if (
        prefs.preferred_from is not None
        and prefs.preferred_until is not None
        and (prefs.preferred_from >= prefs.preferred_until)
    ):
        raise ValidationError("The preferred hours must start before they end (the same day).")
    before = audit.snapshot(contact)
    for channel in CHANNELS:
        setattr(contact, f"opted_out_{channel}", channel in prefs.opted_out)
    contact.preferred_from = prefs.preferred_from
    contact.preferred_until = prefs.preferred_until
    contact.language = optional_text(prefs.language, Contact.language, "Language")
    session.flush()
    audit.record(
        session, actor, "contact.preferences", "contact", contact.id, before=before, after=audit.snapshot(contact)
    )


def assign_collector(session: Session, actor: Actor, customer_id: int, collector_id: int | None) -> None:
    audit.require(actor, Permission.ASSIGN_ACCOUNTS, "customer.assign", "customer", customer_id)
    customer = get_customer_row(session, customer_id, lock=True)
    if collector_id is not None:
        _check_collector(session, collector_id)
    with audit.changing(session, actor, "customer.assign", "customer", customer):
        customer.collector_id = collector_id


@dataclass(frozen=True)
class CustomerHit:
    customer_id: int
    external_ref: str
    name: str


def find_customers(session: Session, actor: Actor, query: str, *, limit: int = 20) -> list[CustomerHit]:
    """Customers whose ref or name contains the query (any case), for pickers. Empty query: none."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "customer.search", "customer")
    needle = query.strip()
    if not needle:
        return []
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = session.execute(
        select(Customer.id, Customer.external_ref, Customer.name)
        .where(Customer.external_ref.ilike(pattern) | Customer.name.ilike(pattern))
        .order_by(Customer.external_ref != needle, Customer.name, Customer.id)
        .limit(limit)
    ).all()
    return [CustomerHit(*row) for row in rows]
