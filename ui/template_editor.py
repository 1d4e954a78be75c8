"""The Workflows page's Templates tab: the stored and shipped templates, and an editor that opens a
stored text (or the shipped one), previews it against a real account and saves it as a new version."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import db
from core.errors import RecoupError
from core.roles import Actor
from core.services import customers, templates_admin
from core.services.workflows import TemplateView
from core.templates import CHANNELS, MERGE_FIELDS

_LOADED = "workflows_template_loaded"  # (key, channel, language) the editor holds, and what it loaded
_SUBJECT, _BODY = "workflows_template_subject", "workflows_template_body"


def templates_tab(actor: Actor, stored: list[TemplateView]) -> None:
    st.caption(
        "A step uses the template stored under its template key for its channel, in the contact's language "
        "(else English); with none stored, the text Recoup ships for the step's stage."
    )
    st.dataframe(
        pd.DataFrame(
            [(t.key, t.channel, t.language, t.updated_by, t.version) for t in stored],
            columns=["Key", "Channel", "Language", "Updated by", "Version"],
        ),
        hide_index=True,
    )
    with st.expander("Texts Recoup ships"):
        st.dataframe(
            pd.DataFrame(
                [(t.stage, t.channel, t.language, t.subject) for t in templates_admin.shipped_templates()],
                columns=["Stage", "Channel", "Language", "Subject"],
            ),
            hide_index=True,
        )
    st.subheader("Edit a template")
    with db.transaction() as session:
        keys = {k.key: k.stage for k in templates_admin.template_keys(session, actor)}
    cols = st.columns(3)
    key = cols[0].selectbox(
        "Template key",
        list(keys),
        format_func=lambda k: k if k == keys[k] else f"{k} ({keys[k]})",
        key="workflows_template_key",
    )
    channel = cols[1].selectbox("Channel", CHANNELS, key="workflows_template_channel")
    language = cols[2].text_input("Language", value="en", max_chars=16, key="workflows_template_language")
    if not _load(actor, key, channel, language):
        return
    loaded: templates_admin.EditorText = st.session_state[_LOADED][1]
    st.caption(
        f"Stored version {loaded.version}, saved by {loaded.updated_by}."
        if loaded.version
        else f"Not stored yet: this is the text Recoup ships for the {loaded.stage.replace('_', ' ')} stage."
    )
    subject = st.text_input("Subject", max_chars=300, key=_SUBJECT)
    body = st.text_area("Body", height=300, key=_BODY)
    with st.expander("Merge fields"):
        st.dataframe(pd.DataFrame(list(MERGE_FIELDS.items()), columns=["Field", "Holds"]), hide_index=True)

    query = st.text_input("Preview for the customer (ref or name)", key="workflows_template_customer_query")
    with db.transaction() as session:
        hits = {h.customer_id: f"{h.external_ref} — {h.name}" for h in customers.find_customers(session, actor, query)}
    customer_id = None
    if hits:  # created only with options, so it starts on the first match
        customer_id = st.selectbox(
            "Customer", list(hits), format_func=hits.__getitem__, key="workflows_template_customer"
        )
    elif query.strip():
        st.caption("No customer matches.")
    buttons = st.columns(3)
    preview = buttons[0].button("Preview", key="workflows_template_preview", disabled=customer_id is None)
    save = buttons[1].button("Save", key="workflows_template_save", type="primary")
    buttons[2].button(
        "Reload",
        key="workflows_template_reload",
        help="Discard your changes and open the stored text again.",
        on_click=st.session_state.pop,
        args=(_LOADED, None),
    )
    if preview and customer_id is not None:
        try:
            with db.transaction() as session:
                shown = templates_admin.preview_template(
                    session,
                    actor,
                    channel=channel,
                    language=language,
                    subject=subject,
                    body=body,
                    customer_id=customer_id,
                )
        except RecoupError as error:
            st.error(str(error))
        else:
            with st.container(border=True, key="workflows_template_preview_box"):
                st.text(f"Subject: {shown.subject}" if shown.subject else "(no subject)")
                st.text(shown.text)
                if shown.sms_info:
                    info = shown.sms_info
                    st.caption(f"SMS: {info.segments} segment(s), {info.encoding}, {info.characters} characters.")
    if save:
        try:
            with db.transaction() as session:
                templates_admin.save_template(
                    session,
                    actor,
                    key=key,
                    channel=channel,
                    language=language,
                    subject=subject,
                    body=body,
                    version=loaded.version,
                )
        except RecoupError as error:
            st.error(str(error))
        else:
            st.session_state.pop(_LOADED, None)  # open the saved version next
            st.session_state["workflows_flash"] = f"Template {key} ({channel}, {loaded.language}) saved."
            st.rerun()


def _load(actor: Actor, key: str, channel: str, language: str) -> bool:
    """Fill the editor when another key, channel or language is chosen (or after a save or reload);
    otherwise keep what is being edited, and the version it started from."""
    chosen = (key, channel, language.strip().lower())
    held = st.session_state.get(_LOADED)
    if held is not None and held[0] == chosen:
        return True
    try:
        with db.transaction() as session:
            loaded = templates_admin.load_template(session, actor, key=key, channel=channel, language=language)
    except RecoupError as error:
        st.error(str(error))
        return False
    st.session_state[_LOADED] = (chosen, loaded)
    st.session_state[_SUBJECT], st.session_state[_BODY] = loaded.subject, loaded.body
    return True
