"""The reminder batch against real PostgreSQL and a real SMTP server on loopback, on a fixed clock:
one message per customer, step and currency; pauses and blocks recorded with reasons; retries."""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from core import config
from core.errors import Conflict, ValidationError
from core.models import Contact, Customer, MessageTemplate, Payment, Send, Task
from core.money import Money
from core.roles import Role
from core.services import (
    accounts,
    customers,
    disputes,
    documents,
    dunning_settings,
    opt_outs,
    plans,
    portal,
    promises,
    reminders,
    send_review,
    tasks,
    workflows,
)
from core.services.dunning import NewStep, create_sequence, update_sequence
from core.services.plans import PlanRequest
from core.templates import AgencyInfo
from tests.factories import SYSTEM, make_customer, make_invoice, make_user
from tests.sms_gateway import running_gateway
from tests.smtp import SmtpSink

# A Tuesday, 10:00 in Manila (02:00 UTC): within every market's hours there.
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
TODAY = NOW.date()
EMAIL_BODY = "Dear {{ customer.name }}, please pay. {{ opt_out }}"
TAG = uuid.uuid4().hex[:8]  # template keys of this module's own: other tests commit templates too


def key(stage: str) -> str:
    return f"{stage}-{TAG}"


@pytest.fixture
def smtp(monkeypatch):
    sink = SmtpSink().start()
    for key, value in sink.env.items():
        monkeypatch.setenv(key, value)
    config.get_settings.cache_clear()
    yield sink
    sink.stop()
    config.get_settings.cache_clear()


@pytest.fixture
def sequence(session):
    sequence_id = create_sequence(
        session,
        SYSTEM,
        name=f"Test {datetime.now().timestamp()}",
        steps=[
            NewStep(offset_days=3, channel="email", stage="reminder", template_key=key("reminder")),
            NewStep(offset_days=20, channel="email", stage="firm", template_key=key("firm")),
            NewStep(offset_days=45, channel="call", stage="final_notice", template_key=key("final_notice")),
        ],
    )
    for stage in ("reminder", "firm", "final_notice"):
        for channel in ("email", "call"):
            session.add(
                MessageTemplate(
                    key=key(stage),
                    channel=channel,
                    language="en",
                    subject=f"{stage} for {{{{ customer.name }}}}",
                    body=EMAIL_BODY,
                    updated_by="tests",
                )
            )
    session.flush()
    return sequence_id


def debtor(session, sequence_id, *, days_overdue=5, amount="1357.91", **kwargs):
    customer_id = make_customer(session, **kwargs)
    session.get(Customer, customer_id).sequence_id = sequence_id
    invoice_id = make_invoice(session, customer_id, amount=amount, due_in_days=-days_overdue, as_of=TODAY)
    return customer_id, invoice_id


def sends_of(session, customer_id):
    session.expire_all()
    return list(session.scalars(select(Send).where(Send.customer_id == customer_id).order_by(Send.id)))


def test_a_due_step_is_sent_once_and_a_second_run_sends_nothing(session, smtp, sequence):
    customer_id, _ = debtor(session, sequence)

    first = reminders.run(now=NOW)
    second = reminders.run(now=NOW + timedelta(hours=1))

    [send] = sends_of(session, customer_id)
    assert send.status == "sent" and send.provider_message_id.startswith("<")
    address = send.address
    assert len(smtp.inbox.to(address)) == 1
    assert first.outcomes["sent"] >= 1 and second.outcomes["sent"] == 0
    mail = smtp.inbox.to(address)[0]
    assert mail["Message-ID"] == send.provider_message_id
    assert "reminder for Customer" in mail["Subject"]
    timeline = accounts.account_timeline(session, SYSTEM, customer_id, kinds=("email",))
    assert any("Reminder sent to" in entry.summary for entry in timeline)


