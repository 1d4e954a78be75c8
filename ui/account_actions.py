"""The account page's action forms: each one widget group, one service call, one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import streamlit as st

from core import db
from core.errors import RecoupError
from core.models import CALL_OUTCOMES, DISPUTE_CATEGORIES
from core.money import Money
from core.roles import Actor
from core.services import adjustments, customers, disputes, documents, opt_outs, promises
from core.services.accounts import AccountView
from core.services.activities import OUTCOME_LABELS, CallLog
from core.services.reminder_facts import may_call_now
from ui import fmt


def _run(action: Callable[..., object], done: str) -> None:
    """Run one service call in its own transaction; on success reload the page with a message."""
    try:
        with db.transaction() as session:
            action(session)
    except RecoupError as error:
        st.error(str(error))
        return
    st.session_state["account_flash"] = done
    st.rerun()


def _money(raw: str, currency: str) -> Money:
    return Money.typed(raw, currency)


def action_tabs(actor: Actor, view: AccountView, *, may_write_off: bool, today: date) -> None:
    names = [
        "Log a call",
        "Promise to pay",
        "Dispute",
        "Holds and flags",
        "Next action",
        "Contact preferences",
        "Attach a document",
    ]
    if may_write_off:
        names.append("Write off")
    tabs = st.tabs(names)
    with tabs[0]:
        _call(actor, view, today)
    with tabs[1]:
        _promise(actor, view, today)
    with tabs[2]:
        _dispute(actor, view)
    with tabs[3]:
        _flags(actor, view, today)
    with tabs[4]:
        _next_action(actor, view, today)
    with tabs[5]:
        _preferences(actor, view)
    with tabs[6]:
        _attach(actor, view)
    if may_write_off:
        with tabs[7]:
            _write_off(actor, view)


def _currencies(view: AccountView) -> list[str]:
    return [b.open.currency for b in view.balances] or sorted({i.amount.currency for i in view.invoices}) or ["PHP"]


def _call(actor: Actor, view: AccountView, today: date) -> None:
    with db.transaction() as session:
        verdict = may_call_now(session, view.customer_id, now=datetime.now(UTC))
    outside = "; ".join(r.text for r in verdict.reasons)
    if verdict.allowed:
        st.caption("✓ Calling now is within the contact rules for this debtor.")
    else:
        again = f" Allowed again from {fmt.when(verdict.retry_at)}." if verdict.retry_at else ""
        st.warning(f"Do not call now: {outside}.{again}", icon="⏸")
    with st.form("call_form"):
        cols = st.columns(3)
        outcome = cols[0].selectbox("Outcome", CALL_OUTCOMES, format_func=OUTCOME_LABELS.get, key="call_outcome")
        minutes = cols[1].number_input("Minutes", min_value=0, max_value=600, step=1, key="call_minutes")
        direction = cols[2].selectbox("Direction", ["outbound", "inbound"], key="call_direction")
        note = st.text_area("Note", key="call_note", max_chars=2000)
        st.caption('With the outcome "Promise made", fill in the promise too:')
        cols = st.columns(3)
        currency = cols[0].selectbox("Currency", _currencies(view), key="call_promise_currency")
        amount = cols[1].text_input("Promised amount", key="call_promise_amount")
        due_on = cols[2].date_input("Promised for", value=today + timedelta(days=7), key="call_promise_date")
        if st.form_submit_button("Log call", key="call_submit"):

            def log(session: object) -> None:
                promised = outcome == "promise_made"
                promises.log_call_with_promise(
                    session,  # type: ignore[arg-type]
                    actor,
                    view.customer_id,
                    CallLog(outcome=outcome, minutes=int(minutes), note=note, direction=direction),
                    amount=_money(amount, currency) if promised else None,
                    due_on=due_on if promised else None,
                )

            done = "Call logged" + (" with the promise." if outcome == "promise_made" else ".")
            if direction == "outbound" and not verdict.allowed:
                done += f" It was made outside the contact rules ({outside})."
            _run(log, done)


def _promise(actor: Actor, view: AccountView, today: date) -> None:
    open_invoices = {i.id: f"{i.number} ({fmt.money(i.open)})" for i in view.invoices if i.status == "open"}
    with st.form("promise_form"):
        cols = st.columns(3)
        currency = cols[0].selectbox("Currency", _currencies(view), key="promise_currency")
        amount = cols[1].text_input("Amount", key="promise_amount")
        due_on = cols[2].date_input("Promised for", value=today + timedelta(days=7), key="promise_date")
        invoice = st.selectbox(
            "For invoice (optional)",
            [0, *open_invoices],
            format_func=lambda i: open_invoices.get(i, "the account"),
            key="promise_invoice",
        )
        note = st.text_input("Note", key="promise_note", max_chars=500)
        if st.form_submit_button("Record promise", key="promise_submit"):
            _run(
                lambda session: promises.make_promise(
                    session,
                    actor,
                    view.customer_id,
                    amount=_money(amount, currency),
                    due_on=due_on,
                    invoice_id=invoice or None,
                    note=note,
                ),
                "Promise recorded; the account comes back the day after it is due.",
            )
    pending = [p for p in view.promises if p.status == "pending"]
    if pending:
        labels = {p.id: f"{fmt.money(p.amount)} due {p.due_on:%d %b %Y}" for p in pending}
        with st.form("promise_cancel_form"):
            chosen = st.selectbox(
                "Cancel a pending promise", list(labels), format_func=labels.get, key="promise_cancel"
            )
            why = st.text_input("Why", key="promise_cancel_reason")
            if st.form_submit_button("Cancel promise", key="promise_cancel_submit"):
                _run(lambda session: promises.cancel_promise(session, actor, chosen, reason=why), "Promise cancelled.")


def _dispute(actor: Actor, view: AccountView) -> None:
    undisputed = {
        i.id: f"{i.number} ({fmt.money(i.open)})" for i in view.invoices if i.status == "open" and not i.disputed
    }
    if undisputed:
        with st.form("dispute_form"):
            invoice = st.selectbox("Invoice", list(undisputed), format_func=undisputed.get, key="dispute_invoice")
            category = st.selectbox(
                "Reason", DISPUTE_CATEGORIES, format_func=disputes.CATEGORY_LABELS.get, key="dispute_category"
            )
            note = st.text_area("What the customer says", key="dispute_note", max_chars=2000)
            if st.form_submit_button("Open dispute", key="dispute_submit"):
                _run(
                    lambda session: disputes.open_dispute(session, actor, invoice, category=category, note=note),
                    "Dispute opened: the invoice is left out of reminders until it is resolved.",
                )
    open_disputes = {
        d.id: f"{d.invoice_number}: {disputes.CATEGORY_LABELS[d.category]}"
        for d in view.disputes
        if d.resolution is None
    }
    if open_disputes:
        currencies = {
            d.id: next(i.amount.currency for i in view.invoices if i.id == d.invoice_id)
            for d in view.disputes
            if d.resolution is None
        }
        with st.form("resolve_form"):
            chosen = st.selectbox(
                "Resolve dispute", list(open_disputes), format_func=open_disputes.get, key="resolve_dispute"
            )
            resolution = st.radio(
                "Outcome",
                ["rejected", "upheld"],
                key="resolve_outcome",
                horizontal=True,
                format_func=lambda r: "Rejected: back to collection" if r == "rejected" else "Upheld: credit note",
            )
            credit = st.text_input("Credit-note amount (upheld only)", key="resolve_credit")
            note = st.text_input("Resolution note", key="resolve_note")
            if st.form_submit_button("Resolve", key="resolve_submit"):
                _run(
                    lambda session: disputes.resolve_dispute(
                        session,
                        actor,
                        chosen,
                        resolution=resolution,
                        note=note,
                        credit=_money(credit, currencies[chosen]) if resolution == "upheld" else None,
                    ),
                    f"Dispute {resolution}.",
                )
    if not undisputed and not open_disputes:
        st.caption("No open invoice to dispute.")


def _flags(actor: Actor, view: AccountView, today: date) -> None:
    active = {flag.name for flag in view.flags}
    with st.form("flag_form"):
        flag = st.selectbox(
            "Hold or flag",
            customers.FLAGS,
            format_func=lambda f: customers.FLAG_LABELS[f] + (" (set)" if f in active else ""),
            key="flag_name",
        )
        action = st.radio("Action", ["set", "clear"], horizontal=True, key="flag_action")
        until = st.date_input("On hold until (holds only, optional)", value=None, key="flag_until", min_value=today)
        why = st.text_input("Why", key="flag_why", max_chars=300)
        if st.form_submit_button("Save", key="flag_submit"):
            _run(
                lambda session: customers.set_flag(
                    session,
                    actor,
                    view.customer_id,
                    flag,
                    on=action == "set",
                    why=why,
                    until=until if action == "set" and flag == "on_hold" else None,
                ),
                f"{customers.FLAG_LABELS[flag]} {'set' if action == 'set' else 'cleared'}.",
            )


def _next_action(actor: Actor, view: AccountView, today: date) -> None:
    with st.form("next_action_form"):
        on = st.date_input(
            "Work this account again on", value=view.next_action_on, min_value=today, key="next_action_on"
        )
        note = st.text_input(
            "What to do then", value=view.next_action_note or "", key="next_action_note", max_chars=300
        )
        if st.form_submit_button("Save next action", key="next_action_submit"):
            _run(
                lambda session: customers.set_next_action(session, actor, view.customer_id, on=on, note=note),
                "Next action saved." if on else "Next action cleared: the account is back in today's queue.",
            )


def _preferences(actor: Actor, view: AccountView) -> None:
    if not view.contacts:
        st.caption("This account has no contacts.")
        return
    labels = {c.id: f"{c.name} · {c.email or c.phone or ''}" for c in view.contacts}
    contact_id = st.selectbox("Contact", list(labels), format_func=labels.get, key="prefs_contact")
    contact = next(c for c in view.contacts if c.id == contact_id)
    with st.form("prefs_form"):
        opted_out = st.multiselect(
            "Opted out of", customers.CHANNELS, default=list(contact.opted_out), key="prefs_opt_out"
        )
        cols = st.columns(3)
        start = cols[0].time_input("Call from", value=contact.preferred_from, key="prefs_from")
        end = cols[1].time_input("Call until", value=contact.preferred_until, key="prefs_until")
        language = cols[2].text_input(
            "Language", value=contact.language or "", key="prefs_language", placeholder=view.language
        )
        if st.form_submit_button("Save preferences", key="prefs_submit"):
            prefs = customers.ContactPreferences(tuple(opted_out), start, end, language or None)
            _run(
                lambda session: customers.set_contact_preferences(session, actor, contact_id, prefs),
                "Preferences saved.",
            )
    _stop_addresses(actor, view, contact)


def _stop_addresses(actor: Actor, view: AccountView, contact: customers.ContactView) -> None:
    """An address its owner asked us to stop using: no message or call to it on any channel, even
    after an import rewrites the contact."""
    with db.transaction() as session:
        stopped = opt_outs.stopped_for(session, view.customer_id)
    for entry in stopped:
        st.warning(f"Stopped: {entry.address} — {entry.why} ({entry.by}, {fmt.when(entry.at)})")
    mine = [a for a in (contact.email, None if contact.masked else contact.phone) if a]
    usable = [a for a in mine if opt_outs.normal(a) not in {e.address for e in stopped}]
    with st.form("stop_address_form"):
        cols = st.columns([2, 3])
        address = cols[0].selectbox(
            "Stop this address", usable or ["(nothing left to stop)"], disabled=not usable, key="stop_address"
        )
        why = cols[1].text_input("Why", key="stop_address_why", placeholder="e.g. asked by phone on 3 Dec")
        if st.form_submit_button("Stop this address", key="stop_address_submit", disabled=not usable):
            _run(
                lambda session: opt_outs.stop_address(session, actor, view.customer_id, str(address), why=why),
                f"{address} stopped: nothing more goes to it.",
            )
    if stopped:
        with st.form("resume_address_form"):
            cols = st.columns([2, 3])
            again = cols[0].selectbox("Contact again", [e.address for e in stopped], key="resume_address")
            why_again = cols[1].text_input("Why", key="resume_address_why", placeholder="e.g. asked us to resume")
            if st.form_submit_button("Contact this address again", key="resume_address_submit"):
                _run(
                    lambda session: opt_outs.resume_address(
                        session, actor, view.customer_id, str(again), why=why_again
                    ),
                    f"{again} may be contacted again.",
                )


def _attach(actor: Actor, view: AccountView) -> None:
    invoices = {i.id: i.number for i in view.invoices}
    with st.form("document_form", clear_on_submit=True):
        upload = st.file_uploader("PDF or image, up to 10 MB", key="document_file")
        invoice = st.selectbox(
            "For invoice (optional)",
            [0, *invoices],
            format_func=lambda i: invoices.get(i, "the account"),
            key="document_invoice",
        )
        description = st.text_input("Description", key="document_description", max_chars=300)
        if st.form_submit_button("Attach", key="document_submit"):
            if upload is None:
                st.error("Choose a file to attach.")
            else:
                _run(
                    lambda session: documents.attach_document(
                        session,
                        actor,
                        view.customer_id,
                        file_name=upload.name,
                        content=upload.getvalue(),
                        invoice_id=invoice or None,
                        description=description,
                    ),
                    f"{upload.name} attached.",
                )


def documents_list(actor: Actor, view: AccountView) -> None:
    if not view.documents:
        st.caption("No documents attached.")
        return
    for doc in view.documents:
        cols = st.columns([4, 2, 2])
        where = f" · invoice {doc.invoice_number}" if doc.invoice_number else ""
        cols[0].markdown(f"**{doc.file_name}**{where}  \n{doc.description}")
        cols[1].caption(f"{doc.size_bytes / 1024:,.0f} KB · {doc.actor} · {fmt.when(doc.created_at)}")
        with db.transaction() as session:
            try:
                file = documents.read_document(session, actor, doc.id)
            except RecoupError as error:
                cols[2].error(str(error))
                continue
        cols[2].download_button(
            "Download", file.content, file_name=file.file_name, mime=file.media_type, key=f"document_download_{doc.id}"
        )


def _write_off(actor: Actor, view: AccountView) -> None:
    if not view.balances:
        st.caption("Nothing is open to write off.")
        return
    currency = st.selectbox("Currency", [b.open.currency for b in view.balances], key="write_off_currency")
    with st.form("write_off_form"):
        choices = {
            i.id: f"{i.number} ({fmt.money(i.open)})"
            for i in view.invoices
            if i.status == "open" and i.open.currency == currency
        }
        picked = st.multiselect(
            "Invoices (none chosen: all open in this currency)",
            list(choices),
            format_func=choices.get,
            key="write_off_invoices",
        )
        reason = st.text_input("Reason", key="write_off_reason", max_chars=500)
        if st.form_submit_button("Write off", key="write_off_submit"):
            _run(
                lambda session: adjustments.write_off(
                    session, actor, view.customer_id, currency=currency, reason=reason, invoice_ids=picked or None
                ),
                "Written off.",
            )
