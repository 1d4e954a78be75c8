"""Workflows: only managers open it; a manager creates a sequence and an assignment rule, previews
the next run without writing anything, runs the batch, approves the drafts it prepared, decides
about an uncertain or failed send, reads the blocked contacts with their reasons, and previews and
saves a message template."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core import db
from core.compliance import rules_for
from core.models import Customer, DunningStep, MessageTemplate, Send
from core.roles import Role
from core.services import dunning_settings, reminders, templates_admin, workflows
from core.services.dunning import NewStep, create_sequence
from core.services.settings import setting_value
from tests.factories import SYSTEM, make_customer, make_invoice
from tests.ui.helpers import commit_staff, signed_in, tables_with, texts


@pytest.fixture(scope="module")
def staff(database: str) -> dict[Role, str]:
    return commit_staff("ui_workflows")


@dataclass(frozen=True)
class Debtor:
    tag: str
    sequence_id: int
    sequence: str
    step_id: int
    customer_id: int
    customer: str


def commit_debtor(*, mode: str = "auto", segment: str | None = None) -> Debtor:
    """A committed sequence of one email step three days after due, in this mode, with a template
    of its own; and a customer following it whose invoice is five days overdue, so the step is due."""
    tag = uuid.uuid4().hex[:8]
    with db.transaction() as session:
        name = f"UI workflow {tag}"
        sequence_id = create_sequence(
            session,
            SYSTEM,
            name=name,
            steps=[NewStep(offset_days=3, channel="email", stage="reminder", template_key=f"ui_wf_{tag}", mode=mode)],
        )
        session.add(
            MessageTemplate(
                key=f"ui_wf_{tag}",
                channel="email",
                language="en",
                subject=f"Reminder {tag} for {{{{ customer.name }}}}",
                body="Dear {{ customer.name }}, please pay. {{ opt_out }}",
                updated_by="tests",
            )
        )
        customer = f"Workflow Debtor {tag}"
        customer_id = make_customer(session, name=customer)
        row = session.get(Customer, customer_id)
        assert row is not None
        row.sequence_id, row.segment = sequence_id, segment
        make_invoice(session, customer_id, amount="1500.00", due_in_days=-5)
        step_id = session.scalar(select(DunningStep.id).where(DunningStep.sequence_id == sequence_id))
        assert step_id is not None
    return Debtor(tag, sequence_id, name, step_id, customer_id, customer)


def sends_of(customer_id: int) -> list[Send]:
    with db.transaction() as session:
        rows = list(session.scalars(select(Send).where(Send.customer_id == customer_id).order_by(Send.id)))
        session.expunge_all()
    return rows


def commit_send(debtor: Debtor, status: str, reason: str) -> int:
    """A ledger row for the debtor's step in this status, as a crashed or failed run leaves it."""
    with db.transaction() as session:
        send = Send(
            send_key=f"ui-workflows-{debtor.tag}",
            customer_id=debtor.customer_id,
            step_id=debtor.step_id,
            currency="PHP",
            cycle=datetime.now(UTC).date(),
            channel="email",
            status=status,
            reasons=[{"code": status, "text": reason}],
            attempts=1,
        )
        session.add(send)
        session.flush()
        return send.id


def opened(username: str) -> AppTest:
    at = signed_in(username, "workflows")
    assert not at.exception
    assert texts(at.title) == ["Workflows"]
    return at


def metrics(at: AppTest) -> dict[str, int]:
    return {str(m.label): int(m.value) for m in at.metric}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.COLLECTOR, Role.VIEWER], ids=str)
def test_only_a_manager_opens_workflows(staff, role):
    at = signed_in(staff[role], "workflows")

    assert texts(at.error) == [f"Your role ({role.value}) cannot open Workflows."]
    assert not at.main.button and not at.dataframe and not at.tabs


