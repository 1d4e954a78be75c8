"""The text of one reminder: the step's template in the contact's language (else English), stored
by a manager or shipped with Recoup, rendered in the sandbox against the account's facts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import templates
from core.models import DunningStep, MessageTemplate, Send
from core.services import portal
from core.services.portal_settings import portal_settings
from core.services.reminder_facts import SendFacts

OPT_OUT = {
    "email": "To stop these emails, reply STOP or tell us by phone.",
    "sms": "Reply STOP to opt out.",
}


@dataclass(frozen=True)
class Message:
    subject: str = ""
    text: str = ""
    error: str | None = None  # the template failed to render: the send is recorded as failed, with this


def stored_templates(session: Session, key: str, channel: str) -> list[templates.Template]:
    rows = session.scalars(
        select(MessageTemplate).where(MessageTemplate.key == key, MessageTemplate.channel == channel)
    )
    return [templates.Template(channel=r.channel, language=r.language, body=r.body, subject=r.subject) for r in rows]


def compose(
    session: Session,
    send: Send,
    step: DunningStep,
    facts: SendFacts,
    stored: dict[tuple[str, str], list[templates.Template]] | None = None,
    agency: templates.AgencyInfo | None = None,
    instructions: dict[str, str] | None = None,
) -> Message:
    """`stored`: the templates already read in this run, by key and channel (it fills as it goes).
    `instructions`: how to pay in each currency (Workflows → Portal), read once per run; None
    reads them here."""
    stored = {} if stored is None else stored
    if (step.template_key, step.channel) not in stored:
        stored[step.template_key, step.channel] = stored_templates(session, step.template_key, step.channel)
    candidates = stored[step.template_key, step.channel] or [
        t for t in templates.DEFAULT_TEMPLATES if t.channel == step.channel and t.stage == step.stage
    ]
    context = templates.MergeContext(
        customer_name=facts.customer_name,
        customer_ref=facts.customer_ref,
        customer_kind=facts.customer_kind,
        contact_name=facts.contact_name,
        contact_role=facts.contact_role,
        as_of=facts.as_of,
        invoices=tuple(templates.InvoiceLine(n, issued, due, owed) for n, issued, due, owed in facts.invoices),
        sender=facts.sender,
        portal_link=portal.link_for_message(facts.customer_id, facts.portal_generation),
        opt_out=OPT_OUT.get(step.channel, ""),
        payment_instructions=instructions if instructions is not None else portal_settings(session).instructions,
        agency=agency,
    )
    try:
        template = templates.pick_template(candidates, step.channel, language=facts.language)
        rendered = templates.render(template, context)
    except templates.TemplateError as error:
        return Message(error=f"template {step.template_key}/{step.channel}: {error}")
    return Message(rendered.subject, rendered.text)
