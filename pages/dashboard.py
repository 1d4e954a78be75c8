"""Dashboard: open and overdue balance per currency, aging, and the size of the book."""

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from core import db
from core.aging import BUCKETS
from core.errors import RecoupError
from core.roles import Role
from core.services import plans, promises, tasks
from core.services.dashboard import book_summary, health, month_figures
from ui import fmt
from ui.auth import require_page
from ui.export import download_buttons

user = require_page("dashboard")

st.title("Dashboard")
as_of = st.columns([1, 3])[0].date_input("As of", value=date.today(), key="dashboard_as_of", format="YYYY-MM-DD")
with db.transaction() as session:
    book = book_summary(session, user.as_actor(), as_of=as_of)

with db.transaction() as session:
    attention = promises.promises_needing_attention(session, user.as_actor(), as_of=as_of)
if attention:
    due_today = [p for p in attention if p.status == "due today"]
    broken = [p for p in attention if p.status == "broken"]
    st.subheader("Promises to pay")
    st.caption(
        f"{len(due_today)} due today · {len(broken)} broken in the last 7 days (not kept by their date). "
        "Broken promises lift their accounts in the work queue."
    )
    for p in attention[:20]:
        line = f"{p.customer} · {fmt.money(p.amount)} due {p.due_on:%d %b %Y} · **{p.status}**"
        st.page_link(
            "pages/account.py",
            label=line + (f" · {p.collector}" if p.collector else ""),
            query_params={"id": str(p.customer_id)},
        )
    if len(attention) > 20:
        st.caption(f"…and {len(attention) - 20} more: filter the work queue by broken promise.")

with db.transaction() as session:
    plan_events = plans.plans_needing_attention(session, user.as_actor(), as_of=as_of)
if plan_events:
    st.subheader("Payment plans")
    tally = {
        what: sum(1 for e in plan_events if e.what == what) for what in ("due today", "missed", "partial", "broken")
    }
    st.caption(
        f"{tally['due today']} instalments due today · {tally['missed']} missed · "
        f"{tally['partial']} partly paid this week · {tally['broken']} plans broken in the last 7 days."
    )
    for e in plan_events[:20]:
        what = {"partial": "partly paid", "broken": "plan broken, left"}.get(e.what, e.what)
        st.page_link(
            "pages/account.py",
            label=f"{e.customer} · plan #{e.plan_id} · {fmt.money(e.amount)} {what} ({e.on:%d %b %Y})"
            + (f" · {e.collector}" if e.collector else ""),
            query_params={"id": str(e.customer_id)},
        )
    if len(plan_events) > 20:
        st.caption(f"…and {len(plan_events) - 20} more on the Payment plans page.")

with db.transaction() as session:
    todo = tasks.open_tasks(session, user.as_actor())
if todo:
    st.subheader("Tasks")
    st.caption(f"{len(todo)} open: calls the reminder sequences asked for instead of another message.")
    for task in todo[:20]:
        with st.expander(f"{task.customer} · {task.title} · due {task.due_on:%d %b %Y}", key=f"task_{task.task_id}"):
            st.page_link("pages/account.py", label="Open the account", query_params={"id": str(task.customer_id)})
            st.text(task.script)
            if st.button("Mark done", key=f"task_done_{task.task_id}"):
                try:
                    with db.transaction() as session:
                        tasks.complete_task(session, user.as_actor(), task.task_id)
                except RecoupError as error:
                    st.error(str(error))
                else:
                    st.rerun()

counts = st.columns(4)
counts[0].metric("Customers", f"{book.customers:,}")
counts[1].metric("With an open balance", f"{book.customers_with_balance:,}")
counts[2].metric("With something overdue", f"{book.customers_overdue:,}")
counts[3].metric("Open invoices", f"{sum(c.open_invoices for c in book.currencies):,}")

if not book.currencies:
    if user.role is Role.COLLECTOR:
        st.info("None of the accounts assigned to you owes anything as of this date.")
    else:
        st.info("Nothing is owed as of this date. Import customers and invoices to get started.")
    st.stop()

