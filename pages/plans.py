"""Payment plans: every plan and its instalments in two grids a manager edits and saves at once
(all or nothing, refused if someone changed a plan meanwhile), and proposals to approve."""

from datetime import date

import streamlit as st

from core import db
from core.errors import RecoupError
from core.money import Money
from core.roles import Permission
from core.services import plan_grid, plans, queue
from core.services.plan_grid import Grid, GridConflict, GridFilter, GridInvalid
from ui import fmt, plan_editor, plan_settings
from ui.auth import require_page

user = require_page("plans")
actor = user.as_actor()
may_edit = actor.may(Permission.MANAGE_ACCOUNTS)
today = date.today()

st.title("Payment plans")
if flash := st.session_state.pop("plans_flash", None):
    st.success(flash)
if conflict := st.session_state.pop("plans_conflict", None):
    st.error(conflict)

with db.transaction() as session:
    choices = queue.queue_choices(session, actor)
collector_names = dict(choices.collectors)

if "plans_statuses" not in st.session_state:  # a new visit (widget state is dropped on leaving): fresh values
    st.session_state.pop("plans_loaded_for", None)
row = st.columns([3, 2, 1, 2])
statuses = row[0].multiselect(
    "Status", plan_grid.GRID_STATUSES, default=GridFilter().statuses, key="plans_statuses", help="Empty: every status."
)
collector_id = (
    row[1].selectbox(
        "Collector",
        [None, *collector_names],
        format_func=lambda uid: "Anyone" if uid is None else collector_names[uid],
        key="plans_collector",
    )
    if may_edit
    else None
)
currency = row[2].selectbox(
    "Currency", [None, *choices.currencies], format_func=lambda c: c or "Any", key="plans_currency"
)
with row[3]:
    due_this_week = st.checkbox(
        "Due this week", key="plans_due_this_week", help="An instalment due in the next 7 days."
    )
chosen = GridFilter(tuple(statuses), collector_id, currency, due_this_week)

# The grid is loaded once per filter and kept: the editors' edits are row positions in it, and
# the versions it holds are what a save is checked against. Each load gets new editor keys.
if st.session_state.get("plans_loaded_for") != chosen:
    try:
        with db.transaction() as session:
            loaded = plan_grid.load_grid(session, actor, chosen, as_of=today)
            waiting = plan_grid.load_grid(session, actor, GridFilter(statuses=("proposed",)), as_of=today)
    except RecoupError as error:
        st.error(str(error))
        st.stop()
    st.session_state["plans_loaded_for"] = chosen
    st.session_state["plans_grid"], st.session_state["plans_proposals"] = loaded, waiting
    st.session_state["plans_revision"] = st.session_state.get("plans_revision", 0) + 1
grid: Grid = st.session_state["plans_grid"]
revision = st.session_state["plans_revision"]
by_id = {p.plan_id: p for p in grid.plans}
if saved := st.session_state.pop("plans_saved", None):
    st.success(
        "Saved. " + " ".join(f"Plan #{i}: {by_id[i].last_change}." if i in by_id else f"Plan #{i}." for i in saved)
    )

top = st.columns([6, 1])
top[0].caption(
    f"{len(grid.plans)} plan{'s' if len(grid.plans) != 1 else ''}, newest first, as loaded at your last filter "
    "change or save."
    + (
        " Edit the cells, add or delete instalments, then save: every change is checked and saved together."
        if may_edit
        else ""
    )
)
if top[1].button("Reload", key="plans_reload"):
    st.session_state.pop("plans_loaded_for", None)
    st.rerun()

plans_key, instalments_key = f"plans_editor_{revision}", f"plans_instalments_{revision}"
plan_columns, instalment_columns = plan_editor.plan_columns(grid), plan_editor.instalment_columns(grid)
if not grid.plans:
    st.info("No plan matches these filters.")