def test_one_message_covers_every_overdue_invoice_of_a_currency(session, smtp, sequence):
    customer_id, _ = debtor(session, sequence, days_overdue=6)
    make_invoice(session, customer_id, amount="250.00", due_in_days=-4, as_of=TODAY)
    make_invoice(session, customer_id, amount="90.00", currency="USD", due_in_days=-4, as_of=TODAY)

    reminders.run(now=NOW)

    rows = sends_of(session, customer_id)
    assert sorted(s.currency for s in rows) == ["PHP", "USD"]
    php = next(s for s in rows if s.currency == "PHP")
    assert len(php.invoice_ids) == 2


def test_the_batch_down_for_weeks_sends_the_latest_step_and_skips_the_earlier(session, smtp, sequence):
    customer_id, _ = debtor(session, sequence, days_overdue=25)

    reminders.run(now=NOW)

    statuses = {(s.status, s.reasons[0]["text"] if s.reasons else "") for s in sends_of(session, customer_id)}
    assert ("sent", "") in statuses
    assert any(status == "skipped" and "superseded" in why for status, why in statuses)


def test_holds_disputes_plans_and_promises_stop_the_reminder_with_a_reason(session, smtp, sequence):
    held, _ = debtor(session, sequence)
    customers.set_flag(session, SYSTEM, held, "bankrupt", on=True, why="Chapter 7")
    disputed, invoice = debtor(session, sequence)
    disputes.open_dispute(session, SYSTEM, invoice, category="not_delivered")
    planned, _ = debtor(session, sequence)
    plans.create_plan(
        session,
        make_user(session, Role.MANAGER).as_actor(),
        planned,
        PlanRequest(currency="PHP", instalments=2, frequency="monthly", first_due_on=date.today()),
    )
    promised, _ = debtor(session, sequence)
    promises.make_promise(
        session, SYSTEM, promised, amount=Money("1000", "PHP"), due_on=date.today() + timedelta(days=5)
    )

    reminders.run(now=NOW)

    assert [(s.status, s.reasons[0]["text"]) for s in sends_of(session, held)] == [("blocked", "bankrupt")]
    assert sends_of(session, disputed) == []  # nothing undisputed is owed: no step is due
    assert sends_of(session, planned)[0].reasons[0]["text"] == "on a current payment plan"
    assert "promised to pay" in sends_of(session, promised)[0].reasons[0]["text"]
    blocked = accounts.account_timeline(session, SYSTEM, held, kinds=("blocked",))
    assert blocked and "bankrupt" in blocked[0].summary
    assert smtp.inbox.messages == [] or all(
        m["To"] not in {s.address for c in (held, planned, promised) for s in sends_of(session, c)}
        for m in smtp.inbox.messages
    )


def test_an_unmatched_payment_of_the_amount_owed_holds_the_reminder(session, smtp, sequence):
    customer_id, _ = debtor(session, sequence, amount="777.77")
    session.add(  # the payer is unknown: it waits in unapplied payments
        Payment(
            customer_id=None,
            source="bank",
            reference=f"TRF {customer_id}",
            received_on=TODAY,
            currency="PHP",
            amount=Decimal("777.77"),
            method="bank_transfer",
        )
    )
    session.flush()

    reminders.run(now=NOW)

    [send] = sends_of(session, customer_id)
    assert send.status == "blocked"
    assert "possible payment received" in send.reasons[0]["text"]


def test_smtp_down_is_retried_later_and_goes_out_once_the_server_is_back(session, smtp, sequence):
    customer_id, _ = debtor(session, sequence)
    smtp.stop()

    down = reminders.run(now=NOW)

    [send] = sends_of(session, customer_id)
    assert (send.status, send.attempts) == ("planned", 1)
    assert down.outcomes["retry"] >= 1
    smtp.start()
    reminders.run(now=NOW + timedelta(minutes=10))
    [send] = sends_of(session, customer_id)
    assert send.status == "sent"
    assert len(smtp.inbox.to(send.address)) == 1


