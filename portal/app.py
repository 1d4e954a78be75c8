"""The debtor portal (make portal): a separate Streamlit app, on its own port, in a folder of its
own so no staff page is ever served by it. It opens only through a signed link (?t=…) and
imports only the portal's services."""

import logging
from collections.abc import Callable
from datetime import time, timedelta
from functools import partial

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session

from core import db
from core.config import get_settings
from core.errors import RecoupError
from core.gateway import GatewayError, from_settings
from core.models import DISPUTE_CATEGORIES
from core.money import Money
from core.services import online_payments, portal
from core.services.customers import ContactPreferences
from core.services.disputes import CATEGORY_LABELS

log = logging.getLogger("recoup.portal")
st.set_page_config(page_title="Your account", page_icon="🧾", layout="centered")
token = st.query_params.get("t", "")


def client_address() -> str:
    """The debtor's address, for turning away one that keeps guessing links. Behind the one reverse
    proxy the README describes, it is the last X-Forwarded-For entry: the one that proxy added."""
    if get_settings().portal_behind_proxy:
        forwarded = st.context.headers.get("X-Forwarded-For") or ""
        if last := forwarded.split(",")[-1].strip():
            return last
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "unknown"


# Digits typed once are tried once: a wrong guess is not tried again on every rerun.
typed = st.session_state.pop("portal_digits_typed", None)
with db.transaction() as session:
    opening = portal.open_link(
        session, token, client=client_address(), second_factor=typed or st.session_state.get("portal_digits")
    )
if typed and opening.debtor is not None:
    st.session_state["portal_digits"] = typed
if opening.needs_second_factor or (typed and opening.debtor is None and opening.question):
    st.title("Your account")
    if typed:
        st.error(opening.refusal or "That does not open the account.")
    with st.form("portal_second_factor_form", clear_on_submit=True):
        digits = st.text_input(opening.question, max_chars=20, key="portal_digits_input")
        if st.form_submit_button("Open my account"):
            st.session_state["portal_digits_typed"] = digits
            st.rerun()
    st.stop()
if opening.debtor is None:
    st.title("Your account")
    st.error(opening.refusal or "This link does not open an account.")
    st.stop()
debtor = opening.debtor


def document_content(document_id: int) -> bytes:
    with db.transaction() as session:
        return portal.document(session, debtor, document_id).content


def statement_pdf() -> bytes:
    with db.transaction() as session:
        return portal.statement_pdf(session, debtor, today=portal.debtor_today(session, debtor))


gateway = from_settings()
back_from = st.query_params.get(online_payments.SESSION_PARAM)
if st.query_params.get(online_payments.CANCELLED_PARAM):
    st.session_state["portal_flash"] = ("info", "You did not pay. Nothing was charged; you can start again below.")
elif back_from and gateway is not None:
    try:
        with db.transaction() as session:
            outcome = online_payments.complete_checkout(
                session, debtor, gateway, back_from, via="redirect", customer_id=debtor.debtor_of, wait=False
            )
    except RecoupError as error:  # the provider's words are for the log, not for the debtor
        log.warning("portal: checkout %s not confirmed: %s", back_from, error)
        outcome = None
    if outcome is not None and outcome.amount is not None and outcome.payment_id is not None:
        st.session_state["portal_flash"] = ("success", f"Thank you: we have your payment of {outcome.amount.format()}.")
    elif outcome is not None and outcome.completion == online_payments.Completion.EXPIRED:
        st.session_state["portal_flash"] = ("info", "That payment page expired before it was paid. Start again below.")
    else:
        st.session_state["portal_flash"] = ("info", "Your payment is not confirmed yet; it shows here once it is.")
for param in (online_payments.SESSION_PARAM, online_payments.CANCELLED_PARAM):
    if param in st.query_params:  # handled once: a reload does not ask the provider again
        del st.query_params[param]

with db.transaction() as session:
    today = portal.debtor_today(session, debtor)
    mine = portal.account(session, debtor, today=today)
view = mine.account

st.title(view.name)
if flash := st.session_state.pop("portal_flash", None):
    getattr(st, flash[0])(flash[1])
st.caption(f"Account {view.external_ref} · as of {today:%d %B %Y}")
cols = st.columns(max(len(view.balances), 1))
for col, balance in zip(cols, view.balances, strict=False):
    col.metric(f"You owe ({balance.open.currency})", balance.open.format(), help=f"Overdue: {balance.overdue.format()}")
if not view.balances:
    st.success("You owe nothing on this account. Thank you.")

