"""Managers' templates against real PostgreSQL: saved only when valid (opt-out line, sandbox, known
fields) and only over the version the editor opened; previewed against a real account; then used
by the reminder batch, whose mail reaches a real SMTP server on loopback."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core import config
from core.errors import Conflict, PermissionDenied, TemplateError
from core.models import AuditEntry, Customer, MessageTemplate, Send
from core.money import Money
from core.roles import Role
from core.services import disputes, ledger, reminders, templates_admin
from core.services.dunning import NewStep, create_sequence
from tests.factories import SYSTEM, make_customer, make_invoice, make_user
from tests.smtp import SmtpSink

# A Tuesday, 10:00 in Manila (02:00 UTC): within every market's hours there.
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
TODAY = NOW.date()
SUBJECT = "Statement for {{ customer.name }} ({{ customer.ref }})"
BODY = """Dear {{ contact.name or customer.name }},
{% for invoice in invoices %}
- {{ invoice.number }} due {{ invoice.due_date }}: {{ invoice.amount }}
{% endfor %}
{% for total in totals %}
Total {{ total.currency }}: {{ total.amount }}
{% endfor %}
{{ opt_out }}"""


def unique_key() -> str:
    return f"tpl-{uuid.uuid4().hex[:8]}"  # other tests commit templates to the same database


def save(session, actor, key, *, body=BODY, subject=SUBJECT, channel="email", version=0):
    return templates_admin.save_template(
        session, actor, key=key, channel=channel, language="en", subject=subject, body=body, version=version
    )


def stored(session, key):
    return session.scalars(select(MessageTemplate).where(MessageTemplate.key == key)).all()


@pytest.fixture
def manager(session):
    return make_user(session, Role.MANAGER).as_actor()


@pytest.fixture
def smtp(monkeypatch):
    sink = SmtpSink().start()
    for name, value in sink.env.items():
        monkeypatch.setenv(name, value)
    config.get_settings.cache_clear()
    yield sink
    sink.stop()
    config.get_settings.cache_clear()


def test_a_manager_saves_a_valid_template_and_a_second_save_is_a_new_version(session, manager):
    key = unique_key()

    template_id = save(session, manager, key)
    save(session, SYSTEM, key, body=BODY + "\nThank you.", version=1)

    [row] = stored(session, key)
    assert (row.id, row.version, row.updated_by, row.subject) == (template_id, 2, SYSTEM.username, SUBJECT)
    assert row.body.endswith("Thank you.")
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "template.save", AuditEntry.entity_id == str(template_id))
    ).all()
    assert [(e.actor, e.before and e.before["version"], e.after["version"]) for e in entries] == [
        (manager.username, None, 1),
        (SYSTEM.username, 1, 2),
    ]
    assert entries[1].before["body"] == BODY


def test_an_email_template_without_the_opt_out_line_is_refused(session, manager):
    key = unique_key()

    with pytest.raises(TemplateError, match=r"must carry the opt-out line: add \{\{ opt_out \}\}"):
        save(session, manager, key, body="Dear {{ customer.name }}, please pay.")

    assert stored(session, key) == []


def test_a_sandbox_escape_is_refused(session, manager):
    key = unique_key()

    with pytest.raises(TemplateError, match="refused by the template sandbox.*__class__"):
        save(session, manager, key, body="{{ customer.__class__.__mro__ }} {{ opt_out }}")

    assert stored(session, key) == []


def test_an_unknown_field_and_a_long_sms_are_refused(session, manager):
    with pytest.raises(TemplateError, match="unknown merge field 'custmer'"):
        save(session, manager, unique_key(), body="Dear {{ custmer.name }}. {{ opt_out }}")
    with pytest.raises(TemplateError, match="the limit is 6"):
        save(session, manager, unique_key(), channel="sms", subject="", body="Pay now. " * 120 + "{{ opt_out }}")


def test_a_stale_version_is_refused_naming_who_saved(session, manager):
    key = unique_key()
    other = make_user(session, Role.MANAGER).as_actor()
    save(session, manager, key)
    save(session, other, key, body=BODY + "\nTheirs.", version=1)

    with pytest.raises(Conflict, match=f"{other.username} changed the template {key} \\(email, en\\)"):
        save(session, manager, key, body=BODY + "\nMine.", version=1)
    with pytest.raises(Conflict, match=f"{other.username} already saved a template {key}"):
        save(session, manager, key, body=BODY + "\nMine.", version=0)

    [row] = stored(session, key)
    assert (row.version, row.body) == (2, BODY + "\nTheirs.")


def test_a_collector_may_not_save_a_template(session):
    collector = make_user(session, Role.COLLECTOR).as_actor()
    key = unique_key()

    with pytest.raises(PermissionDenied, match="may not create and change accounts"):
        save(session, collector, key)

    assert stored(session, key) == []


def test_preview_shows_the_accounts_open_invoices_and_a_total_per_currency(session, manager):
    customer_id = make_customer(session, name="Preview Trading Corp.")
    tag = uuid.uuid4().hex[:6]
    make_invoice(session, customer_id, amount="1000.00", number=f"A-{tag}", due_in_days=-20, as_of=TODAY)
    part_paid = make_invoice(session, customer_id, amount="500.00", number=f"B-{tag}", due_in_days=-5, as_of=TODAY)
    make_invoice(session, customer_id, amount="90.00", currency="USD", number=f"C-{tag}", as_of=TODAY)
    paid = make_invoice(session, customer_id, amount="70.00", number=f"PAID-{tag}", as_of=TODAY)
    disputed = make_invoice(session, customer_id, amount="40.00", number=f"DISPUTED-{tag}", as_of=TODAY)
    ledger.record_payment(
        session,
        SYSTEM,
        customer_id,
        amount=Money("270.00", "PHP"),
        received_on=TODAY - timedelta(days=1),
        reference=f"PV-{tag}",
        invoice_ids=[paid, part_paid],
        today=TODAY,
    )
    disputes.open_dispute(session, SYSTEM, disputed, category="pricing")

    preview = templates_admin.preview_template(
        session,
        manager,
        channel="email",
        language="en",
        subject=SUBJECT,
        body=BODY,
        customer_id=customer_id,
        as_of=TODAY,
    )

    ref = session.get(Customer, customer_id).external_ref
    assert preview.subject == f"Statement for Preview Trading Corp. ({ref})"
    assert f"- A-{tag} due " in preview.text and f"- C-{tag} due " in preview.text
    assert f"- B-{tag} due {(TODAY - timedelta(days=5)).strftime('%B %-d, %Y')}: ₱300.00" in preview.text
    assert "PAID-" not in preview.text and "DISPUTED-" not in preview.text
    assert "Total PHP: ₱1,300.00\nTotal USD: $90.00" in preview.text
    assert preview.text.endswith("To stop these emails, reply STOP or tell us by phone.")
    assert preview.html and f"<li>A-{tag} due " in preview.html
    assert preview.sms_info is None


def test_an_sms_preview_counts_its_segments(session, manager):
    customer_id = make_customer(session)
    make_invoice(session, customer_id, amount="1234.50", as_of=TODAY)
    body = "{{ customer.name }} owes {{ totals[0].amount }}. {{ opt_out }}"

    preview = templates_admin.preview_template(
        session, manager, channel="sms", language="en", subject="", body=body, customer_id=customer_id
    )

    assert preview.text.endswith("owes PHP 1,234.50. Reply STOP to opt out.")
    assert (preview.sms_info.encoding, preview.sms_info.segments) == ("GSM-7", 1)
    assert preview.sms_info.characters == len(preview.text)


def test_a_preview_that_does_not_render_raises_a_template_error(session, manager):
    customer_id = make_customer(session)

    with pytest.raises(TemplateError, match="does not parse"):
        templates_admin.preview_template(
            session, manager, channel="email", language="en", subject="x", body="{% if %}", customer_id=customer_id
        )


def test_the_shipped_default_is_the_stages_text_in_the_language_else_english():
    assert templates_admin.shipped_default("firm", "sms", "fil").language == "fil"
    letter = templates_admin.shipped_default("final_notice", "letter", "fil")
    assert (letter.language, letter.stage, letter.subject.startswith("Final notice")) == ("en", "final_notice", True)


def test_the_editor_opens_the_shipped_text_until_a_template_is_stored(session, manager):
    key = unique_key()
    create_sequence(
        session,
        SYSTEM,
        name=f"Editor {key}",
        steps=[NewStep(offset_days=20, channel="email", stage="firm", template_key=key)],
    )
    assert (key, "firm") in {(k.key, k.stage) for k in templates_admin.template_keys(session, manager)}

    shipped = templates_admin.load_template(session, manager, key=key, channel="email", language="EN")
    assert (shipped.version, shipped.updated_by, shipped.stage, shipped.language) == (0, None, "firm", "en")
    assert shipped.body == templates_admin.shipped_default("firm", "email", "en").body

    save(session, manager, key)
    mine = templates_admin.load_template(session, manager, key=key, channel="email", language="en")
    assert (mine.version, mine.updated_by, mine.body) == (1, manager.username, BODY)


def test_the_batch_sends_the_stored_template(session, smtp, manager):
    key = unique_key()
    sequence_id = create_sequence(
        session,
        SYSTEM,
        name=f"Templates {key}",
        steps=[NewStep(offset_days=3, channel="email", stage="reminder", template_key=key)],
    )
    save(session, manager, key, subject=f"{key}: " + SUBJECT)
    customer_id = make_customer(session, name="Batch Template Ltd.")
    session.get(Customer, customer_id).sequence_id = sequence_id
    make_invoice(session, customer_id, amount="2468.00", number=f"INV-{key}", due_in_days=-5, as_of=TODAY)
    session.flush()

    reminders.run(now=NOW)

    [send] = session.scalars(select(Send).where(Send.customer_id == customer_id)).all()
    assert send.status == "sent"
    [mail] = smtp.inbox.to(send.address)
    ref = session.get(Customer, customer_id).external_ref
    assert mail["Subject"] == f"{key}: Statement for Batch Template Ltd. ({ref})"
    [text] = [p.get_payload(decode=True).decode() for p in mail.walk() if p.get_content_type() == "text/plain"]
    due = date.fromordinal(TODAY.toordinal() - 5).strftime("%B %-d, %Y")
    assert f"- INV-{key} due {due}: ₱2,468.00" in text
    assert "Total PHP: ₱2,468.00" in text
