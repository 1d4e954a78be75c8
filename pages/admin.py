"""Admin: manage users (create, change role, deactivate, reset password) and browse the audit log."""

import json
from datetime import date, timedelta

import pandas as pd
import streamlit as st

from core import db
from core.errors import RecoupError
from core.roles import Role
from core.services import audit, users
from ui import fmt
from ui.auth import require_page
from ui.export import download_buttons

user = require_page("admin")
actor = user.as_actor()
ROLES = [r.value for r in Role]

st.title("Admin")
if flash := st.session_state.pop("admin_flash", None):
    st.success(flash)


def run(action, message):  # type: ignore[no-untyped-def]
    """Do one service action in its own transaction; show its error, or flash success and reload."""
    try:
        with db.transaction() as session:
            result = action(session)
    except RecoupError as error:
        st.error(str(error))
        return
    st.session_state["admin_flash"] = message(result)
    st.rerun()


users_tab, audit_tab = st.tabs(["Users", "Audit log"])

with users_tab:
    with db.transaction() as session:
        people = users.list_users(session, actor)
    people_table = pd.DataFrame(
        [
            {
                "Username": u.username,
                "Name": u.name,
                "Email": u.email,
                "Role": u.role.value,
                "Active": u.active,
                "Failed sign-ins": u.failed_logins,
                "Locked until": fmt.when(u.locked_until) if u.locked_until else "",
                "Last sign-in": fmt.when(u.last_login_at),
            }
            for u in people
        ]
    )
    st.dataframe(people_table, hide_index=True, key="admin_users_table")
    download_buttons(people_table, name="recoup-users", key="admin_users_download")

    st.subheader("Change a user")
    by_name = {f"{u.username} — {u.name}": u for u in people}
    chosen = st.selectbox("User", list(by_name), key="admin_user_pick")
    if chosen:
        target = by_name[chosen]
        role_col, active_col, password_col = st.columns(3)
        with role_col:
            # Keyed per user: a keyed selectbox keeps its value when `index` changes, so one
            # shared box would show, and apply, the previously picked user's role.
            new_role = st.selectbox(
                "Role", ROLES, index=ROLES.index(target.role.value), key=f"admin_role_pick_{target.id}"
            )
            if st.button("Change role", key="admin_change_role"):
                run(
                    lambda s: users.change_role(s, actor, target.id, new_role),
                    lambda u: f"{u.username} is now {u.role.value}.",
                )
        with active_col:
            label = "Deactivate" if target.active else "Reactivate"
            st.write("Sign-in access" if target.active else "This user cannot sign in.")
            if st.button(label, key="admin_toggle_active"):
                run(
                    lambda s: users.set_active(s, actor, target.id, active=not target.active),
                    lambda u: f"{u.username} is {'active' if u.active else 'deactivated'}.",
                )
            if target.locked_until:
                st.caption(f"Locked out until {fmt.when(target.locked_until)} after failed sign-ins.")
                if st.button("Unlock", key="admin_unlock"):
                    run(lambda s: users.unlock(s, actor, target.id), lambda u: f"{u.username} can sign in again.")
        with password_col, st.form("admin_reset_password", clear_on_submit=True):
            new_password = st.text_input("New password", type="password", key="admin_new_password")
            if st.form_submit_button("Reset password", key="admin_reset_submit"):
                run(
                    lambda s: users.reset_password(s, actor, target.id, new_password),
                    lambda u: f"Password for {u.username} reset. Tell them in person or by phone.",
                )

    st.subheader("Create a user")
    with st.form("admin_create_user", clear_on_submit=False):
        c1, c2 = st.columns(2)
        username = c1.text_input("Username", key="admin_new_username")
        name = c2.text_input("Full name", key="admin_new_name")
        email = c1.text_input("Email", key="admin_new_email")
        role = c2.selectbox("Role", ROLES, index=ROLES.index("collector"), key="admin_new_role")
        password = c1.text_input(
            "Initial password", type="password", key="admin_new_user_password", help="10–72 bytes."
        )
        if st.form_submit_button("Create user", key="admin_create_submit", type="primary"):
            run(
                lambda s: users.create_user(
                    s, actor, username=username, name=name, email=email, role=role, password=password
                ),
                lambda u: f"Created {u.role.value} {u.username}.",
            )

with audit_tab:
    with db.transaction() as session:
        actors, entities = audit.audit_facets(session, actor)
    f1, f2, f3, f4, f5 = st.columns([2, 2, 2, 2, 2])
    who = f1.selectbox("Who", ["Anyone", *actors], key="audit_actor")
    entity = f2.selectbox("Record type", ["Any", *entities], key="audit_entity")
    action_prefix = f3.text_input("Action starts with", key="audit_action", placeholder="user.")
    since = f4.date_input("From", value=date.today() - timedelta(days=30), key="audit_since")
    until = f5.date_input("To", value=date.today(), key="audit_until")
    page_size = 100
    page_number = st.number_input("Page", min_value=1, value=1, step=1, key="audit_page")
    with db.transaction() as session:
        found = audit.list_audit(
            session,
            actor,
            actor_name=None if who == "Anyone" else who,
            entity_type=None if entity == "Any" else entity,
            action=action_prefix.strip() or None,
            since=since,
            until=until,
            limit=page_size,
            offset=(int(page_number) - 1) * page_size,
        )
    st.caption(f"{found.total:,} entries match; newest first; {page_size} a page.")
    table = pd.DataFrame(
        [
            {
                "When": fmt.when(r.at),
                "Who": r.actor,
                "Action": r.action,
                "Record": f"{r.entity_type} {r.entity_id or ''}".strip(),
                "Before": json.dumps(r.before, ensure_ascii=False) if r.before else "",
                "After": json.dumps(r.after, ensure_ascii=False) if r.after else "",
            }
            for r in found.rows
        ],
        columns=["When", "Who", "Action", "Record", "Before", "After"],
    )
    st.dataframe(table, hide_index=True, key="audit_table")
    download_buttons(table, name="recoup-audit", key="audit_download")
