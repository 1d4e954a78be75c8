"""The manager's part of the work queue page: the priority weights and the assignment rules."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import streamlit as st

from core import db
from core.aging import BUCKETS
from core.errors import RecoupError
from core.roles import Actor
from core.services import assignment, queue, settings

_REASONS = {
    "broken_promise": "Broken promise",
    "promise_due_today": "Promise due today",
    "missed_instalment": "Each missed instalment",
    "balance_top_5_percent": "Balance in the top 5%",
    "balance_top_20_percent": "Balance in the top 20%",
    "never_contacted": "Never contacted",
    "contacted_yesterday": "Contacted today or yesterday",
    "contacted_this_week": "Contacted 2–7 days ago",
}


def settings_panel(actor: Actor) -> None:
    with st.expander("Queue settings: priority weights and assignment rules"):
        _weights(actor)
        st.divider()
        _rules(actor)


def _weights(actor: Actor) -> None:
    with db.transaction() as session:
        current = settings.weights_as_dict(settings.get_weights(session))
        version = settings.weights_version(session)
    st.markdown("**Priority weights** (points each reason adds; negative lowers an account)")
    with st.form("queue_weights_form"):
        values: dict[str, object] = {}
        cols = st.columns(4)
        for n, (key, label) in enumerate(_REASONS.items()):
            values[key] = cols[n % 4].number_input(
                label, value=int(current[key]), step=1, min_value=-1000, max_value=1000, key=f"weight_{key}"
            )
        cols = st.columns(len(BUCKETS))
        values["bucket"] = {
            bucket: cols[n].number_input(
                f"{bucket} days",
                value=int(current["bucket"][bucket]),
                step=1,
                min_value=-1000,
                max_value=1000,
                key=f"weight_bucket_{bucket}",
            )
            for n, bucket in enumerate(BUCKETS)
        }
        cols = st.columns(3)
        values["risk"] = {
            tier: cols[n].number_input(
                f"{tier.title()} risk",
                value=int(current["risk"][tier]),
                step=1,
                min_value=-1000,
                max_value=1000,
                key=f"weight_risk_{tier}",
            )
            for n, tier in enumerate(current["risk"])
        }
        if st.form_submit_button("Save weights", key="weights_save"):
            try:
                with db.transaction() as session:
                    settings.save_weights(session, actor, settings.weights_from_dict(values), version=version)
                st.session_state["queue_flash"] = "Weights saved: the queue is ranked with them now."
                st.rerun()
            except RecoupError as error:
                st.error(str(error))


def _rules(actor: Actor) -> None:
    with db.transaction() as session:
        rules = assignment.list_rules(session, actor)
        choices = queue.queue_choices(session, actor)
    st.markdown("**Assignment rules** — new accounts go to the first rule that matches them.")
    if rules:
        for rule in rules:
            cols = st.columns([6, 1])
            cols[0].write(f"{rule.position}. {rule.describe()} → **{rule.collector}**")
            if cols[1].button("Delete", key=f"rule_delete_{rule.id}"):
                try:
                    with db.transaction() as session:
                        assignment.delete_rule(session, actor, rule.id)
                    st.rerun()
                except RecoupError as error:
                    st.error(str(error))
    else:
        st.caption("No rules yet: new accounts stay unassigned until someone assigns them.")
    names = dict(choices.collectors)
    with st.form("rule_add_form"):
        cols = st.columns(6)
        collector = cols[0].selectbox("Collector", list(names), format_func=names.get, key="rule_collector")
        segment = cols[1].selectbox("Segment", ["", *choices.segments], key="rule_segment")
        country = cols[2].text_input("Country", max_chars=2, key="rule_country", placeholder="any")
        currency = cols[3].text_input("Currency", max_chars=3, key="rule_currency", placeholder="any")
        low = cols[4].text_input("Balance from", key="rule_min", placeholder="any")
        high = cols[5].text_input("Balance up to", key="rule_max", placeholder="any")
        if st.form_submit_button("Add rule", key="rule_add"):
            try:
                new = assignment.NewRule(
                    collector_id=collector,
                    segment=segment or None,
                    country=country or None,
                    currency=currency or None,
                    min_balance=_amount(low, "Balance from"),
                    max_balance=_amount(high, "Balance up to"),
                )
                with db.transaction() as session:
                    assignment.add_rule(session, actor, new)
                st.rerun()
            except RecoupError as error:
                st.error(str(error))
    if rules and st.button("Assign unassigned accounts by these rules", key="rules_apply"):
        with db.transaction() as session:
            done = assignment.assign_by_rules(session, actor)
        st.session_state["queue_flash"] = f"{done} unassigned account{'s' if done != 1 else ''} assigned by the rules."
        st.rerun()


def _amount(raw: str, label: str) -> Decimal | None:
    text = raw.strip().replace(",", "")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        from core.errors import ValidationError

        raise ValidationError(f"{label}: {raw!r} is not an amount such as 50000 or 50,000.00.") from None
