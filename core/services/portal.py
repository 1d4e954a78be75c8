"""The debtor portal: opening a signed link, what the debtor sees, and what they may do. Every
action goes through the same service the staff app uses, acting as Actor.debtor (audited as the
portal, on the timeline as the debtor's own). Nothing here takes a customer id from the debtor:
it comes from the link."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.config import get_settings
from core.errors import NotFound, ValidationError
from core.letters import Letter, LetterInvoice, LetterParty, render_letter, totals_by_currency
from core.models import Contact, Customer, Document, Invoice, PortalAttempt, Promise, Send
from core.money import Money
from core.portal_links import LinkClaim, LinkNotValid, link_url, mint, read
from core.roles import Actor, Permission, Role
from core.services import audit, customers, disputes, documents, ledger, opt_outs, plans, promises
from core.services.accounts import AccountView, view_account
from core.services.activities import NewActivity, add_to_timeline
from core.services.customers import ContactPreferences, get_customer_row
from core.services.documents import DocumentFile
from core.services.portal_settings import PortalSettings, portal_settings

ATTEMPTS_ALLOWED = 10  # failed openings per client address …
ATTEMPTS_WINDOW = timedelta(minutes=15)  # … in this long, before that address is turned away
SECOND_FACTOR_TRIES = 5  # wrong answers for one account in that window, from anywhere
QUESTIONS = {
    "phone_last4": "The last 4 digits of the phone number we have for you",
    "postal_code": "Your postal code, as on your bills",
}


TOO_MANY = "Too many links that did not open came from here. Try again in 15 minutes."


@dataclass(frozen=True)
class MessageLine:
    sent_at: datetime
    channel: str
    subject: str


@dataclass(frozen=True)
class PortalAccount:
    account: AccountView
    plans: tuple[plans.PlanView, ...]
    messages: tuple[MessageLine, ...]
    settings: PortalSettings


def _secret() -> str:
    return get_settings().cookie_key


# --- links (staff) -----------------------------------------------------------------------------


def portal_link(session: Session, actor: Actor, customer_id: int) -> str:
    """A new link to this customer's portal, valid for the configured number of days."""
    customer = get_customer_row(session, customer_id)
    customers.require_work(session, actor, customer, "portal.link")
    # Whoever holds a link acts as the debtor: who made each one is on record.
    audit.record(
        session, actor, "portal.link", "customer", customer_id, after={"generation": customer.portal_generation}
    )
    return link_url(get_settings().portal_url, mint(_secret(), customer.id, customer.portal_generation))


def link_for_message(customer_id: int, generation: int) -> str:
    """The merge field portal_link: a link minted as a reminder is written."""
    return link_url(get_settings().portal_url, mint(_secret(), customer_id, generation))


