"""The Workflows page's Portal tab: how long debtors' links last, the second factor, what a debtor
may promise or ask for, and how to pay by transfer in each currency. Saved against the version
this session first read, like every setting."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.roles import Actor
from core.services import portal_settings as chosen
from core.services.portal_settings import SECOND_FACTORS, PortalSettings
from ui.dunning_settings import saved, snapshot

FACTOR_LABELS = {
    "none": "None: the link alone opens the account",
    "phone_last4": "Last 4 digits of a phone on file",
    "postal_code": "The customer's postal code (customers without one cannot open the portal)",
}


def portal_tab(actor: Actor) -> None:
    st.caption(
        "The debtor portal (make portal) opens with a link made on the account page or in a reminder "
        "({{ portal_link }}). These settings apply to every link, including ones already sent."
    )
    key = "workflows_portal_loaded"
    current, version = snapshot(
        key, lambda session: (chosen.portal_settings(session), chosen.portal_settings_version(session))
    )
    with st.form(f"workflows_portal_{version}"):
        cols = st.columns(3)
        link_days = cols[0].number_input("Links last (days)", 1, 365, current.link_days, key=f"portal_days_{version}")
        promise_days = cols[1].number_input(
            "A promise is due within (days)", 1, 180, current.promise_max_days, key=f"portal_promise_{version}"
        )
        instalments = cols[2].number_input(
            "Monthly payments a debtor may ask for, at most",
            2,
            60,
            current.plan_max_instalments,
            key=f"portal_plan_{version}",
        )
        factor = st.radio(
            "Before showing anything, ask for",
            SECOND_FACTORS,
            index=SECOND_FACTORS.index(current.second_factor),
            format_func=FACTOR_LABELS.get,
            key=f"portal_factor_{version}",
        )
        st.markdown("**How to pay by transfer**, per currency (shown on the portal and in reminders)")
        table = st.data_editor(
            pd.DataFrame(
                [{"Currency": code, "Instructions": text} for code, text in current.instructions.items()],
                columns=["Currency", "Instructions"],
            ),
            num_rows="dynamic",
            hide_index=True,
            column_config={
                "Currency": st.column_config.TextColumn(required=True, max_chars=3),
                "Instructions": st.column_config.TextColumn(required=True, max_chars=2000, width="large"),
            },
            key=f"portal_instructions_{version}",
        )
        save = st.form_submit_button("Save", key=f"portal_save_{version}")
    if save:
        rows = table.dropna(how="all").to_dict("records")
        new = PortalSettings(
            link_days=int(link_days),
            second_factor=str(factor),
            promise_max_days=int(promise_days),
            plan_max_instalments=int(instalments),
            instructions={str(r["Currency"]).strip().upper(): str(r["Instructions"]).strip() for r in rows},
        )
        saved(
            key,
            lambda session: chosen.save_portal_settings(session, actor, new, version=version),
            "Portal settings saved.",
        )