def test_quiet_hours_block_the_send_and_it_goes_at_the_next_allowed_time(session, smtp, sequence):
    customer_id, _ = debtor(session, sequence, country="US", time_zone="America/New_York")
    night = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # 02:00 in New York

    reminders.run(now=night)

    [send] = sends_of(session, customer_id)
    assert send.status == "blocked"
    assert send.next_attempt_at == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 08:00 EST
    reminders.run(now=datetime(2026, 11, 24, 13, 5, tzinfo=UTC))
    assert sends_of(session, customer_id)[0].status == "sent"


def test_the_call_step_becomes_a_task_for_the_collector(session, smtp, sequence):
    collector = make_user(session, Role.COLLECTOR)
    customer_id, _ = debtor(session, sequence, days_overdue=50, collector_id=collector.id)

    reminders.run(now=NOW)

    task = session.scalars(select(Task).where(Task.customer_id == customer_id)).one()
    assert (task.kind, task.assigned_to) == ("call", collector.id)
    assert "Dear" in task.script


def test_a_sandbox_escape_in_a_template_fails_the_send_with_the_reason(session, smtp, sequence):
    template = session.scalars(
        select(MessageTemplate).where(MessageTemplate.key == key("reminder"), MessageTemplate.channel == "email")
    ).first()
    template.body = "{{ ''.__class__.__mro__[1].__subclasses__() }} {{ opt_out }}"
    customer_id, _ = debtor(session, sequence)

    reminders.run(now=NOW)

    [send] = sends_of(session, customer_id)
    assert send.status == "failed"
    assert "sandbox" in send.reasons[0]["text"].lower() or "unsafe" in send.reasons[0]["text"].lower()
    assert smtp.inbox.to(send.address or "nobody") == []


@pytest.fixture
def approval_sequence(session):
    sequence_id = create_sequence(
        session,
        SYSTEM,
        name=f"Approval {datetime.now().timestamp()}",
        steps=[NewStep(offset_days=3, channel="email", stage="firm", mode="approval", template_key=key("approval"))],
    )
    session.add(
        MessageTemplate(
            key=key("approval"), channel="email", language="en", subject="Firm", body=EMAIL_BODY, updated_by="t"
        )
    )
    session.flush()
    return sequence_id


def test_an_approval_step_prepares_a_draft_that_goes_out_only_once_approved(session, smtp, approval_sequence):
    manager = make_user(session, Role.MANAGER).as_actor()
    customer_id, _ = debtor(session, approval_sequence)

    reminders.run(now=NOW)
    [draft] = sends_of(session, customer_id)
    assert (draft.status, draft.fingerprint != "", "please pay" in draft.body) == ("draft", True, True)
    assert smtp.inbox.to(draft.address) == []

    send_review.approve_drafts(session, manager, [draft.id])
    reminders.run(now=NOW + timedelta(minutes=15))

    [sent] = sends_of(session, customer_id)
    assert (sent.status, sent.approved_by) == ("sent", manager.username)
    assert len(smtp.inbox.to(sent.address)) == 1


def test_a_draft_whose_invoices_changed_after_it_was_prepared_is_refused(session, smtp, approval_sequence):
    manager = make_user(session, Role.MANAGER).as_actor()
    customer_id, _ = debtor(session, approval_sequence)
    reminders.run(now=NOW)
    [draft] = sends_of(session, customer_id)
    make_invoice(session, customer_id, amount="50.00", due_in_days=-4, as_of=TODAY)  # owed more since

    send_review.approve_drafts(session, manager, [draft.id])
    reminders.run(now=NOW + timedelta(minutes=15))

    [refused] = sends_of(session, customer_id)
    assert refused.status == "skipped"
    assert "invoices changed" in refused.reasons[0]["text"]
    assert smtp.inbox.to(refused.address) == []


