"""Workflows: the dunning sequences and the rules that assign them, the reminder batch run by hand
(a dry run first), the send ledger's drafts to approve, sends that need a decision and blocked
contacts with their reasons, and the message templates."""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from core import db
from core.errors import Conflict, RecoupError
from core.roles import Permission
from core.services import dunning, queue, reminders, send_review, workflows
from core.services.workflows import SequenceView
from ui import fmt
from ui import workflow_tables as tables
from ui.auth import require_page
from ui.dunning_settings import rules_tab
from ui.export import download_buttons
from ui.portal_settings import portal_tab
from ui.template_editor import templates_tab

user = require_page("workflows")
actor = user.as_actor()

st.title("Workflows")
if flash := st.session_state.pop("workflows_flash", None):
    st.success(flash)
if refused := st.session_state.pop("workflows_flash_error", None):
    st.error(refused)

with db.transaction() as session:
    sequences = workflows.list_sequences(session, actor)
    rules = workflows.list_rules(session, actor)
    stored_templates = workflows.list_templates(session, actor)
    choices = queue.queue_choices(session, actor)
    drafts = workflows.list_drafts(session, actor)
    attention = send_review.list_sends(session, actor, statuses=send_review.NEEDS_ATTENTION)
    blocked = send_review.list_sends(session, actor, statuses=("blocked",))
    reasons = send_review.blocked_reasons(session, actor)


def _edit_sequence(sequence: SequenceView) -> None:
    """Rename, switch off or on, and change a sequence's steps and conditions; saved as one change,
    refused if someone saved the sequence since this page read it."""
    # The sequence as this session first read it: a save someone else makes meanwhile changes the
    # version read from the database, but what this manager is editing (and saves against) is this.
    loaded: SequenceView = st.session_state.setdefault(f"workflows_loaded_{sequence.sequence_id}", sequence)
    sid, version = loaded.sequence_id, loaded.version
    with st.expander("Edit"), st.form(f"workflows_edit_{sid}_{version}"):
        cols = st.columns([2, 3, 1])
        name = cols[0].text_input("Name", loaded.name, max_chars=100, key=f"workflows_edit_name_{sid}_{version}")
        description = cols[1].text_input(
            "Description", loaded.description, key=f"workflows_edit_description_{sid}_{version}"
        )
        active = cols[2].checkbox(
            "Active",
            sequence.active,
            key=f"workflows_edit_active_{sid}_{version}",
            help="Inactive: the batch skips it.",
        )
        frame = st.data_editor(
            tables.editable_steps(loaded),
            num_rows="dynamic",
            hide_index=True,
            column_config=tables.step_editor_columns(),
            key=f"workflows_edit_steps_{sid}_{version}",
        )
        save = st.form_submit_button("Save sequence", key=f"workflows_edit_save_{sid}_{version}", type="primary")
    if save:
        try:
            with db.transaction() as session:
                dunning.update_sequence(
                    session,
                    actor,
                    sid,
                    version=version,
                    name=name,
                    description=description,
                    active=active,
                    steps=tables.new_steps(frame),
                )
        except Conflict as error:  # shown over the sequence as it now is
            del st.session_state[f"workflows_loaded_{sid}"]
            st.session_state["workflows_flash_error"] = str(error)
            st.rerun()
        except RecoupError as error:
            st.error(str(error))
        else:
            del st.session_state[f"workflows_loaded_{sid}"]
            st.session_state["workflows_flash"] = f"Sequence {name.strip()!r} saved."
            st.rerun()


tabs = st.tabs(
    [
        "Sequences",
        "Run",
        f"Drafts ({len(drafts)})",
        f"Needs attention ({len(attention)})",
        f"Blocked contacts ({sum(n for _, n in reasons)})",
        "Templates",
        "Contact rules",
        "Portal",
    ]
)