def test_a_manager_creates_a_sequence_through_the_form_and_sees_it_listed(staff):
    name = f"UI new sequence {uuid.uuid4().hex[:8]}"
    at = opened(staff[Role.MANAGER])

    at.text_input(key="workflows_new_name").input(name)
    at.session_state["workflows_new_steps"] = {  # as a browser leaves the editor: row positions, raw values
        "edited_rows": {0: {"Mode": "approval", "Offset days": 5}},
        "added_rows": [
            {
                "Offset days": 60,
                "Channel": "letter",
                "Stage": "legal_handover",
                "Mode": "auto",
                "Business days": True,
                "Attach invoices": False,
            }
        ],
        "deleted_rows": [2],
    }
    at = at.button(key="workflows_create").click().run()

    assert not at.exception
    assert not at.error
    assert texts(at.success) == [f"Sequence {name!r} created."]
    with db.transaction() as session:
        [created] = [s for s in workflows.list_sequences(session, SYSTEM) if s.name == name]
    assert [(s.position, s.offset_days, s.channel, s.stage, s.mode, s.business_days) for s in created.steps] == [
        (1, 5, "email", "reminder", "approval", False),
        (2, 15, "email", "firm", "auto", False),
        (3, 60, "letter", "legal_handover", "auto", True),
    ]
    assert created.updated_by == staff[Role.MANAGER]
    assert any(name in text for text in texts(at.markdown))
    listed = [frame for frame in tables_with(at, "Offset days") if list(frame["Offset days"]) == [5, 15, 60]]
    assert listed and list(listed[0]["Mode"]) == ["approval", "auto", "auto"]


def test_a_sequence_without_a_name_is_refused_and_nothing_is_created(staff):
    at = opened(staff[Role.MANAGER])
    with db.transaction() as session:
        before = len(workflows.list_sequences(session, SYSTEM))

    at = at.button(key="workflows_create").click().run()

    assert texts(at.error) == ["Give the sequence a name."]
    with db.transaction() as session:
        assert len(workflows.list_sequences(session, SYSTEM)) == before


def test_a_manager_assigns_a_sequence_to_a_segment(staff):
    segment = f"ui-segment-{uuid.uuid4().hex[:8]}"
    debtor = commit_debtor(segment=segment)
    at = opened(staff[Role.MANAGER])

    at.selectbox(key="workflows_rule_sequence").set_value(debtor.sequence_id)
    at.selectbox(key="workflows_rule_segment").set_value(segment)
    at = at.button(key="workflows_rule_add").click().run()

    assert not at.exception
    assert texts(at.success) == [f"Rule added: {segment}, any country → {debtor.sequence}."]
    with db.transaction() as session:
        [rule] = [r for r in workflows.list_rules(session, SYSTEM) if r.segment == segment]
    assert (rule.sequence_id, rule.country) == (debtor.sequence_id, None)
    [rules] = tables_with(at, "Segment")
    assert [segment, "any", debtor.sequence] in rules[["Segment", "Country", "Sequence"]].values.tolist()


def test_preview_counts_a_due_step_and_writes_nothing(staff):
    baseline = reminders.run(now=datetime.now(UTC), dry_run=True).planned["planned"]
    debtor = commit_debtor()
    at = opened(staff[Role.MANAGER])

    at = at.button(key="workflows_preview").click().run()

    assert not at.exception
    assert metrics(at)["Planned"] == baseline + 1
    assert sends_of(debtor.customer_id) == []


def test_run_now_prepares_a_draft_that_a_manager_reads_and_approves(staff):
    debtor, waiting = commit_debtor(mode="approval"), commit_debtor()
    at = opened(staff[Role.MANAGER])

    at = at.button(key="workflows_run").click().run()

    assert not at.exception
    assert metrics(at)["Drafts prepared"] >= 1 and metrics(at)["Blocked"] >= 1
    [blocked] = sends_of(waiting.customer_id)  # quiet hours or no SMTP here: it waits, counted by reason
    assert blocked.status == "blocked"
    [why] = tables_with(at, "Blocked because")
    assert {r["code"].replace("_", " ") for r in blocked.reasons} <= set(why["Blocked because"])
    [send] = sends_of(debtor.customer_id)
    assert send.status == "draft"
    assert f"Subject: Reminder {debtor.tag} for {debtor.customer}" in texts(at.text)
    assert any(debtor.customer in text for text in texts(at.markdown))

    at = at.button(key=f"workflows_approve_{send.id}").click().run()

    assert not at.error
    assert texts(at.success) == ["1 draft(s) approved: the next run sends them."]
    [send] = sends_of(debtor.customer_id)
    assert (send.status, send.approved_by) == ("approved", staff[Role.MANAGER])
    assert f"workflows_approve_{send.id}" not in {button.key for button in at.button}


def test_approve_all_approves_every_prepared_draft(staff):
    debtors = [commit_debtor(mode="approval") for _ in range(2)]
    reminders.run(now=datetime.now(UTC))
    at = opened(staff[Role.MANAGER])

    at = at.button(key="workflows_approve_all").click().run()

    assert not at.error
    for debtor in debtors:
        [send] = sends_of(debtor.customer_id)
        assert (send.status, send.approved_by) == ("approved", staff[Role.MANAGER])