def test_a_manager_resends_or_dismisses_a_send_that_needs_attention(session, smtp, sequence):
    manager = make_user(session, Role.MANAGER).as_actor()
    first, _ = debtor(session, sequence)
    second, _ = debtor(session, sequence)
    reminders.run(now=NOW)
    for customer_id in (first, second):
        [send] = sends_of(session, customer_id)
        send.status = "uncertain"  # as a killed run leaves it
        session.flush()
    attention = {line.customer_id for line in send_review.list_sends(session, manager, statuses=("uncertain",))}
    assert {first, second} <= attention

    send_review.resolve_uncertain(session, manager, sends_of(session, first)[0].id, resend=True)
    send_review.resolve_uncertain(
        session, manager, sends_of(session, second)[0].id, resend=False, note="Checked: it arrived"
    )
    reminders.run(now=NOW + timedelta(minutes=30))

    assert sends_of(session, first)[0].status == "sent"
    assert len(smtp.inbox.to(sends_of(session, first)[0].address)) == 2  # resent on purpose
    assert sends_of(session, second)[0].status == "dismissed"
    with pytest.raises(Conflict):
        send_review.resolve_uncertain(session, manager, sends_of(session, second)[0].id, resend=True)


def test_the_blocked_contacts_report_counts_sends_by_reason(session, smtp, sequence):
    manager = make_user(session, Role.MANAGER).as_actor()
    held, _ = debtor(session, sequence)
    customers.set_flag(session, SYSTEM, held, "deceased", on=True, why="Family informed us")

    reminders.run(now=NOW)

    assert any(reason == "deceased" and count >= 1 for reason, count in send_review.blocked_reasons(session, manager))
    [line] = [
        line for line in send_review.list_sends(session, manager, statuses=("blocked",)) if line.customer_id == held
    ]
    assert line.reasons == ("deceased",)


def test_a_collector_sees_the_call_task_and_marks_it_done(session, smtp, sequence):
    collector = make_user(session, Role.COLLECTOR)
    customer_id, _ = debtor(session, sequence, days_overdue=50, collector_id=collector.id)
    reminders.run(now=NOW)

    [task] = [t for t in tasks.open_tasks(session, collector.as_actor()) if t.customer_id == customer_id]
    tasks.complete_task(session, collector.as_actor(), task.task_id)

    assert customer_id not in {t.customer_id for t in tasks.open_tasks(session, collector.as_actor())}
    with pytest.raises(Conflict):
        tasks.complete_task(session, collector.as_actor(), task.task_id)


@pytest.fixture
def gateway():
    with running_gateway() as state:
        yield state


def test_an_sms_step_goes_through_the_gateway_with_the_send_key_and_counts_as_sent(session, smtp, gateway, monkeypatch):
    monkeypatch.setenv("RECOUP_SMS_PROVIDER", "generic")
    monkeypatch.setenv("RECOUP_SMS_URL", gateway.url)
    monkeypatch.setenv("RECOUP_SMS_TOKEN", "test-token")
    monkeypatch.setenv("RECOUP_SMS_SENDER", "RECOUP")
    config.get_settings.cache_clear()
    sequence_id = create_sequence(
        session,
        SYSTEM,
        name=f"SMS {datetime.now().timestamp()}",
        steps=[NewStep(offset_days=2, channel="sms", stage="reminder")],
    )
    customer_id, _ = debtor(session, sequence_id)
    contact = session.scalars(select(Contact).where(Contact.customer_id == customer_id)).one()
    contact.consent_sms = True
    session.flush()
    gateway.answer(202, {"id": "gw-1"})

    reminders.run(now=NOW)

    [send] = sends_of(session, customer_id)
    assert (send.status, send.provider_message_id) == ("sent", "gw-1")
    [request] = gateway.seen
    assert request.headers["Idempotency-Key"] == send.send_key
    assert request.json()["to"] == send.address and "STOP" in request.json()["text"]


def legal_sequence(session):
    return create_sequence(
        session,
        SYSTEM,
        name=f"Legal {datetime.now().timestamp()}",
        steps=[
            NewStep(offset_days=3, channel="letter", stage="reminder"),
            NewStep(offset_days=90, channel="letter", stage="legal_handover"),
        ],
    )