with tabs[0]:
    if not sequences:
        st.info("No sequence yet: create one below.")
    for sequence in sequences:
        with st.container(border=True, key=f"workflows_sequence_{sequence.sequence_id}"):
            st.markdown(f"**{sequence.name}**" + ("" if sequence.active else " · inactive"))
            st.caption(
                (f"{sequence.description} · " if sequence.description else "")
                + f"version {sequence.version}, by {sequence.updated_by}"
            )
            st.dataframe(tables.steps_frame(sequence), hide_index=True)
            if actor.may(Permission.MANAGE_ACCOUNTS):
                _edit_sequence(sequence)

    st.subheader("Who follows which sequence")
    st.caption(
        "A customer given a sequence of its own follows it; every other customer follows the first rule "
        "that matches its segment and country."
    )
    if rules:
        st.dataframe(tables.rules_frame(rules), hide_index=True)
    else:
        st.caption("No rule yet: only customers given a sequence of their own get reminders.")
    names = {s.sequence_id: s.name for s in sequences}
    if names:
        with st.form("workflows_rule_form"):
            rule_cols = st.columns(3)
            rule_sequence = rule_cols[0].selectbox(
                "Sequence", list(names), format_func=names.__getitem__, key="workflows_rule_sequence"
            )
            rule_segment = rule_cols[1].selectbox(
                "Segment", [None, *choices.segments], format_func=lambda s: s or "Any", key="workflows_rule_segment"
            )
            rule_country = rule_cols[2].selectbox(
                "Country", [None, *choices.countries], format_func=lambda c: c or "Any", key="workflows_rule_country"
            )
            add_rule = st.form_submit_button("Add rule", key="workflows_rule_add")
        if add_rule:
            try:
                with db.transaction() as session:
                    dunning.assign_sequence(session, actor, rule_sequence, segment=rule_segment, country=rule_country)
            except RecoupError as error:
                st.error(str(error))
            else:
                st.session_state["workflows_flash"] = (
                    f"Rule added: {rule_segment or 'any segment'}, {rule_country or 'any country'} → "
                    f"{names[rule_sequence]}."
                )
                st.rerun()

    st.subheader("New sequence")
    with st.form("workflows_new_sequence"):
        new_name = st.text_input("Name", key="workflows_new_name", max_chars=100)
        new_description = st.text_input("Description", key="workflows_new_description")
        new_frame = st.data_editor(
            pd.DataFrame(tables.NEW_STEPS),
            num_rows="dynamic",
            hide_index=True,
            column_config=tables.step_editor_columns(),
            key="workflows_new_steps",
        )
        create = st.form_submit_button("Create sequence", key="workflows_create", type="primary")
    if create:
        try:
            with db.transaction() as session:
                dunning.create_sequence(
                    session, actor, name=new_name, steps=tables.new_steps(new_frame), description=new_description
                )
        except RecoupError as error:
            st.error(str(error))
        else:
            st.session_state["workflows_flash"] = f"Sequence {new_name.strip()!r} created."
            st.rerun()


with tabs[1]:
    st.caption(
        "The batch runs on its schedule (`python -m core remind`). Preview shows what a run would write to "
        "the send ledger now, without writing or sending anything; Run now runs it once, here."
    )
    run_cols = st.columns(2)
    if run_cols[0].button("Preview next run", key="workflows_preview"):
        st.session_state["workflows_preview_result"] = reminders.run(now=datetime.now(UTC), dry_run=True)
        st.session_state.pop("workflows_run_result", None)
    if run_cols[1].button("Run now", key="workflows_run", type="primary", help="Plans and sends the due reminders."):
        with st.spinner("Running the reminder batch…"):
            st.session_state["workflows_run_result"] = reminders.run(now=datetime.now(UTC))
        st.session_state.pop("workflows_preview_result", None)
        st.rerun()  # the ledger lists below are read again
    if preview := st.session_state.get("workflows_preview_result"):
        st.subheader("Next run would write")
        if not preview.planned:
            st.info("Nothing is due: a run now would write nothing.")
        else:
            planned = sorted(preview.planned.items())
            for col, (status, count) in zip(st.columns(len(planned)), planned, strict=True):
                col.metric(status.capitalize(), count)
    if result := st.session_state.get("workflows_run_result"):
        st.subheader("Last run")
        outcomes = result.outcomes
        metrics = [
            ("Sent", outcomes["sent"]),
            ("Call tasks", outcomes["task"]),
            ("Drafts prepared", outcomes["draft"]),
            ("Blocked", outcomes["blocked"]),
            ("Failed", outcomes["failed"]),
            ("Retry later", outcomes["retry"]),
            ("Skipped", outcomes["skipped"]),
            ("Uncertain found", result.uncertain_found),
        ]
        for col, (label, count) in zip(st.columns(4) + st.columns(4), metrics, strict=True):
            col.metric(label, count)
        if result.blocked:
            blocked_by = [(code.replace("_", " "), n) for code, n in result.blocked.most_common()]
            st.dataframe(pd.DataFrame(blocked_by, columns=["Blocked because", "Sends"]), hide_index=True)