def test_an_uncertain_send_is_dismissed_with_a_note(staff):
    debtor = commit_debtor()
    send_id = commit_send(debtor, "uncertain", "the run stopped while sending: check and resend or dismiss")
    at = opened(staff[Role.MANAGER])

    at.text_input(key=f"workflows_note_{send_id}").input("Checked the mail log: it went out")
    at = at.button(key=f"workflows_dismiss_{send_id}").click().run()

    assert not at.error
    assert texts(at.success) == [f"Send #{send_id} dismissed."]
    [send] = sends_of(debtor.customer_id)
    assert send.status == "dismissed"
    assert send.reasons[0]["text"] == f"dismissed by {staff[Role.MANAGER]}: Checked the mail log: it went out"
    assert f"workflows_dismiss_{send_id}" not in {button.key for button in at.button}


def test_a_failed_send_is_put_back_for_the_next_run(staff):
    debtor = commit_debtor()
    send_id = commit_send(debtor, "failed", "mailbox unavailable")
    at = opened(staff[Role.MANAGER])

    at = at.button(key=f"workflows_resend_{send_id}").click().run()

    assert texts(at.success) == [f"Send #{send_id} put back for the next run."]
    [send] = sends_of(debtor.customer_id)
    assert (send.status, send.next_attempt_at) == ("planned", None)


def test_blocked_contacts_are_listed_with_their_reasons_and_next_try(staff):
    debtor = commit_debtor()
    reminders.run(now=datetime.now(UTC))  # quiet hours or no SMTP here: the email waits, with its reason
    [send] = sends_of(debtor.customer_id)
    assert send.status == "blocked"
    at = opened(staff[Role.MANAGER])

    [reasons] = tables_with(at, "Reason")
    [blocked] = tables_with(at, "Next try")
    [row] = blocked[blocked["Send"] == send.id].to_dict("records")
    assert row["Customer"].startswith(debtor.customer)
    assert row["Reasons"] == "; ".join(r["text"] for r in send.reasons)
    assert row["Next try"] != "—"
    for reason in send.reasons:  # grouped by reason code, e.g. "quiet hours (e.g. 22:41 in …)"
        code = reason["code"].replace("_", " ")
        assert reasons[reasons["Reason"].str.startswith(code)]["Sends"].iloc[0] >= 1
    assert {"workflows_blocked_download_csv", "workflows_blocked_download_xlsx"} <= {
        b.key for b in at.get("download_button")
    }


def test_a_manager_previews_a_template_against_an_account_and_saves_it(staff):
    tag = uuid.uuid4().hex[:8]
    key = f"ui_tpl_{tag}"
    with db.transaction() as session:
        create_sequence(
            session,
            SYSTEM,
            name=f"UI templates {tag}",
            steps=[NewStep(offset_days=20, channel="sms", stage="firm", template_key=key)],
        )
        customer_id = make_customer(session, name=f"Template Preview {tag}")
        make_invoice(session, customer_id, amount="1500.00", number=f"TPL-{tag}")
    at = opened(staff[Role.MANAGER])

    at.selectbox(key="workflows_template_key").set_value(key)
    at = at.selectbox(key="workflows_template_channel").set_value("sms").run()

    assert "Not stored yet: this is the text Recoup ships for the firm stage." in texts(at.caption)
    assert (
        at.text_area(key="workflows_template_body").value == templates_admin.shipped_default("firm", "sms", "en").body
    )
    body = "{{ customer.name }}: {% for i in invoices %}{{ i.number }} {{ i.amount }} {% endfor %}{{ opt_out }}"
    at.text_area(key="workflows_template_body").input(body)
    at = at.text_input(key="workflows_template_customer_query").input(f"Template Preview {tag}").run()
    assert at.selectbox(key="workflows_template_customer").value == customer_id

    at = at.button(key="workflows_template_preview").click().run()

    assert not at.exception and not at.error
    assert f"Template Preview {tag}: TPL-{tag} PHP 1,500.00 Reply STOP to opt out." in texts(at.text)
    assert any(text.startswith("SMS: 1 segment(s), GSM-7,") for text in texts(at.caption))

    at = at.button(key="workflows_template_save").click().run()

    assert not at.exception and not at.error
    assert texts(at.success) == [f"Template {key} (sms, en) saved."]
    with db.transaction() as session:
        [saved] = session.scalars(select(MessageTemplate).where(MessageTemplate.key == key)).all()
        assert (saved.channel, saved.language, saved.body, saved.version) == ("sms", "en", body, 1)
        assert saved.updated_by == staff[Role.MANAGER]
    assert f"Stored version 1, saved by {staff[Role.MANAGER]}." in texts(at.caption)
    [listed] = tables_with(at, "Updated by")
    assert [key, "sms", "en", staff[Role.MANAGER], 1] in listed.values.tolist()