def test_a_letter_step_keeps_the_pdf_on_the_account_and_collects_the_runs_letters(session, smtp):
    customer_id, _ = debtor(session, legal_sequence(session), days_overdue=10)

    summary = reminders.run(now=NOW)

    [send] = sends_of(session, customer_id)
    assert send.status == "sent" and send.provider_message_id.startswith("document:")
    view = accounts.view_account(session, SYSTEM, customer_id, as_of=TODAY)
    assert [d.file_name.startswith("letter-") for d in view.documents] == [True]
    assert summary.letters_file is not None and Path(summary.letters_file).read_bytes()[:4] == b"%PDF"


def test_the_legal_stage_writes_a_formal_demand_and_a_task_but_never_on_a_time_barred_debt(session, smtp):
    sequence_id = legal_sequence(session)
    fresh, _ = debtor(session, sequence_id, days_overdue=120)
    barred, _ = debtor(session, sequence_id, days_overdue=11 * 365)  # PH: 10 years for written contracts

    reminders.run(now=NOW)

    [demand] = [s for s in sends_of(session, fresh) if s.status == "sent"]
    view = accounts.view_account(session, SYSTEM, fresh, as_of=TODAY)
    assert any(d.file_name.startswith("demand-") for d in view.documents)
    assert session.scalars(select(Task).where(Task.customer_id == fresh, Task.kind == "legal")).one()
    assert [s.status for s in sends_of(session, barred)] == ["skipped", "skipped"]  # superseded, and barred
    assert any("time-barred" in s.reasons[0]["text"] for s in sends_of(session, barred))
    assert not session.scalars(select(Task).where(Task.customer_id == barred)).all()
    assert demand.channel == "letter"
    assert [f.name for f in view.flags] == ["legal"] and "formal demand went out" in (view.flags[0].why or "")
    assert not session.get(Customer, barred).legal


def test_an_account_handed_over_to_legal_gets_no_more_reminders_until_the_flag_is_cleared(session, smtp, sequence):
    customer_id, _ = debtor(session, sequence)
    customers.set_flag(session, SYSTEM, customer_id, "legal", on=True, why="counsel instructed")

    reminders.run(now=NOW)

    [send] = sends_of(session, customer_id)
    assert send.status == "blocked"
    assert {r["code"] for r in send.reasons} == {"legal"}
    assert smtp.inbox.to(send.address or "@") == []
    customers.set_flag(session, SYSTEM, customer_id, "legal", on=False, why="settled with counsel")
    reminders.run(now=NOW + timedelta(days=1))
    assert sends_of(session, customer_id)[0].status == "sent"


def test_after_three_unanswered_reminders_a_collector_calls_instead(session, smtp):
    collector = make_user(session, Role.COLLECTOR)
    sequence_id = create_sequence(
        session,
        SYSTEM,
        name=f"Persistent {datetime.now().timestamp()}",
        steps=[NewStep(offset_days=days, channel="email", stage="reminder") for days in (2, 10, 18, 26)],
    )
    customer_id, _ = debtor(session, sequence_id, days_overdue=3, collector_id=collector.id)

    for week in range(4):
        reminders.run(now=NOW + timedelta(days=8 * week))

    rows = sends_of(session, customer_id)
    assert [s.status for s in rows] == ["sent", "sent", "sent", "sent"]
    assert rows[-1].provider_message_id.startswith("task:")
    task = session.scalars(select(Task).where(Task.customer_id == customer_id)).one()
    assert "3 reminders without a reply or a payment" in task.script
    assert len(smtp.inbox.to(rows[0].address)) == 3


def test_a_sent_step_can_be_edited_in_place_but_not_removed_and_is_not_sent_again(session, smtp, sequence):
    customer_id, _ = debtor(session, sequence)
    reminders.run(now=NOW)
    [sent] = sends_of(session, customer_id)
    steps = [s for s in workflows.list_sequences(session, SYSTEM) if s.sequence_id == sequence][0].steps
    edited = [NewStep(s.offset_days, s.channel, s.stage, s.template_key, step_id=s.step_id) for s in steps]
    without_first = edited[1:]

    with pytest.raises(ValidationError, match="reminder step on day 3 has 1 reminder"):
        update_sequence(
            session, SYSTEM, sequence, version=1, name="Renamed", description="", active=True, steps=without_first
        )
    moved = [replace(edited[0], offset_days=2), *edited[1:]]
    version = update_sequence(
        session, SYSTEM, sequence, version=1, name=f"Renamed {TAG}", description="", active=True, steps=moved
    )
    reminders.run(now=NOW + timedelta(hours=1))

    assert version == 2
    assert [s.id for s in sends_of(session, customer_id)] == [sent.id]  # same step, same key: not twice
    assert len(smtp.inbox.to(sent.address)) == 1
    with pytest.raises(Conflict, match="since you opened it"):
        update_sequence(
            session, SYSTEM, sequence, version=1, name=f"Again {TAG}", description="", active=True, steps=moved
        )


