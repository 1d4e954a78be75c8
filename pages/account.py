"""Account: everything known about one customer, its timeline, and the collector's actions."""

from datetime import date

import pandas as pd
import streamlit as st

from core import db
from core.errors import RecoupError
from core.roles import Permission
from core.services import accounts, customers, plans
from ui import account_actions, account_money, account_portal, fmt
from ui.auth import require_page

user = require_page("account")
actor = user.as_actor()
today = date.today()

raw_id = st.query_params.get("id", "")
if not raw_id.isdigit():
    st.title("Account")
    needle = st.text_input("Find a customer", key="account_find", placeholder="Name or customer ref")
    with db.transaction() as session:
        hits = customers.find_customers(session, actor, needle)
    for hit in hits:
        st.page_link(
            "pages/account.py", label=f"{hit.name} ({hit.external_ref})", query_params={"id": str(hit.customer_id)}
        )
    if needle and not hits:
        st.info("No customer matches that name or ref.")
    st.stop()

try:
    with db.transaction() as session:
        view = accounts.view_account(session, actor, int(raw_id), as_of=today)
        account_plans = plans.account_plans(session, actor, view.customer_id, as_of=today)
except RecoupError as error:
    st.error(str(error))
    st.stop()

may_manage = actor.may(Permission.MANAGE_ACCOUNTS)
st.page_link("pages/queue.py", label="Back to the work queue", icon=":material/arrow_back:")
st.title(view.name)
st.caption(
    " · ".join(
        part
        for part in (
            view.external_ref,
            view.kind,
            view.country,
            f"postal code {view.postal_code}" if view.postal_code else None,
            view.segment,
            f"{view.risk_tier} risk",
            f"collector: {view.collector or 'unassigned'}",
            f"language: {view.language}",
        )
        if part
    )
)
if flash := st.session_state.pop("account_flash", None):
    st.success(flash)
if detail := st.session_state.pop("payment_result", None):
    st.caption(detail)

if view.balances:
    for balance in view.balances:
        cols = st.columns(4)
        cols[0].metric(f"Open balance · {balance.open.currency}", fmt.money(balance.open))
        cols[1].metric("Overdue", fmt.money(balance.overdue))
        cols[2].metric("In dispute", fmt.money(balance.disputed))
        if balance.credit_limit is not None:
            cols[3].metric("Credit limit", fmt.money(balance.credit_limit))
        if balance.over_limit and balance.credit_limit is not None:
            st.warning(
                f"The open balance {fmt.money(balance.open)} is over the credit limit "
                f"{fmt.money(balance.credit_limit)}."
            )
else:
    st.info("Nothing is open on this account.")

facts = st.columns(3)
facts[0].metric(
    "Oldest due (not disputed)",
    f"{view.oldest_due_date:%d %b %Y}" if view.oldest_due_date else "—",
    f"{view.days_past_due} days · {view.bucket}" if view.days_past_due and view.days_past_due > 0 else None,
    delta_color="inverse",
)
facts[1].metric("Next action", f"{view.next_action_on:%d %b %Y}" if view.next_action_on else "when due")
facts[2].metric("Priority", view.priority.score if view.priority else "—")
if view.next_action_note:
    facts[1].caption(view.next_action_note)
if view.priority:
    st.caption(f"Why: {view.priority.explain()}")
for flag in view.flags:
    until = f" until {flag.until:%d %b %Y}" if flag.until else ""
    who = f" — set by {flag.by} on {flag.at[:10]}: {flag.why}" if flag.by and flag.at else ""
    st.warning(f"⚑ {customers.FLAG_LABELS[flag.name]}{until}{who}")
if view.refusal:
    st.info(view.refusal)

tabs = st.tabs(
    ["Timeline", "Invoices", "Payments", "Plans", "Contacts", "Promises and disputes", "Documents", "Debtor portal"]
)
with tabs[0]:
    kinds = st.multiselect("Show only", accounts.TIMELINE_KINDS, key="account_timeline_kinds")
    with db.transaction() as session:
        entries = accounts.account_timeline(session, actor, view.customer_id, kinds=tuple(kinds))
    for entry in entries:
        how = " · ".join(part for part in (entry.direction, entry.channel) if part)
        st.markdown(f"**{fmt.when(entry.occurred_at)}** · {entry.kind}{f' ({how})' if how else ''} — {entry.summary}")
        st.caption("by the debtor, on the portal" if entry.actor == "portal" else f"by {entry.actor}")
    if not entries:
        st.caption("Nothing on the timeline" + (" of these kinds." if kinds else " yet."))