st.download_button(
    "Download statement (PDF)",
    statement_pdf,  # drawn when clicked, not on every run
    file_name=f"statement-{view.external_ref}-{today}.pdf",
    mime="application/pdf",
    on_click="ignore",
)

(owed_tab, paid_tab, messages_tab, promise_tab, dispute_tab, plan_tab, contact_tab, pay_tab) = st.tabs(
    ["What you owe", "Payments and plan", "Messages", "Promise to pay", "Dispute", "Payment plan", "Contact", "Pay"]
)

open_invoices = [line for line in view.invoices if line.open.amount > 0]
with owed_tab:
    if open_invoices:
        st.dataframe(
            pd.DataFrame(
                {
                    "Invoice": [line.number for line in open_invoices],
                    "Issued": [line.issue_date for line in open_invoices],
                    "Due": [line.due_date for line in open_invoices],
                    "Amount": [line.amount.format() for line in open_invoices],
                    "Still open": [line.open.format() for line in open_invoices],
                    "Disputed": ["yes" if line.disputed else "" for line in open_invoices],
                }
            ),
            hide_index=True,
        )
    else:
        st.info("No open invoices.")
    for document in view.documents:
        st.download_button(
            f"Download {document.file_name} ({document.invoice_number})",
            partial(document_content, document.id),  # read when clicked, not on every run
            file_name=document.file_name,
            mime=document.media_type,
            key=f"portal_document_{document.id}",
            on_click="ignore",
        )

with paid_tab:
    st.subheader("Payments received")
    if view.payments:
        st.dataframe(
            pd.DataFrame(
                {
                    "Received": [p.received_on for p in view.payments],
                    "Amount": [p.amount.format() for p in view.payments],
                    "Reference": [p.reference for p in view.payments],
                }
            ),
            hide_index=True,
        )
    else:
        st.caption("No payments yet.")
    for plan in mine.plans:
        st.subheader(f"Payment plan ({plan.currency}): {plan.status}")
        st.dataframe(
            pd.DataFrame(
                {
                    "Due": [i.due_on for i in plan.instalments],
                    "Amount": [i.amount.format() for i in plan.instalments],
                    "Paid": [i.paid.format() for i in plan.instalments],
                    "State": [i.state for i in plan.instalments],
                }
            ),
            hide_index=True,
        )

with messages_tab:
    if mine.messages:
        st.dataframe(
            pd.DataFrame(
                {
                    "Sent": [m.sent_at for m in mine.messages],
                    "Channel": [m.channel for m in mine.messages],
                    "Subject": [m.subject for m in mine.messages],
                }
            ),
            hide_index=True,
        )
    else:
        st.caption("We have sent you no messages.")

currencies = sorted({line.open.currency for line in open_invoices})


def report(action: str, run: Callable[[Session], object], *, clear: tuple[str, ...] = ()) -> None:
    """Run one debtor action in its own transaction; on success, empty the form's boxes (clear:
    their keys; a second click makes no second promise) and say so over the refreshed page
    (balances, what is disputed); on failure say why and keep what was typed."""
    try:
        with db.transaction() as session:
            run(session)
    except RecoupError as error:
        st.error(str(error))
    else:
        for key in clear:
            st.session_state.pop(key, None)
        st.session_state["portal_flash"] = ("success", action)
        st.rerun()


with promise_tab:
    if not currencies:
        st.info("Nothing is open to promise against.")
    else:
        with st.form("portal_promise_form"):
            currency = st.selectbox("Currency", currencies, key="portal_promise_currency")
            amount = st.text_input("Amount", placeholder="e.g. 1,500.00", key="portal_promise_amount")
            due_on = st.date_input(
                "I will pay by",
                value=today + timedelta(days=7),
                min_value=today,
                help=f"Within {mine.settings.promise_max_days} days",
                key="portal_promise_date",
            )
            note = st.text_input("Note (optional)", key="portal_promise_note")
            if st.form_submit_button("Promise to pay"):
                try:
                    promised = Money.typed(amount, currency)
                except RecoupError as error:
                    st.error(str(error))
                else:
                    report(
                        f"Thank you: we have your promise to pay {promised.format()} by {due_on:%d %b %Y}.",
                        lambda s: portal.promise_to_pay(
                            s, debtor, amount=promised, due_on=due_on, note=note, today=today
                        ),
                        clear=("portal_promise_amount", "portal_promise_note"),
                    )