def test_an_address_its_owner_stopped_gets_nothing_while_the_customers_other_addresses_still_do(
    session, smtp, sequence
):
    customer_id, _ = debtor(session, sequence)
    contact = session.scalars(select(Contact).where(Contact.customer_id == customer_id)).one()
    stopped = contact.email.upper()  # however it is spelled
    opt_outs.stop_address(session, SYSTEM, customer_id, stopped, why="asked by email to stop")

    reminders.run(now=NOW)

    [send] = sends_of(session, customer_id)
    assert send.status == "blocked" and [r["code"] for r in send.reasons] == ["opted_out_address"]
    assert smtp.inbox.to(contact.email) == []
    with pytest.raises(ValidationError, match="already stopped"):
        opt_outs.stop_address(session, SYSTEM, customer_id, contact.email, why="again")
    with pytest.raises(ValidationError, match="not an address of this customer"):
        opt_outs.stop_address(session, SYSTEM, customer_id, "someone@else.example", why="typo")
    second = session.get(Contact, contact.id)
    second.email = f"new-{contact.email}"  # a new address for the same person: the stop was for the old one
    session.flush()
    reminders.run(now=NOW + timedelta(days=1))
    assert sends_of(session, customer_id)[0].status == "sent"
    assert len(smtp.inbox.to(second.email)) == 1
    assert [s.address for s in opt_outs.stopped_for(session, customer_id)] == []


def test_a_licensed_agency_writes_its_letters_under_its_name_and_licence(session, smtp):
    _, version = dunning_settings.agency(session)
    dunning_settings.save_agency(
        session,
        SYSTEM,
        AgencyInfo("Lion City Collections Pte Ltd", "DCA-2024-0117", "Singapore Police Force"),
        version=version,
    )
    customer_id, _ = debtor(session, legal_sequence(session), days_overdue=10)

    reminders.run(now=NOW)

    view = accounts.view_account(session, SYSTEM, customer_id, as_of=TODAY)
    [letter] = [d for d in view.documents if d.file_name.startswith("letter-")]
    pdf = documents.read_document(session, SYSTEM, letter.id).content
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Lion City Collections Pte Ltd" in text
    assert "Licence no. DCA-2024-0117, Singapore Police Force" in text
    with pytest.raises(ValidationError, match="needs its name and licence number"):
        dunning_settings.save_agency(session, SYSTEM, AgencyInfo("", "X"), version=version + 1)


def test_a_reminder_carries_a_portal_link_that_opens_that_customers_account_and_how_to_pay(session, smtp, sequence):
    for template in session.scalars(select(MessageTemplate).where(MessageTemplate.key == key("reminder"))):
        how = "{% for i in payment_instructions %}{{ i.currency }}: {{ i.text }}{% endfor %}"
        template.body = f"Pay here: {{{{ portal_link }}}}\n{how}\n{EMAIL_BODY}"
    customer_id, _ = debtor(session, sequence)

    reminders.run(now=NOW)

    [send] = sends_of(session, customer_id)
    found = re.search(r"\?t=([\w.\-]+)", send.body)
    assert found, send.body
    opened = portal.open_link(session, found.group(1), client="mail reader")
    assert opened.debtor is not None and opened.debtor.debtor_of == customer_id
    assert "GCash / Maya" in send.body  # the PHP transfer instructions from the portal settings
