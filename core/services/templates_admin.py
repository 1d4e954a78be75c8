"""Managers edit the message templates: start from a stored text or the shipped one, preview it
against a real account, and save it as a new version (checked in the sandbox, opt-out line included)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import templates
from core.config import get_settings
from core.errors import Conflict, TemplateError, ValidationError
from core.models import Allocation, Contact, DunningStep, Invoice, MessageTemplate
from core.money import Money
from core.roles import Actor, Permission
from core.services import audit
from core.services.customers import get_customer_row
from core.services.portal_settings import portal_settings
from core.services.reminder_messages import OPT_OUT

_ROLE_ORDER = {"debtor": 0, "guarantor": 1, "billing": 2}


@dataclass(frozen=True)
class TemplateKey:
    """A key a template may be stored under, and the stage whose shipped text it starts from."""

    key: str
    stage: str


@dataclass(frozen=True)
class EditorText:
    """What the editor opens: the stored template (version > 0) or the shipped text (version 0)."""

    key: str
    channel: str
    language: str
    subject: str
    body: str
    version: int
    updated_by: str | None
    stage: str


@dataclass(frozen=True)
class Preview:
    subject: str
    text: str
    html: str | None
    sms_info: templates.SmsInfo | None


def shipped_templates() -> tuple[templates.Template, ...]:
    return templates.DEFAULT_TEMPLATES


def shipped_default(stage: str, channel: str, language: str) -> templates.Template:
    """The text Recoup ships for this stage and channel, in the language or else in English."""
    return templates.pick_template(templates.DEFAULT_TEMPLATES, channel, language=language, stage=stage)


def template_keys(session: Session, actor: Actor) -> list[TemplateKey]:
    """The stages, then the other keys steps use or templates are stored under."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "dunning.view", "message_template")
    keys = {stage: stage for stage in templates.STAGES}
    for key, stage in session.execute(
        select(DunningStep.template_key, DunningStep.stage).order_by(DunningStep.template_key, DunningStep.id)
    ):
        keys.setdefault(key, stage)
    for key in session.scalars(select(MessageTemplate.key).distinct().order_by(MessageTemplate.key)):
        keys.setdefault(key, templates.STAGES[0])  # stored under a key no step uses (yet)
    return [TemplateKey(key, stage) for key, stage in keys.items()]


def load_template(session: Session, actor: Actor, *, key: str, channel: str, language: str) -> EditorText:
    """The stored template for key, channel and language; else the shipped text of the key's stage."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "dunning.view", "message_template")
    language = _language(language)
    stage = next((k.stage for k in template_keys(session, actor) if k.key == key), templates.STAGES[0])
    row = _stored(session, key, channel, language)
    if row is not None:
        return EditorText(key, channel, language, row.subject, row.body, row.version, row.updated_by, stage)
    shipped = shipped_default(stage, channel, language)
    return EditorText(key, channel, language, shipped.subject, shipped.body, 0, None, stage)


def save_template(
    session: Session, actor: Actor, *, key: str, channel: str, language: str, subject: str, body: str, version: int
) -> int:
    """Store a template. version is what the editor loaded (0: a new one); if someone saved since,
    nothing is written and the Conflict names who."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "template.save", "message_template")
    key = key.strip()
    if not key or len(key) > 64:
        raise ValidationError("A template key is 1 to 64 characters.")
    if len(subject) > 300:
        raise ValidationError("A subject is at most 300 characters.")
    template = templates.Template(channel=channel, language=_language(language), body=body, subject=subject)
    templates.validate_template(template)
    row = _stored(session, key, template.channel, template.language, lock=True)
    where = f"{key} ({template.channel}, {template.language})"
    if row is None and version != 0:
        raise Conflict(f"The template {where} is no longer stored; reload to start again.")
    if row is not None and version == 0:
        raise Conflict(f"{row.updated_by} already saved a template {where}; reload to edit theirs.")
    if row is not None and row.version != version:
        raise Conflict(f"{row.updated_by} changed the template {where} since you opened it; reload to see theirs.")
    before = None if row is None else audit.snapshot(row)
    if row is None:
        row = MessageTemplate(key=key, channel=template.channel, language=template.language, version=1)
        session.add(row)
    else:
        row.version += 1
    row.subject, row.body, row.updated_by = template.subject, template.body, actor.username
    session.flush()
    audit.record(session, actor, "template.save", "message_template", row.id, before=before, after=audit.snapshot(row))
    return row.id


def preview_template(
    session: Session,
    actor: Actor,
    *,
    channel: str,
    language: str,
    subject: str,
    body: str,
    customer_id: int,
    as_of: date | None = None,
) -> Preview:
    """The message as this customer would get it today, from its open undisputed invoices."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "template.preview", "customer", customer_id)
    template = templates.Template(channel=channel, language=_language(language), body=body, subject=subject)
    customer = get_customer_row(session, customer_id)
    contact = _contact(session, customer_id, template.channel)
    smtp = get_settings().smtp
    context = templates.MergeContext(
        customer_name=customer.name,
        customer_ref=customer.external_ref,
        customer_kind=customer.kind,
        contact_name=contact.name if contact else "",
        contact_role=contact.role if contact else "",
        as_of=as_of or date.today(),
        invoices=_open_invoices(session, customer_id),
        sender=smtp.sender if smtp else "Accounts receivable",  # what the batch signs with
        portal_link=f"{get_settings().portal_url}/?t=(a link made for this customer when the message is sent)",
        opt_out=OPT_OUT.get(template.channel, ""),
        payment_instructions=portal_settings(session).instructions,
    )
    rendered = templates.render(template, context)
    return Preview(rendered.subject, rendered.text, rendered.html, rendered.sms)


def _language(language: str) -> str:
    language = language.strip().lower().replace("_", "-")  # as Template stores it
    if not language or len(language) > 16:
        raise TemplateError("A template needs a language code such as 'en' or 'fil'.")
    return language


def _stored(session: Session, key: str, channel: str, language: str, *, lock: bool = False) -> MessageTemplate | None:
    query = select(MessageTemplate).where(
        MessageTemplate.key == key, MessageTemplate.channel == channel, MessageTemplate.language == language
    )
    return session.scalar(query.with_for_update() if lock else query)


def _open_invoices(session: Session, customer_id: int) -> tuple[templates.InvoiceLine, ...]:
    paid = select(func.coalesce(func.sum(Allocation.amount), 0)).where(Allocation.invoice_id == Invoice.id)
    rows = session.execute(
        select(Invoice, paid.scalar_subquery())
        .where(Invoice.customer_id == customer_id, Invoice.status == "open", ~Invoice.disputed)
        .order_by(Invoice.due_date, Invoice.id)
    )
    return tuple(
        templates.InvoiceLine(i.number, i.issue_date, i.due_date, Money(i.amount - allocated, i.currency))
        for i, allocated in rows
        if i.amount > allocated
    )


def _contact(session: Session, customer_id: int, channel: str) -> Contact | None:
    """Who the batch would write to: a contact with an address for the channel, debtor first."""
    contacts = list(session.scalars(select(Contact).where(Contact.customer_id == customer_id).order_by(Contact.id)))
    address = {"email": "email", "sms": "phone", "call": "phone"}.get(channel)
    usable = [c for c in contacts if address is None or getattr(c, address)] or contacts
    return min(usable, key=lambda c: _ROLE_ORDER.get(c.role, 9)) if usable else None