def revoke_links(session: Session, actor: Actor, customer_id: int) -> None:
    """Every link made so far stops working; new links work."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "portal.revoke", "customer", customer_id)
    customer = get_customer_row(session, customer_id, lock=True)
    customer.portal_generation += 1
    session.flush()
    audit.record(
        session, actor, "portal.revoke", "customer", customer_id, after={"generation": customer.portal_generation}
    )
    add_to_timeline(
        session,
        actor,
        customer_id,
        NewActivity(kind="status_change", summary="Portal links revoked: earlier links no longer open the account"),
    )


# --- opening a link (debtor) -------------------------------------------------------------------


@dataclass(frozen=True)
class Opening:
    """What opening a link gave: the debtor to act as, or one refusal that reveals nothing, or a
    request for the second factor first."""

    debtor: Actor | None = None
    refusal: str | None = None
    needs_second_factor: bool = False
    question: str = ""  # what the second factor asks for, when there is one


def open_link(session: Session, token: str, *, client: str, second_factor: str | None = None) -> Opening:
    """Open a link for a client address. An address with too many failures is turned away first;
    every failure is counted (and committed: a refusal is an answer, not an error) and every bad
    link gets the same words."""
    client = (client or "unknown")[:100]
    since = datetime.now(UTC) - ATTEMPTS_WINDOW
    if _failures(session, client, since) >= ATTEMPTS_ALLOWED:
        return Opening(refusal=TOO_MANY)
    chosen = portal_settings(session)
    try:
        customer = _customer_for(session, read(_secret(), token or "", lifetime=timedelta(days=chosen.link_days)))
    except LinkNotValid as error:
        _failed(session, client)
        return Opening(refusal=str(error))
    if chosen.second_factor in ("phone_last4", "postal_code"):
        # Wrong digits count against the address and against the account: 4 digits are few, so a
        # link that leaked cannot be tried from many addresses either.
        guarded = f"customer:{customer.id}"
        if _failures(session, guarded, since) >= SECOND_FACTOR_TRIES:
            return Opening(refusal=TOO_MANY)
        question = QUESTIONS[chosen.second_factor]
        if not second_factor:
            return Opening(needs_second_factor=True, question=question)
        if not _second_factor_matches(session, customer, chosen.second_factor, second_factor):
            _failed(session, client)
            _failed(session, guarded)
            return Opening(refusal=str(LinkNotValid()), question=question)
    session.execute(delete(PortalAttempt).where(PortalAttempt.at < since))  # the old ones, anyone's
    return Opening(debtor=Actor.debtor(customer.id, customer.name))


def _customer_for(session: Session, claim: LinkClaim) -> Customer:
    customer = session.get(Customer, claim.customer_id)
    if customer is None or customer.portal_generation != claim.generation:
        raise LinkNotValid()
    return customer


def _failures(session: Session, client: str, since: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(PortalAttempt)
            .where(PortalAttempt.client == client, PortalAttempt.at >= since)
        )
        or 0
    )


def _failed(session: Session, client: str) -> None:
    session.add(PortalAttempt(client=client))
    session.flush()


def _second_factor_matches(session: Session, customer: Customer, kind: str, given: str) -> bool:
    if kind == "postal_code":  # "1634", "S 238823", "sw1a 1aa": spaces and case do not matter
        return customer.postal_code is not None and _postal(given) == _postal(customer.postal_code) != ""
    return given.strip() in _phone_endings(session, customer.id)


def _postal(code: str) -> str:
    return "".join(code.split()).upper()


def _phone_endings(session: Session, customer_id: int) -> set[str]:
    phones = session.scalars(
        select(Contact.phone).where(
            Contact.customer_id == customer_id, Contact.phone.is_not(None), Contact.role.in_(PORTAL_ROLES)
        )
    )
    return {phone[-4:] for phone in phones if phone and len(phone) >= 4}


# --- what the debtor sees ----------------------------------------------------------------------


PORTAL_ROLES = ("debtor", "billing")  # contacts the debtor sees and manages: never a guarantor


def _own(debtor: Actor) -> int:
    if debtor.debtor_of is None:
        raise ValidationError("Only a debtor's portal link opens the portal.")
    return debtor.debtor_of


def _reader(debtor: Actor) -> Actor:
    """Who reads the debtor's own account for them: a viewer (contact details masked). The debtor
    actor itself holds no permission, so no staff read service serves it anything."""
    return Actor(username="portal", role=Role.VIEWER, name=debtor.name)


def _view(session: Session, debtor: Actor, today: date) -> AccountView:
    """The debtor's account as the portal shows it: their own contacts (not guarantors) and only
    the documents of their invoices."""
    view = view_account(session, _reader(debtor), _own(debtor), as_of=today)
    return replace(
        view,
        contacts=tuple(c for c in view.contacts if c.role in PORTAL_ROLES),
        documents=tuple(d for d in view.documents if d.invoice_number is not None),
    )


def debtor_today(session: Session, debtor: Actor) -> date:
    """Today where the debtor is (their account's time zone): what "due", "overdue" and a promise's
    date mean to them, whatever the server's clock says."""
    customer = get_customer_row(session, _own(debtor))
    try:
        return datetime.now(ZoneInfo(customer.time_zone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.now(UTC).date()


def account(session: Session, debtor: Actor, *, today: date | None = None) -> PortalAccount:
    customer_id = _own(debtor)
    today = today or date.today()
    sent = session.execute(
        select(Send.sent_at, Send.channel, Send.subject)
        .where(Send.customer_id == customer_id, Send.status == "sent", Send.sent_at.is_not(None))
        .order_by(Send.sent_at.desc())
        .limit(100)
    ).all()
    return PortalAccount(
        account=_view(session, debtor, today),
        plans=tuple(
            p for p in plans.account_plans(session, _reader(debtor), customer_id, as_of=today) if p.status != "rejected"
        ),
        messages=tuple(MessageLine(row.sent_at, row.channel, row.subject or "(no subject)") for row in sent),
        settings=portal_settings(session),
    )


def statement_pdf(session: Session, debtor: Actor, *, today: date | None = None) -> bytes:
    """A statement of account as a PDF: every open invoice with what is left of it, totals per
    currency."""
    today = today or date.today()
    view = _view(session, debtor, today)
    open_lines = [line for line in view.invoices if line.open.amount > 0]
    statement = Letter(
        sender=LetterParty(sender.smtp.sender if (sender := get_settings()).smtp else "Accounts receivable"),
        recipient=LetterParty(view.name),
        dated=today,
        subject=f"Statement of account {view.external_ref} as of {today:%d %B %Y}",
        body=(
            "These invoices are open on our books today. Disputed invoices are marked; "
            "payments we receive after today are not in it yet."
        ),
        reference=view.external_ref,
        invoices=tuple(
            LetterInvoice(
                line.number + (" (disputed)" if line.disputed else ""),
                line.issue_date,
                line.due_date,
                line.open.format(),
            )
            for line in open_lines
        ),
        totals=totals_by_currency(line.open for line in open_lines),
    )
    return render_letter(statement)


def document(session: Session, debtor: Actor, document_id: int) -> DocumentFile:
    """One of the documents of the debtor's own invoices; any other id is not found."""
    found = session.get(Document, document_id)
    if found is None or found.customer_id != _own(debtor) or found.invoice_id is None:
        raise NotFound("No such document on your account.")
    return documents.read_document(session, _reader(debtor), document_id)


# --- what the debtor does ----------------------------------------------------------------------


def promise_to_pay(
    session: Session, debtor: Actor, *, amount: Money, due_on: date, note: str = "", today: date | None = None
) -> int:
    """A promise within the portal's limits: no later than the configured days ahead, no more
    than is open in that currency."""
    customer_id = _own(debtor)
    today = today or date.today()
    limits = portal_settings(session)
    if due_on > (latest := today + timedelta(days=limits.promise_max_days)):
        raise ValidationError(f"Choose a date within {limits.promise_max_days} days, by {latest:%d %b %Y}.")
    open_amount = ledger.owed(session, customer_id, amount.currency, disputed=False)
    if amount > open_amount:
        raise ValidationError(f"You owe {open_amount.format()} in {amount.currency}; promise at most that.")
    # One promise at a time per currency: each new one would push the account's follow-up back again.
    standing = session.scalars(
        select(Promise).where(
            Promise.customer_id == customer_id,
            Promise.currency == amount.currency,
            Promise.status == "pending",
            Promise.due_on >= today,
        )
    ).first()
    if standing is not None:
        raise ValidationError(
            f"You already promised {Money(standing.amount, standing.currency).format()} by "
            f"{standing.due_on:%d %b %Y}. That promise stands; to change it, contact us."
        )
    return promises.make_promise(
        session, debtor, customer_id, amount=amount, due_on=due_on, note=_by_debtor(note), today=today
    )


def dispute_invoice(
    session: Session, debtor: Actor, invoice_id: int, *, category: str, note: str, file: tuple[str, bytes] | None = None
) -> int:
    customer_id = _own(debtor)
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.customer_id != customer_id:
        raise NotFound("No such invoice on your account.")
    if category == "other" and not note.strip():
        raise ValidationError("Tell us what is wrong with the invoice.")
    dispute_id = disputes.open_dispute(session, debtor, invoice_id, category=category, note=_by_debtor(note))
    if file is not None:
        name, content = file
        documents.attach_document(
            session,
            debtor,
            customer_id,
            file_name=name,
            content=content,
            invoice_id=invoice_id,
            description="Sent with a dispute through the portal",
        )
    return dispute_id


def ask_for_plan(session: Session, debtor: Actor, *, currency: str, instalments: int, today: date | None = None) -> int:
    """A monthly plan over every open, undisputed invoice in the currency, first payment in two
    weeks: a proposal a manager approves or rejects."""
    customer_id = _own(debtor)
    today = today or date.today()
    limit = portal_settings(session).plan_max_instalments
    if not 2 <= instalments <= limit:
        raise ValidationError(f"Ask for 2 to {limit} monthly payments.")
    request = plans.PlanRequest(
        currency=currency,
        instalments=instalments,
        frequency="monthly",
        first_due_on=today + timedelta(days=14),
        note="Asked for by the debtor through the portal",
    )
    return plans.create_plan(session, debtor, customer_id, request, today=today)


def set_preferences(session: Session, debtor: Actor, contact_id: int, prefs: ContactPreferences) -> None:
    customer_id = _own(debtor)
    contact = _contact(session, customer_id, contact_id)
    customers.set_contact_preferences(session, debtor, contact_id, prefs)
    stopped = ", ".join(prefs.opted_out) or "nothing"
    add_to_timeline(
        session,
        debtor,
        customer_id,
        NewActivity(
            kind="status_change",
            direction="inbound",
            summary=f"Contact preferences changed by the debtor for {contact.name}: no {stopped}",
            details=_preferences(prefs),
        ),
    )


def stop_address(session: Session, debtor: Actor, contact_id: int, channel: str) -> None:
    """Stop every message to this contact's email ("email") or number ("phone"), on any channel."""
    customer_id = _own(debtor)
    contact = _contact(session, customer_id, contact_id)
    address = contact.email if channel == "email" else contact.phone if channel == "phone" else None
    if not address:
        raise ValidationError(f"We have no {channel} for {contact.name}.")
    opt_outs.stop_address(session, debtor, customer_id, address, why="Asked by the debtor through the portal")


def _contact(session: Session, customer_id: int, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None or contact.customer_id != customer_id or contact.role not in PORTAL_ROLES:
        raise NotFound("That contact is not one of yours.")
    return contact


def _by_debtor(note: str) -> str:
    note = note.strip()
    return f"From the debtor, through the portal: {note}" if note else "Made by the debtor through the portal"


def _preferences(prefs: ContactPreferences) -> dict[str, Any]:
    return {
        "opted_out": list(prefs.opted_out),
        "preferred_from": prefs.preferred_from.isoformat() if prefs.preferred_from else None,
        "preferred_until": prefs.preferred_until.isoformat() if prefs.preferred_until else None,
        "language": prefs.language,
    }