elif may_edit:
    st.subheader("Plans")
    plans_frame = plan_editor.plans_frame(grid)
    st.data_editor(
        plans_frame,
        hide_index=True,
        column_config=plan_columns,
        disabled=[c for c in plans_frame.columns if c not in (plan_editor.STATUS, plan_editor.TOTAL)],
        key=plans_key,
    )
    st.subheader("Instalments")
    st.data_editor(
        plan_editor.instalments_frame(grid),
        hide_index=True,
        column_config=instalment_columns,
        disabled=["Paid", "State", "Customer", "Currency"],
        num_rows="dynamic",
        key=instalments_key,
    )
    if st.button("Save changes", key="plans_save", type="primary"):
        try:
            plan_edits, instalment_edits = plan_editor.edits(
                grid, st.session_state[plans_key], st.session_state[instalments_key]
            )
            with db.transaction() as session:
                changed = plan_grid.save_grid(session, actor, plan_edits, instalment_edits)
        except GridInvalid as invalid:
            st.error(f"Nothing was saved: {len(invalid.errors)} problem(s). Your edits are kept; fix them and save.")
            st.dataframe(plan_editor.problems_frame(grid, invalid.errors), hide_index=True, key="plans_problems")
        except GridConflict as stale:
            st.session_state["plans_conflict"] = str(stale)
            st.session_state.pop("plans_loaded_for", None)
            st.rerun()
        except RecoupError as error:
            st.error(str(error))
        else:
            if changed:
                st.session_state["plans_saved"] = changed
                st.session_state.pop("plans_loaded_for", None)
                st.rerun()
            st.info("Nothing to save: no cell was changed.")
else:
    st.subheader("Plans")
    st.dataframe(plan_editor.plans_frame(grid), hide_index=True, column_config=plan_columns, key=plans_key)
    st.subheader("Instalments")
    st.dataframe(
        plan_editor.instalments_frame(grid), hide_index=True, column_config=instalment_columns, key=instalments_key
    )

if grid.plans:
    with st.expander("Open a plan's account"):
        for plan in grid.plans:
            st.page_link(
                "pages/account.py",
                label=f"Plan #{plan.plan_id} · {plan.customer}",
                query_params={"id": str(plan.customer_id)},
                icon=":material/person:",
            )

st.subheader("Proposals")
proposals: Grid = st.session_state["plans_proposals"]
if not proposals.plans:
    st.caption("No proposed plan waits for a manager.")
for proposal in proposals.plans:
    schedule = [i for i in proposals.instalments if i.plan_id == proposal.plan_id]
    with st.container(border=True, key=f"plans_proposal_{proposal.plan_id}"):
        st.page_link(
            "pages/account.py",
            label=f"Plan #{proposal.plan_id} · {proposal.customer}",
            query_params={"id": str(proposal.customer_id)},
            icon=":material/person:",
        )
        st.caption(
            f"{fmt.money(Money(proposal.total, proposal.currency))} in {len(schedule)} payment(s) from "
            f"{proposal.starts_on:%d %b %Y}, proposed by {proposal.updated_by}"
        )
        if not may_edit:
            continue
        cols = st.columns([4, 1, 1])
        reason = cols[0].text_input("Reason to reject", key=f"plans_reject_reason_{proposal.plan_id}")
        approve = cols[1].button("Approve", key=f"plans_approve_{proposal.plan_id}", type="primary")
        reject = cols[2].button("Reject", key=f"plans_reject_{proposal.plan_id}")
        if approve or reject:
            try:
                with db.transaction() as session:
                    plans.decide_proposal(
                        session, actor, proposal.plan_id, approve=approve, reason=reason, version=proposal.version
                    )
            except RecoupError as error:
                st.error(str(error))
            else:
                verb = "approved: it runs now" if approve else "rejected"
                st.session_state["plans_flash"] = f"Plan #{proposal.plan_id} {verb}."
                st.session_state.pop("plans_loaded_for", None)
                st.rerun()

if may_edit:
    with st.expander("Plan rules: when a plan is broken, the fee, proposals"):
        plan_settings.plan_settings_form(actor)
