"""Unapplied payments: money received but not applied to an invoice, and matching it by hand."""

import pandas as pd
import streamlit as st

from core import db
from core.errors import RecoupError
from core.money import Money
from core.services import customers, matching
from ui import fmt
from ui.auth import require_page
from ui.export import download_buttons

user = require_page("unapplied")
actor = user.as_actor()

LIMIT = 500
st.title("Unapplied payments")
if flash := st.session_state.pop("unapplied_flash", None):
    st.success(flash)

with db.transaction() as session:
    waiting = matching.list_unapplied(session, actor, limit=LIMIT)
if not waiting:
    st.info("Every payment received is applied to invoices. Nothing waits here.")
    st.stop()

more = f"; only the first {LIMIT:,} are listed, match them to see the rest." if len(waiting) == LIMIT else "."
st.caption(f"Payer unknown first, then customers' credit; oldest received first{more}")
st.dataframe(
    pd.DataFrame(
        [
            {
                "Received": p.received_on,
                "Reference": p.reference,
                "Source": p.source,
                "Method": p.method,
                "Amount": fmt.money(p.amount),
                "Unapplied": fmt.money(p.unallocated),
                "Customer": p.customer or "unknown",
                "Ref in the file": p.payer_ref or "",
            }
            for p in waiting
        ]
    ),
    hide_index=True,
)
# The same list for a spreadsheet: plain amounts with their currency, which add up there.
download_buttons(
    pd.DataFrame(
        [
            {
                "Received": p.received_on,
                "Reference": p.reference,
                "Source": p.source,
                "Method": p.method,
                "Currency": p.amount.currency,
                "Amount": p.amount.amount,
                "Unapplied": p.unallocated.amount,
                "Customer": p.customer or "unknown",
                "Ref in the file": p.payer_ref or "",
            }
            for p in waiting
        ]
    ),
    name="recoup-unapplied-payments",
    key="unapplied_download",
)

st.subheader("Match a payment")
by_id = {p.payment_id: p for p in waiting}
payment = by_id[
    st.selectbox(
        "Payment",
        list(by_id),
        key="unapplied_payment",
        format_func=lambda i: (
            f"{by_id[i].received_on} · {by_id[i].reference} · "
            f"{fmt.money(by_id[i].unallocated)} unapplied · {by_id[i].customer or 'payer unknown'}"
        ),
    )
]

if payment.customer_id is not None:  # a known payer's credit goes to their own invoices only
    customer_id = payment.customer_id
    st.write(f"Customer: **{payment.customer}**")
else:
    if payment.payer_ref:
        st.caption(f"The payment's file named customer ref {payment.payer_ref!r}, which Recoup does not know.")
    query = st.text_input("Find the customer", key="unapplied_customer_search", placeholder="Customer ref or name")
    with db.transaction() as session:
        hits = {hit.customer_id: hit for hit in customers.find_customers(session, actor, query)}
    if not hits:
        st.info(
            "Type part of the customer's ref or name to find them." if not query.strip() else "No customer matches."
        )
        st.stop()
    customer_id = st.selectbox(
        "Customer",
        list(hits),
        key="unapplied_customer",
        format_func=lambda i: f"{hits[i].external_ref} · {hits[i].name}",
    )

currency = payment.unallocated.currency
with db.transaction() as session:
    invoices = {i.invoice_id: i for i in matching.open_invoices_for(session, actor, customer_id, currency)}
if not invoices:
    st.caption(f"No open {currency} invoices: matching keeps the whole payment as this customer's credit.")
chosen = st.multiselect(
    "Invoices to pay, in this order",
    list(invoices),
    key="unapplied_invoices",
    format_func=lambda i: (
        f"{invoices[i].number} · due {invoices[i].due_date} · "
        f"{fmt.money(invoices[i].open_balance)} open{' · disputed' if invoices[i].disputed else ''}"
    ),
    help="Leave empty to pay the oldest due first (disputed invoices are skipped then).",
)

if st.button("Match", key="unapplied_match", type="primary"):
    try:
        with db.transaction() as session:
            applied = matching.match_payment(
                session, actor, payment.payment_id, customer_id=customer_id, invoice_ids=chosen
            )
    except RecoupError as error:
        st.error(str(error))
        st.stop()
    total = sum(applied.values(), Money.zero(currency))
    left = payment.unallocated - total
    if applied:
        numbers = ", ".join(invoices[i].number if i in invoices else f"#{i}" for i in applied)
        message = f"Applied {fmt.money(total)} to invoices {numbers}"
    else:
        message = "Nothing applied to invoices"
    st.session_state["unapplied_flash"] = message + (
        f"; {fmt.money(left)} left as credit." if not left.is_zero() else "."
    )
    st.rerun()