def test_saving_over_someone_elses_newer_version_is_refused(staff):
    key = f"ui_tpl_{uuid.uuid4().hex[:8]}"
    with db.transaction() as session:
        create_sequence(
            session,
            SYSTEM,
            name=f"UI templates {key}",
            steps=[NewStep(offset_days=3, channel="email", stage="reminder", template_key=key)],
        )
    at = opened(staff[Role.MANAGER])
    at = at.selectbox(key="workflows_template_key").set_value(key).run()
    with db.transaction() as session:  # another manager saves first
        templates_admin.save_template(
            session,
            SYSTEM,
            key=key,
            channel="email",
            language="en",
            subject="Theirs",
            body="Theirs. {{ opt_out }}",
            version=0,
        )

    at = at.button(key="workflows_template_save").click().run()

    assert texts(at.error) == [f"{SYSTEM.username} already saved a template {key} (email, en); reload to edit theirs."]
    at = at.button(key="workflows_template_reload").click().run()
    assert at.text_input(key="workflows_template_subject").value == "Theirs"


def edit(at: AppTest, debtor: Debtor, version: int, changes: dict, *, active: bool = True) -> AppTest:
    sid = debtor.sequence_id
    at.session_state[f"workflows_edit_steps_{sid}_{version}"] = {
        "edited_rows": {0: changes},
        "added_rows": [],
        "deleted_rows": [],
    }
    if not active:
        at.checkbox(key=f"workflows_edit_active_{sid}_{version}").uncheck()
    return at.button(key=f"workflows_edit_save_{sid}_{version}").click().run()


def test_a_manager_edits_a_steps_offset_and_conditions_and_switches_the_sequence_off(staff):
    debtor = commit_debtor()
    at = opened(staff[Role.MANAGER])

    at = edit(at, debtor, 1, {"Offset days": 4, "Min overdue": "PHP 1000; usd 50", "Countries": "ph, sg"}, active=False)

    assert not at.exception
    assert not at.error
    assert texts(at.success) == [f"Sequence {debtor.sequence!r} saved."]
    with db.transaction() as session:
        [saved] = [s for s in workflows.list_sequences(session, SYSTEM) if s.sequence_id == debtor.sequence_id]
    assert (saved.version, saved.active, saved.updated_by) == (2, False, staff[Role.MANAGER])
    [step] = saved.steps
    assert step.step_id == debtor.step_id  # edited in place: its send keys still stop a second send
    assert (step.offset_days, step.conditions) == (
        4,
        {"min_overdue": {"PHP": "1000", "USD": "50"}, "countries": ["PH", "SG"]},
    )
    reminders.run(now=datetime.now(UTC))
    assert sends_of(debtor.customer_id) == []  # an inactive sequence plans nothing


def test_a_condition_that_does_not_parse_is_refused_naming_the_step_and_nothing_changes(staff):
    debtor = commit_debtor()
    at = opened(staff[Role.MANAGER])

    at = edit(at, debtor, 1, {"Min overdue": "a thousand pesos"})

    assert texts(at.error) == ["Step 1: write a minimum overdue as a currency and an amount, e.g. PHP 5000."]
    with db.transaction() as session:
        [saved] = [s for s in workflows.list_sequences(session, SYSTEM) if s.sequence_id == debtor.sequence_id]
    assert saved.version == 1 and saved.steps[0].conditions == {}


def test_saving_a_sequence_someone_else_saved_meanwhile_is_refused_naming_them(staff):
    debtor = commit_debtor()
    other = commit_staff(f"ui_wf_other_{debtor.tag}")[Role.MANAGER]
    mine, theirs = opened(staff[Role.MANAGER]), opened(other)

    theirs = edit(theirs, debtor, 1, {"Offset days": 7})
    assert texts(theirs.success) == [f"Sequence {debtor.sequence!r} saved."]
    mine = edit(mine, debtor, 1, {"Offset days": 9})

    assert texts(mine.error) == [
        f"{debtor.sequence!r} was changed by {other} since you opened it (version 2, you had 1); nothing was saved."
        " Its current steps are shown again."
    ]
    with db.transaction() as session:
        [saved] = [s for s in workflows.list_sequences(session, SYSTEM) if s.sequence_id == debtor.sequence_id]
    assert saved.steps[0].offset_days == 7