with tabs[2]:
    ready = [d.line.send_id for d in drafts if d.prepared]
    to_approve: list[int] = []
    if not drafts:
        st.info("No draft waits for approval. Steps in approval mode put theirs here when the batch runs.")
    elif st.button(f"Approve all ({len(ready)})", key="workflows_approve_all", disabled=not ready, type="primary"):
        to_approve = ready
    for draft in drafts:
        line = draft.line
        with st.container(border=True, key=f"workflows_draft_{line.send_id}"):
            st.markdown(f"**{line.customer}** · {line.stage.replace('_', ' ')} · {line.channel} · {line.currency}")
            if not draft.prepared:
                st.caption("Not prepared yet: the next run writes its text.")
                continue
            st.caption(f"To {line.address or 'no address'}")
            st.text(f"Subject: {draft.subject}" if draft.subject else "(no subject)")
            with st.expander("Message"):
                st.text(draft.body)
            if st.button("Approve", key=f"workflows_approve_{line.send_id}"):
                to_approve = [line.send_id]
    if to_approve:
        try:
            with db.transaction() as session:
                approved = send_review.approve_drafts(session, actor, to_approve)
        except RecoupError as error:
            st.error(str(error))
        else:
            st.session_state["workflows_flash"] = f"{approved} draft(s) approved: the next run sends them."
            st.rerun()

with tabs[3]:
    decision: tuple[int, bool, str] | None = None
    if not attention:
        st.info("No send waits for a decision.")
    for line in attention:
        with st.container(border=True, key=f"workflows_attention_{line.send_id}"):
            st.markdown(f"**{line.customer}** · {line.stage.replace('_', ' ')} · {line.channel} · {line.status}")
            st.caption(
                f"{'; '.join(line.reasons) or 'no reason recorded'} · {line.attempts} attempt(s) · "
                f"updated {fmt.when(line.updated_at)}"
            )
            note = st.text_input("Note", key=f"workflows_note_{line.send_id}")
            resend_col, dismiss_col = st.columns(2)
            if resend_col.button("Resend", key=f"workflows_resend_{line.send_id}", help="The next run sends it again."):
                decision = (line.send_id, True, note)
            if dismiss_col.button("Dismiss", key=f"workflows_dismiss_{line.send_id}", help="Close it without sending."):
                decision = (line.send_id, False, note)
    if decision is not None:
        send_id, resend, note = decision
        try:
            with db.transaction() as session:
                send_review.resolve_uncertain(session, actor, send_id, resend=resend, note=note)
        except RecoupError as error:
            st.error(str(error))
        else:
            verb = "put back for the next run" if resend else "dismissed"
            st.session_state["workflows_flash"] = f"Send #{send_id} {verb}."
            st.rerun()

with tabs[4]:
    if not blocked:
        st.info("No reminder is blocked.")
    else:
        st.caption(
            "Each blocked send is tried again at its next allowed time"
            + (f"; only the latest {len(blocked):,} are listed." if len(blocked) == 500 else ".")
        )
        st.dataframe(pd.DataFrame(reasons, columns=["Reason", "Sends"]), hide_index=True)
        blocked_table = tables.sends_frame(blocked)
        st.dataframe(blocked_table, hide_index=True)
        download_buttons(blocked_table, name="recoup-blocked-contacts", key="workflows_blocked_download")

with tabs[5]:
    templates_tab(actor, stored_templates)

with tabs[6]:
    rules_tab(actor)

with tabs[7]:
    portal_tab(actor)