with tabs[1]:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Invoice": i.number,
                    "Issued": i.issue_date,
                    "Due": i.due_date,
                    "Amount": fmt.money(i.amount),
                    "Paid or credited": fmt.money(i.paid),
                    "Open": fmt.money(i.open),
                    "Status": i.status.replace("_", " "),
                    "Days past due": i.days_past_due if i.status == "open" and i.days_past_due > 0 else None,
                    "Disputed": "⚑ " + (i.dispute_category or "").replace("_", " ") if i.disputed else "",
                }
                for i in view.invoices
            ]
        ),
        hide_index=True,
        key="account_invoices",
    )
with tabs[2]:
    if view.payments:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Received": p.received_on,
                        "Reference": p.reference,
                        "Method": p.method.replace("_", " "),
                        "Amount": fmt.money(p.amount),
                        "Applied to": ", ".join(f"{n} {fmt.money(m)}" for n, m in p.allocations) or "—",
                        "Credit": fmt.money(p.unallocated),
                        "Refunded": fmt.money(p.refunded) if p.refunded else "",
                        "Reversed": f"{p.reversed_on:%d %b %Y}: {p.reversal_reason}" if p.reversed_on else "",
                    }
                    for p in view.payments
                ]
            ),
            hide_index=True,
            key="account_payments",
        )
    else:
        st.caption("No payments received yet.")
with tabs[3]:
    account_money.plans_list(actor, view, account_plans, may_manage=view.may_act and may_manage)
with tabs[4]:
    for c in view.contacts:
        hours = (
            f"{c.preferred_from:%H:%M}–{c.preferred_until:%H:%M}" if c.preferred_from and c.preferred_until else "any"
        )
        st.markdown(f"**{c.name}** ({c.role}) · {c.email or '—'} · {c.phone or '—'}")
        st.caption(
            f"Consent: {', '.join(c.consent) or 'none'} · opted out: {', '.join(c.opted_out) or 'none'} · "
            f"preferred hours: {hours} · language: {c.language or view.language}"
        )
with tabs[5]:
    if view.promises:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Made": p.made_on,
                        "Due": p.due_on,
                        "Amount": fmt.money(p.amount),
                        "Status": p.status,
                        "Invoice": p.invoice_number or "",
                    }
                    for p in view.promises
                ]
            ),
            hide_index=True,
            key="account_promises",
        )
    else:
        st.caption("No promises to pay.")
    if view.disputes:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Invoice": d.invoice_number,
                        "Reason": d.category.replace("_", " "),
                        "Note": d.note,
                        "Opened": fmt.when(d.opened_at),
                        "By": d.opened_by,
                        "Outcome": d.resolution or "open",
                        "Resolution": d.resolution_note or "",
                    }
                    for d in view.disputes
                ]
            ),
            hide_index=True,
            key="account_disputes",
        )
with tabs[6]:
    account_actions.documents_list(actor, view)
with tabs[7]:
    if view.may_act:
        account_portal.portal_panel(actor, view, may_manage=may_manage)
    else:
        st.caption("Portal links are made by whoever works this account.")

if view.may_act:
    st.subheader("Actions")
    account_actions.action_tabs(actor, view, may_write_off=actor.may(Permission.WRITE_OFF), today=today)
    st.subheader("Payments and plans")
    money_tabs = st.tabs(
        ["Payment plan", "Record a payment", "Reverse a payment", "Credit", "Reminders"]
        if may_manage
        else ["Payment plan"]
    )
    with money_tabs[0]:
        account_money.plan_form(actor, view, account_plans, today, may_manage=may_manage)
        account_money.cancel_plan(actor, account_plans)
    if may_manage:
        with money_tabs[1]:
            account_money.record_payment(actor, view, today)
        with money_tabs[2]:
            account_money.reverse_payment(actor, view, today)
        with money_tabs[3]:
            account_money.credit_actions(actor, view, today)
        with money_tabs[4]:
            account_money.reminder_settings(actor, view)