# The rules tab saves settings every test in this run reads: these tests only add New Zealand and
# Fiji, countries no other test's customers live in, so nothing else changes behaviour under them.


def test_a_manager_adds_a_countrys_contact_rules_and_the_guard_follows_them(staff):
    at = opened(staff[Role.MANAGER])
    with db.transaction() as session:
        rows, version = dunning_settings.contact_rules(session)
    assert {"PH", "SG", "US"} <= {r.country for r in rows}

    at.session_state[f"workflows_contact_rules_editor_{version}"] = {
        "edited_rows": {},
        "added_rows": [
            {
                "Country": "nz",
                "From": "09:00",
                "Until": "17:30",
                "SMS per day": None,
                "Messages per week": 2,
                "Who may be contacted": "debtor",
            }
        ],
        "deleted_rows": [],
    }
    at = at.button(key=f"workflows_contact_rules_save_{version}").click().run()

    assert not at.exception
    assert texts(at.success) == ["Contact rules saved: the next run follows them."]
    with db.transaction() as session:
        stored = setting_value(session, "contact_rules")
        rules = rules_for("NZ", stored)
    assert stored is not None and stored["NZ"] == {
        "allowed_roles": ["debtor"],
        "latest": "17:30",
        "earliest": "09:00",
        "messages_per_week": 2,
        "sms_per_day": None,
        "calls_per_7_days": None,  # left empty: no limit, where the default is 7
        "days_after_conversation": None,
    }
    assert (rules.earliest, rules.latest, rules.sms_per_day, rules.allowed_roles) == (
        time(9),
        time(17, 30),
        None,
        frozenset({"debtor"}),
    )
    assert rules_for("PH", stored) == rules_for("PH")  # countries left alone keep the shipped rules


def test_a_contact_hour_that_is_not_a_time_is_refused_naming_the_rule_and_nothing_is_saved(staff):
    at = opened(staff[Role.MANAGER])
    with db.transaction() as session:
        before, version = dunning_settings.contact_rules(session)

    at.session_state[f"workflows_contact_rules_editor_{version}"] = {
        "edited_rows": {},
        "added_rows": [{"Country": "FJ", "From": "25:00", "Until": "17:00"}],
        "deleted_rows": [],
    }
    at = at.button(key=f"workflows_contact_rules_save_{version}").click().run()

    assert texts(at.error) == ["Contact rule 'earliest' for FJ must be a time such as 08:00, not '25:00'."]
    with db.transaction() as session:
        assert dunning_settings.contact_rules(session) == (before, version)


def test_escalation_thresholds_and_limitation_periods_are_saved_and_a_bad_amount_refused(staff):
    at = opened(staff[Role.MANAGER])
    with db.transaction() as session:
        escalation, escalation_version = dunning_settings.escalation(session)
        _, limitation_version = dunning_settings.limitation_periods(session)

    at.text_input(key=f"workflows_escalation_above_{escalation_version}").input("NZD lots")
    at = at.button(key=f"workflows_escalation_save_{escalation_version}").click().run()
    assert texts(at.error) == ["'lots' is not an amount: write it like 500000 or 12500.50."]

    at.text_input(key=f"workflows_escalation_above_{escalation_version}").input("NZD 250000")
    at = at.button(key=f"workflows_escalation_save_{escalation_version}").click().run()
    assert texts(at.success) == ["Escalation saved: the next run follows it."]
    at.session_state[f"workflows_limitation_editor_{limitation_version}"] = {
        "edited_rows": {},
        "added_rows": [{"Country": "NZ", "Years": 6}],
        "deleted_rows": [],
    }
    at = at.button(key=f"workflows_limitation_save_{limitation_version}").click().run()

    assert texts(at.success) == ["Limitation periods saved."]
    with db.transaction() as session:
        saved, _ = dunning_settings.escalation(session)
        years, _ = dunning_settings.limitation_periods(session)
    assert saved.after == escalation.after
    assert [m.format() for m in saved.above] == ["NZ$250,000.00"]
    assert years["NZ"] == 6 and years["PH"] == 10
