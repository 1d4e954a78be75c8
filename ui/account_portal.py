"""The account page's Debtor portal panel: a link to send the debtor, and, for managers, revoking
every link made so far."""

from __future__ import annotations

import streamlit as st

from core import db
from core.errors import RecoupError
from core.roles import Actor
from core.services import portal
from core.services.accounts import AccountView


def portal_panel(actor: Actor, view: AccountView, *, may_manage: bool) -> None:
    st.caption(
        "A link opens this account on the debtor portal: what is owed, payments, the plan and the messages sent; "
        "the debtor can promise to pay, dispute, ask for a plan, change how we contact them and pay online. "
        "Links expire (Workflows → Portal) and revoking closes every link made so far."
    )
    cols = st.columns(2)
    if cols[0].button("Make a portal link", key="account_portal_link"):
        try:
            with db.transaction() as session:
                st.session_state["account_portal_url"] = (
                    view.customer_id,
                    portal.portal_link(session, actor, view.customer_id),
                )
        except RecoupError as error:
            st.error(str(error))
    made = st.session_state.get("account_portal_url")
    if made and made[0] == view.customer_id:
        st.code(made[1], language=None)  # the code block's copy button copies the link
        st.caption("Copy the link and send it to the debtor. It shows this account only.")
    if may_manage and cols[1].button("Revoke every link", key="account_portal_revoke"):
        try:
            with db.transaction() as session:
                portal.revoke_links(session, actor, view.customer_id)
        except RecoupError as error:
            st.error(str(error))
        else:
            st.session_state.pop("account_portal_url", None)
            st.success("Every portal link made so far is closed. New links work.")
