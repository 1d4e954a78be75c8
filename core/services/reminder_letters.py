"""Letter steps of the reminder batch: the letter (or, at the legal handover stage, the formal
demand) is rendered as a PDF, kept on the account as a document in the same transaction that
marks the send done, and the run's letters are collected into one printable file. A legal
handover never fires on a time-barred debt, flags the account legal (reminders stop) and leaves
a task to hand the account over."""

from __future__ import annotations

import textwrap
from datetime import date, datetime

from sqlalchemy.orm import Session

from core import letters
from core.config import get_settings
from core.models import Customer, Send, Task
from core.roles import Actor
from core.services import customers, documents
from core.services.reminder_facts import SendFacts
from core.services.settings import setting_value
from core.templates import AgencyInfo


def time_barred(session: Session, facts: SendFacts, cycle: date) -> str | None:
    """Why a legal step must not fire (None: it may): the oldest debt is past the limitation period."""
    overrides = setting_value(session, "limitation_years")
    years = letters.limitation_for(facts.country, overrides)
    if letters.is_time_barred(cycle, facts.as_of, years):
        return f"time-barred: due {cycle:%d %b %Y}, past the {years}-year limitation period in {facts.country}"
    return None


def write_letter(
    session: Session,
    actor: Actor,
    send: Send,
    facts: SendFacts,
    *,
    stage: str,
    subject: str,
    text: str,
    agency: AgencyInfo | None = None,
) -> tuple[int, letters.Letter]:
    """Render and keep the letter on the account; returns the document id and the letter, for
    the run's printable batch."""
    settings = get_settings()
    sender = settings.smtp.sender if settings.smtp else "Accounts receivable"
    letter = letters.Letter(
        # A licensed agency writes under its own name with its licence (Singapore's Debt Collection
        # Act); a creditor collecting its own debts, under the sender's.
        sender=letters.LetterParty(agency.name, (agency.licence,)) if agency else letters.LetterParty(sender),
        recipient=letters.LetterParty(facts.contact_name or facts.customer_name),
        dated=facts.as_of,
        subject=subject,
        body=text,
        reference=send.send_key,
        kind="demand" if stage == "legal_handover" else "reminder",
        invoices=tuple(
            letters.LetterInvoice(number, issued, due, owed.format()) for number, issued, due, owed in facts.invoices
        ),
        totals=letters.totals_by_currency([owed for *_, owed in facts.invoices]),
    )
    pdf = letters.render_letter(letter)
    document_id = documents.attach_document(
        session,
        actor,
        send.customer_id,
        file_name=f"{'demand' if letter.kind == 'demand' else 'letter'}-{facts.as_of.isoformat()}-{send.id}.pdf",
        content=pdf,
        description=f"{letter.kind.capitalize()} letter: {subject}",
    )
    if stage == "legal_handover":
        _flag_legal(session, actor, send.customer_id, subject)
        session.add(
            Task(
                customer_id=send.customer_id,
                send_id=send.id,
                kind="legal",
                title="Legal handover: the formal demand went out; review and hand the account to counsel",
                due_on=facts.as_of,
                assigned_to=facts.collector_id,
            )
        )
    return document_id, letter


def _flag_legal(session: Session, actor: Actor, customer_id: int, subject: str) -> None:
    """The account is handed over: flagged legal (reminders stop) as any flag a person sets, with
    who, when and why on the account, its timeline and the audit log; a manager clears it."""
    customer = session.get(Customer, customer_id)
    if customer is not None and not customer.legal:
        why = textwrap.shorten(f"the formal demand went out: {subject}", width=300, placeholder="…")
        customers.set_flag(session, actor, customer_id, "legal", on=True, why=why)


def write_batch(run_letters: list[letters.Letter], *, now: datetime) -> str | None:
    """The run's letters in one printable PDF under the data folder; returns its path."""
    if not run_letters:
        return None
    folder = get_settings().data_dir / "letters"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"letters-{now:%Y%m%d-%H%M%S}.pdf"
    path.write_bytes(letters.render_letters(run_letters))
    return str(path)
