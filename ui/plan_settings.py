"""The payment-plan rules a manager may change: when a plan is broken, the plan fee, and whether
collectors may propose plans."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import streamlit as st

from core import db
from core.errors import RecoupError, ValidationError
from core.roles import Actor
from core.services import plan_status
from core.services.plan_status import PlanSettings


def plan_settings_form(actor: Actor) -> None:
    with db.transaction() as session:
        current = plan_status.plan_settings(session)
        version = plan_status.plan_settings_version(session)
    with st.form("plan_settings_form"):
        cols = st.columns(2)
        missed = cols[0].number_input(
            "Broken after this many missed instalments",
            min_value=1,
            max_value=24,
            value=current.broken_after_missed,
            key="plan_settings_missed",
        )
        days = cols[1].number_input(
            "…or after one instalment is this many days late",
            min_value=1,
            max_value=365,
            value=current.broken_after_days_late,
            key="plan_settings_days",
        )
        fee = cols[0].text_input(
            "Plan fee, % of the amount owed", value=str(current.fee_percent), key="plan_settings_fee"
        )
        propose = cols[1].checkbox(
            "Collectors may propose plans for approval",
            value=current.collectors_may_propose,
            key="plan_settings_propose",
        )
        submitted = st.form_submit_button("Save plan settings", key="plan_settings_submit")
    if not submitted:
        return
    try:
        try:
            percent = Decimal(fee.strip() or "0")
        except InvalidOperation:
            raise ValidationError(f"{fee!r} is not a percentage such as 0, 2 or 2.5.") from None
        new = PlanSettings(int(missed), int(days), percent, bool(propose))
        with db.transaction() as session:
            plan_status.save_plan_settings(session, actor, new, version=version)
    except RecoupError as error:
        st.error(str(error))
        return
    st.success("Plan settings saved.")