with dispute_tab:
    undisputed = [line for line in open_invoices if not line.disputed]
    if not undisputed:
        st.info("No open invoice to dispute.")
    else:
        with st.form("portal_dispute_form"):
            invoice = st.selectbox(
                "Invoice",
                undisputed,
                format_func=lambda line: f"{line.number} — {line.open.format()}",
                key="portal_dispute_invoice",
            )
            category = st.selectbox(
                "Why", DISPUTE_CATEGORIES, format_func=CATEGORY_LABELS.get, key="portal_dispute_category"
            )
            reason = st.text_area("Tell us more", key="portal_dispute_note")
            upload = st.file_uploader("A document (optional)", key="portal_dispute_file")
            if st.form_submit_button("Dispute this invoice"):
                attached = (upload.name, upload.getvalue()) if upload is not None else None
                report(
                    f"We have your dispute of invoice {invoice.number}; we stop reminding you about it while we look.",
                    lambda s: portal.dispute_invoice(
                        s, debtor, invoice.id, category=category, note=reason, file=attached
                    ),
                    clear=("portal_dispute_note",),
                )

with plan_tab:
    if not currencies:
        st.info("Nothing is open to spread over a plan.")
    else:
        with st.form("portal_plan_form"):
            currency = st.selectbox("Currency", currencies, key="portal_plan_currency")
            count = st.number_input(
                "Monthly payments",
                min_value=2,
                max_value=mine.settings.plan_max_instalments,
                value=min(3, mine.settings.plan_max_instalments),
                key="portal_plan_count",
            )
            if st.form_submit_button("Ask for a payment plan"):
                report(
                    "We have your request; someone from our team will confirm the plan with you.",
                    lambda s: portal.ask_for_plan(s, debtor, currency=currency, instalments=int(count), today=today),
                )

with contact_tab:
    for contact in view.contacts:
        st.subheader(contact.name)
        st.caption(" · ".join(filter(None, [contact.email, contact.phone])))
        with st.form(f"portal_contact_{contact.id}"):
            stopped = st.multiselect(
                "Do not contact me by",
                ["email", "sms", "call", "letter"],
                default=list(contact.opted_out),
                key=f"portal_contact_channels_{contact.id}",
            )
            has_hours = contact.preferred_from is not None and contact.preferred_until is not None
            limit_hours = st.checkbox("Only at these hours", value=has_hours, key=f"portal_contact_limit_{contact.id}")
            hours = st.slider(
                "Best hours to reach me",
                time(6),
                time(22),
                (contact.preferred_from or time(9), contact.preferred_until or time(17))
                if has_hours
                else (time(9), time(17)),
                step=timedelta(minutes=30),
                format="HH:mm",
                key=f"portal_contact_hours_{contact.id}",
            )
            if st.form_submit_button("Save my preferences"):
                prefs = ContactPreferences(
                    opted_out=tuple(stopped),
                    preferred_from=hours[0] if limit_hours else None,
                    preferred_until=hours[1] if limit_hours else None,
                    language=contact.language,  # kept as it is: the portal does not change it
                )
                report(
                    "Your preferences are saved.",
                    partial(portal.set_preferences, debtor=debtor, contact_id=contact.id, prefs=prefs),
                )
        for channel, address in (("email", contact.email), ("phone", contact.phone)):
            if address and st.button(f"Never use this {channel} again", key=f"portal_stop_{channel}_{contact.id}"):
                report(
                    f"We will not use this {channel} again.",
                    partial(portal.stop_address, debtor=debtor, contact_id=contact.id, channel=channel),
                )

with pay_tab:
    for currency in currencies:
        if instructions := mine.settings.instructions.get(currency):
            st.markdown(f"**Paying in {currency}:** {instructions}")
    if gateway is None:
        st.caption("Paying by card online is not offered yet.")
    elif currencies:
        with st.form("portal_pay_form"):
            currency = st.selectbox("Currency", currencies, key="portal_pay_currency")
            amount = st.text_input("Amount", placeholder="e.g. 1,500.00", key="portal_pay_amount")
            if st.form_submit_button("Pay by card"):
                try:
                    paying = Money.typed(amount, currency)
                    with db.transaction() as session:
                        url = online_payments.start_checkout(
                            session,
                            debtor,
                            gateway,
                            customer_id=view.customer_id,
                            currency=currency,
                            amount=paying.amount,
                            return_url=f"{get_settings().portal_url}/?t={token}",
                        )
                    st.session_state["portal_checkout_url"] = url
                except GatewayError as error:  # the provider's words are for the log
                    log.warning("portal: checkout not started for customer %s: %s", debtor.debtor_of, error)
                    st.error("Paying by card is not available just now. Please try again later or pay by transfer.")
                except RecoupError as error:
                    st.error(str(error))
        if url := st.session_state.get("portal_checkout_url"):
            st.link_button("Continue to the secure payment page", url, type="primary")
