"""The debtor portal (make portal): a separate Streamlit app, on its own port, in a folder of its
own so no staff page is ever served by it. It opens only through a signed link (?t=…) and
imports only the portal's services."""

from datetime import date, time, timedelta

import pandas as pd
import streamlit as st

from core import db
from core.config import get_settings
from core.errors import RecoupError
from core.gateway import GatewayError, from_settings
from core.models import DISPUTE_CATEGORIES
from core.money import Money
from core.services import online_payments, portal
from core.services.customers import ContactPreferences
from core.services.disputes import CATEGORY_LABELS

st.set_page_config(page_title="Your account", page_icon="🧾", layout="centered")
today = date.today()
token = st.query_params.get("t", "")

address = st.context.ip_address  # the client's, for turning away one that keeps guessing links
with db.transaction() as session:
    opening = portal.open_link(
        session,
        token,
        client=address if isinstance(address, str) and address else "unknown",
        second_factor=st.session_state.get("portal_second_factor"),
    )
if opening.needs_second_factor:
    st.title("Your account")
    with st.form("portal_second_factor_form"):
        digits = st.text_input("The last 4 digits of the phone number we have for you", max_chars=4)
        if st.form_submit_button("Open my account"):
            st.session_state["portal_second_factor"] = digits
            st.rerun()
    st.stop()
if opening.debtor is None:
    st.title("Your account")
    st.error(opening.refusal or "This link does not open an account.")
    st.stop()
debtor = opening.debtor

gateway = from_settings()
if (paid_session := st.query_params.get("checkout_session")) and gateway is not None:
    try:
        with db.transaction() as session:
            outcome = online_payments.complete_checkout(
                session, debtor, gateway, paid_session, via="redirect", customer_id=debtor.debtor_of
            )
        if outcome.amount is not None and outcome.payment_id is not None:
            st.success(f"Thank you: we have your payment of {outcome.amount.format()}.")
        else:
            st.info("Your payment is not confirmed yet; it shows here as soon as it is.")
    except (RecoupError, GatewayError) as error:
        st.warning(str(error))

with db.transaction() as session:
    mine = portal.account(session, debtor, today=today)
view = mine.account

st.title(f"{view.name}")
st.caption(f"Account {view.external_ref} · as of {today:%d %B %Y}")
cols = st.columns(max(len(view.balances), 1))
for col, balance in zip(cols, view.balances, strict=False):
    col.metric(f"You owe ({balance.open.currency})", balance.open.format(), help=f"Overdue: {balance.overdue.format()}")
if not view.balances:
    st.success("You owe nothing on this account. Thank you.")

with db.transaction() as session:
    statement = portal.statement_pdf(session, debtor, today=today)
st.download_button(
    "Download statement (PDF)",
    statement,
    file_name=f"statement-{view.external_ref}-{today}.pdf",
    mime="application/pdf",
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
        with db.transaction() as session:
            file = portal.document(session, debtor, document.id)
        st.download_button(
            f"Download {document.file_name}",
            file.content,
            file_name=file.file_name,
            mime=file.media_type,
            key=f"portal_document_{document.id}",
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


def report(action: str, run) -> None:  # type: ignore[no-untyped-def]
    """Run one debtor action in its own transaction and say how it went."""
    try:
        with db.transaction() as session:
            run(session)
    except RecoupError as error:
        st.error(str(error))
    else:
        st.success(action)


with promise_tab:
    if not currencies:
        st.info("Nothing is open to promise against.")
    else:
        with st.form("portal_promise_form"):
            currency = st.selectbox("Currency", currencies, key="portal_promise_currency")
            amount = st.number_input("Amount", min_value=0.0, step=100.0, key="portal_promise_amount")
            due_on = st.date_input(
                "I will pay by",
                value=today + timedelta(days=7),
                min_value=today,
                help=f"Within {mine.settings.promise_max_days} days",
                key="portal_promise_date",
            )
            note = st.text_input("Note (optional)", key="portal_promise_note")
            if st.form_submit_button("Promise to pay"):
                promised = Money(str(amount), currency)
                report(
                    f"Thank you: we have your promise to pay {promised.format()} by {due_on:%d %b %Y}.",
                    lambda s: portal.promise_to_pay(s, debtor, amount=promised, due_on=due_on, note=note, today=today),
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
                value=3,
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
            hours = st.slider("Best hours to reach me", 6, 22, (9, 17), key=f"portal_contact_hours_{contact.id}")
            if st.form_submit_button("Save my preferences"):
                prefs = ContactPreferences(
                    opted_out=tuple(stopped), preferred_from=time(hours[0]), preferred_until=time(hours[1])
                )
                report("Saved.", lambda s, c=contact.id, p=prefs: portal.set_preferences(s, debtor, c, p))
        for channel, address in (("email", contact.email), ("phone", contact.phone)):
            if address and st.button(f"Never use this {channel} again", key=f"portal_stop_{channel}_{contact.id}"):
                report(
                    f"We will not use this {channel} again.",
                    lambda s, c=contact.id, ch=channel: portal.stop_address(s, debtor, c, ch),
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
            amount = st.number_input("Amount", min_value=0.0, step=100.0, key="portal_pay_amount")
            if st.form_submit_button("Pay by card"):
                try:
                    with db.transaction() as session:
                        url = online_payments.start_checkout(
                            session,
                            debtor,
                            gateway,
                            customer_id=view.customer_id,
                            currency=currency,
                            amount=str(amount),
                            return_url=f"{get_settings().portal_url}/?t={token}",
                        )
                    st.session_state["portal_checkout_url"] = url
                except (RecoupError, GatewayError) as error:
                    st.error(str(error))
        if url := st.session_state.get("portal_checkout_url"):
            st.link_button("Continue to the secure payment page", url, type="primary")