st.subheader("Per currency")
st.caption("Amounts are never added across currencies. Overdue = past its due date and not fully paid.")
for summary in book.currencies:
    cols = st.columns([3, 3, 2, 2])  # room for a full amount such as ₱51,248,472.10
    cols[0].metric(f"Open balance · {summary.currency}", fmt.money(summary.open_balance))
    cols[1].metric("Overdue", fmt.money(summary.overdue_balance))
    cols[2].metric("Overdue share", fmt.percent(summary.overdue_share))
    cols[3].metric("Overdue invoices", f"{summary.overdue_invoices:,} of {summary.open_invoices:,}")

with db.transaction() as session:
    month = month_figures(session, user.as_actor(), as_of=as_of)
    state = health(session, user.as_actor(), as_of=as_of)
st.subheader(f"{as_of:%B %Y}" + (" · your accounts" if user.role is Role.COLLECTOR else ""))
st.caption(
    "DSO by the countback method; CEI = the share of what could be collected this month that was "
    "(definitions: README, Reports). Collected = payments received, as applied to invoices."
)
for figures in month:
    cols = st.columns([2, 2, 3, 3])
    cols[0].metric(f"DSO · {figures.currency}", "—" if figures.dso is None else f"{figures.dso} days")
    cols[1].metric("CEI", "—" if figures.cei is None else f"{figures.cei}%")
    cols[2].metric(
        "Collected this month",
        fmt.money(figures.collected),
        delta=fmt.money(figures.collected - figures.collected_last_month),
        help=f"Last month: {fmt.money(figures.collected_last_month)}",
    )
cols = st.columns(4)
cols[0].metric("Plans current", state.plans["current"])
cols[1].metric("Plans late", state.plans["late"])
cols[2].metric("Plans broken", state.plans["broken"])
if user.role in (Role.MANAGER, Role.ADMIN):
    cols[3].metric(
        "Reminders since yesterday",
        state.sends["sent"],
        help=f"{state.sends['blocked']} blocked and {state.sends['failed']} failed since yesterday; "
        f"{state.sends['uncertain']} uncertain wait for a decision (Workflows → Needs attention).",
    )
    if state.sends["failed"] or state.sends["uncertain"]:
        st.warning(
            f"{state.sends['failed']} reminder(s) failed and {state.sends['uncertain']} are uncertain: "
            "Workflows → Needs attention."
        )

st.subheader("Aging")
aging = pd.DataFrame(
    [
        {
            "currency": s.currency,
            "bucket": bucket,
            "open balance": float(s.by_bucket[bucket].amount),  # bar height only; shown via babel
            "amount": fmt.money(s.by_bucket[bucket]),
        }
        for s in book.currencies
        for bucket in BUCKETS
    ]
)
chart = (
    alt.Chart(aging)
    .mark_bar()
    .encode(
        x=alt.X("bucket:N", sort=list(BUCKETS), title="Days past due"),
        y=alt.Y("open balance:Q", title="Open balance"),
        color=alt.Color("bucket:N", sort=list(BUCKETS), legend=None, scale=alt.Scale(scheme="orangered")),
        tooltip=["currency", "bucket", "amount"],
    )
    .properties(height=220)
    .facet(column=alt.Column("currency:N", title=None))
    .resolve_scale(y="independent")
)
st.altair_chart(chart)
st.dataframe(
    pd.DataFrame(
        {s.currency: [fmt.money(s.by_bucket[b]) for b in BUCKETS] for s in book.currencies}, index=list(BUCKETS)
    ),
    key="dashboard_aging_table",
)
# The same table for a spreadsheet: plain amounts that add up there, rather than formatted text.
aging_amounts = pd.DataFrame(
    {"Days past due": list(BUCKETS), **{s.currency: [s.by_bucket[b].amount for b in BUCKETS] for s in book.currencies}}
)
download_buttons(aging_amounts, name=f"recoup-aging-{as_of.isoformat()}", key="dashboard_aging_download")
