"""Work queue: who to call next and why. Ranked, filtered and paged in the database."""

from datetime import date

import streamlit as st

from core import db
from core.aging import BUCKETS
from core.errors import RecoupError
from core.roles import Permission, Role
from core.services import assignment, queue
from ui import fmt
from ui.auth import require_page
from ui.queue_settings import settings_panel

user = require_page("queue")
actor = user.as_actor()
today = date.today()

st.title("Work queue")
if flash := st.session_state.pop("queue_flash", None):
    st.success(flash)

with db.transaction() as session:
    choices = queue.queue_choices(session, actor)
collector_names = dict(choices.collectors)
FLAG_LABELS = {flag: flag.replace("_", " ").capitalize() for flag in queue.FLAGS}

top = st.columns([2, 3, 2, 1])
mine = top[0].toggle("My queue", value=user.role == Role.COLLECTOR, key="queue_mine")
search = top[1].text_input(
    "Search", key="queue_search", placeholder="Name, customer ref, invoice number, email or phone"
)
sort = top[2].selectbox("Sort by", list(queue.SORTS), format_func=queue.SORTS.get, key="queue_sort")
page_size = top[3].selectbox("Per page", queue.PAGE_SIZES, key="queue_page_size")

with st.expander("Filters", expanded=False):
    row = st.columns(4)
    buckets = row[0].multiselect("Days past due", BUCKETS, key="queue_buckets")
    currencies = row[1].multiselect("Currency", choices.currencies, key="queue_currencies")
    countries = row[2].multiselect("Country", choices.countries, key="queue_countries")
    segments = row[3].multiselect("Segment", choices.segments, key="queue_segments")
    row = st.columns(4)
    collectors = row[0].multiselect(
        "Collector", list(collector_names), format_func=collector_names.get, key="queue_collectors"
    )
    flags = row[1].multiselect("Flags", queue.FLAGS, format_func=FLAG_LABELS.get, key="queue_flags")
    with row[2]:
        unassigned = st.checkbox("Unassigned", key="queue_unassigned")
        due_today = st.checkbox("Promise due today", key="queue_promise_due_today")
        broken = st.checkbox("Broken promise", key="queue_broken_promise")
        plan_missed = st.checkbox("Plan instalment missed", key="queue_plan_missed")
    with row[3]:
        scheduled = st.checkbox(
            "Include accounts scheduled later",
            key="queue_include_scheduled",
            help="Accounts whose next action or hold is after today are left out of today's queue.",
        )
        not_overdue = st.checkbox("Include accounts not yet overdue", key="queue_include_not_overdue")

chosen = queue.QueueFilter(
    buckets=tuple(buckets),
    currencies=tuple(currencies),
    countries=tuple(countries),
    segments=tuple(segments),
    collector_ids=tuple(collectors),
    unassigned=unassigned,
    flags=tuple(flags),
    promise_due_today=due_today,
    broken_promise=broken,
    plan_missed=plan_missed,
    mine=mine,
    include_scheduled=scheduled,
    include_not_overdue=not_overdue,
    search=search,
)
# A new filter starts again from page 1.
if st.session_state.get("queue_filter") != (chosen, sort, page_size):
    st.session_state["queue_filter"] = (chosen, sort, page_size)
    st.session_state["queue_page"] = 1
page = st.session_state.get("queue_page", 1)

try:
    with db.transaction() as session:
        result = queue.list_work_queue(session, actor, chosen, as_of=today, sort=sort, page=page, page_size=page_size)
except RecoupError as error:
    st.error(str(error))
    st.stop()

pages = max(1, -(-result.total // result.page_size))
st.caption(
    f"{result.total:,} account{'s' if result.total != 1 else ''} to work today · page {result.page} of {pages}. "
    "Priority is the sum of the reasons shown under each account."
)
if not result.rows:
    st.info("Nothing to work with these filters." if result.total == 0 else "This page is past the end of the queue.")

for position, row in enumerate(result.rows, start=(page - 1) * page_size + 1):
    with st.container(border=True, key=f"queue_row_{row.customer_id}"):
        cols = st.columns([4, 3, 2, 3])
        with cols[0]:
            st.page_link(
                "pages/account.py",
                label=f"{position}. {row.name}",
                query_params={"id": str(row.customer_id)},
                icon=":material/person:",
            )
            details = [row.external_ref, row.country, row.segment or "", row.collector or "unassigned"]
            st.caption(" · ".join(part for part in details if part))
            if row.flags:
                st.caption("⚑ " + ", ".join(FLAG_LABELS[flag] for flag in row.flags))
        cols[1].markdown("  \n".join(f"**{fmt.money(balance)}**" for balance in row.balances) or "—")
        cols[1].caption(
            f"{row.days_past_due} days past due (since {row.oldest_due_date:%d %b %Y})"
            if row.days_past_due and row.days_past_due > 0 and row.oldest_due_date
            else "not yet due"
        )
        cols[2].metric("Priority", row.priority.score, label_visibility="collapsed")
        notes = []
        if row.promise:
            notes.append(f"Promise: {row.promise}")
        notes.append(f"Last contact: {row.last_contact_on:%d %b %Y}" if row.last_contact_on else "Never contacted")
        if row.next_action_on:
            notes.append(f"Next action: {row.next_action_on:%d %b %Y}")
        cols[3].caption("  \n".join(notes))
        st.caption(f"Why: {row.priority.explain()}")

nav = st.columns([1, 1, 6])
if nav[0].button("Previous", key="queue_previous", disabled=page <= 1):
    st.session_state["queue_page"] = page - 1
    st.rerun()
if nav[1].button("Next", key="queue_next", disabled=page >= pages):
    st.session_state["queue_page"] = page + 1
    st.rerun()

if actor.may(Permission.ASSIGN_ACCOUNTS) and result.rows:
    st.subheader("Assign")
    labels = {row.customer_id: f"{row.name} ({row.external_ref})" for row in result.rows}
    with st.form("queue_assign_form"):
        every = st.checkbox("Every account on this page", key="queue_assign_all")
        picked = st.multiselect("Accounts", list(labels), format_func=labels.get, key="queue_assign_accounts")
        NOBODY = 0
        to = st.selectbox(
            "Assign to",
            [*collector_names, NOBODY],
            format_func=lambda uid: collector_names.get(uid, "Nobody (unassign)"),
            key="queue_assign_to",
        )
        if st.form_submit_button("Assign", key="queue_assign_submit"):
            ids = list(labels) if every else picked
            try:
                with db.transaction() as session:
                    changed = assignment.assign_collectors(session, actor, ids, to or None)
                st.session_state["queue_flash"] = f"{changed} account{'s' if changed != 1 else ''} reassigned."
                st.rerun()
            except RecoupError as error:
                st.error(str(error))

if actor.may(Permission.TUNE_QUEUE):
    settings_panel(actor)
