"""The Workflows page's rules tab: contact rules per country, when a reminder becomes a call, and
limitation periods. Each form edits the setting as this session first read it, and saves against
that version: a save someone else made meanwhile is refused naming them, never overwritten."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session

from core import db
from core.errors import Conflict, RecoupError, ValidationError
from core.models import CONTACT_ROLES
from core.roles import Actor
from core.services import dunning_settings as rules
from core.services.dunning_settings import CountryRules, Escalation
from core.templates import AgencyInfo

COUNTRY, EARLIEST, LATEST, ZONE = "Country", "From", "Until", "Hours read in zone"
WAIVED, CONSENT = "Hours waived past days overdue", "Consent waives hours"
CALLS, AFTER_TALK, SMS, MESSAGES, ROLES = (
    "Calls per 7 days",
    "No call for days after a conversation",
    "SMS per day",
    "Messages per week",
    "Who may be contacted",
)
YEARS = "Years"
_NUMBERS = {
    WAIVED: "hours_waived_past_dpd",
    CALLS: "calls_per_7_days",
    AFTER_TALK: "days_after_conversation",
    SMS: "sms_per_day",
    MESSAGES: "messages_per_week",
}


def rules_tab(actor: Actor) -> None:
    st.caption(
        "The compliance guard's rules per country, with Recoup's shipped defaults (US Regulation F, the "
        "Philippines' SEC MC 18 and BSP 454, Singapore) where you change nothing. Hours are the debtor's local "
        "time unless a zone is given. An empty number means no limit. Add a row for any other country."
    )
    _contact_rules_form(actor)
    st.subheader("When a reminder becomes a call")
    _escalation_form(actor)
    st.subheader("Collection agency licence")
    st.caption(
        "When Recoup collects as a licensed agency (Singapore's Debt Collection Act 2022 requires a licence), "
        "letters are written under the agency's name with its licence, and templates may show `agency.name` and "
        "`agency.licence`. Leave empty when collecting your own debts."
    )
    _agency_form(actor)
    st.subheader("Limitation periods")
    st.caption("A legal demand never goes out on a debt older than this, counted from its oldest due date.")
    _limitation_form(actor)


def snapshot(key: str, read: Callable[[Session], Any]) -> Any:
    """What this session first read for a form, kept until it saves (or is refused)."""
    if key not in st.session_state:
        with db.transaction() as session:
            st.session_state[key] = read(session)
    return st.session_state[key]


def saved(key: str, save: Callable[[Session], None], message: str) -> None:
    try:
        with db.transaction() as session:
            save(session)
    except Conflict as error:  # shown over the setting as it now is
        st.session_state.pop(key, None)
        st.session_state["workflows_flash_error"] = str(error)
        st.rerun()
    except RecoupError as error:
        st.error(str(error))
    else:
        st.session_state.pop(key, None)
        st.session_state["workflows_flash"] = message
        st.rerun()


def contact_rules_frame(rows: list[CountryRules]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                COUNTRY: r.country,
                EARLIEST: r.rules.earliest.strftime("%H:%M"),
                LATEST: r.rules.latest.strftime("%H:%M"),
                ZONE: r.rules.fixed_zone or "",
                WAIVED: r.rules.hours_waived_past_dpd,
                CONSENT: r.rules.consent_waives_hours,
                CALLS: r.rules.calls_per_7_days,
                AFTER_TALK: r.rules.days_after_conversation,
                SMS: r.rules.sms_per_day,
                MESSAGES: r.rules.messages_per_week,
                ROLES: ", ".join(sorted(r.rules.allowed_roles)),
            }
            for r in rows
        ],
        columns=[COUNTRY, EARLIEST, LATEST, ZONE, WAIVED, CONSENT, CALLS, AFTER_TALK, SMS, MESSAGES, ROLES],
    )


def contact_rules_table(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The editor's rows as the setting spells them; the service checks every value."""
    table: dict[str, dict[str, Any]] = {}
    for number, row in enumerate(frame.to_dict("records"), start=1):
        country = _text(row.get(COUNTRY)).upper()
        if not country:
            raise ValidationError(f"Row {number}: give the country's two-letter code.")
        if country in table:
            raise ValidationError(f"{country} is listed twice.")
        table[country] = {
            "earliest": _text(row.get(EARLIEST)),
            "latest": _text(row.get(LATEST)),
            "fixed_zone": _text(row.get(ZONE)) or None,
            "consent_waives_hours": bool(row.get(CONSENT)) if not _empty(row.get(CONSENT)) else False,
            "allowed_roles": [r.strip().lower() for r in _text(row.get(ROLES)).split(",") if r.strip()],
        } | {key: _whole(row.get(column), country, column) for column, key in _NUMBERS.items()}
    return table


def _contact_rules_form(actor: Actor) -> None:
    key = "workflows_contact_rules_loaded"
    rows, version = snapshot(key, rules.contact_rules)
    with st.form(f"workflows_contact_rules_{version}"):
        frame = st.data_editor(
            contact_rules_frame(rows),
            num_rows="dynamic",
            hide_index=True,
            column_config={
                COUNTRY: st.column_config.TextColumn(required=True, max_chars=2, help="ISO code, e.g. PH."),
                EARLIEST: st.column_config.TextColumn(required=True, help="First allowed time, HH:MM."),
                LATEST: st.column_config.TextColumn(required=True, help="Contact stops at this time, HH:MM."),
                ZONE: st.column_config.TextColumn(help="e.g. Asia/Manila. Empty: the debtor's own zone."),
                WAIVED: st.column_config.NumberColumn(min_value=0, step=1),
                CONSENT: st.column_config.CheckboxColumn(default=False),
                CALLS: st.column_config.NumberColumn(min_value=1, step=1, help="Per person and debt."),
                AFTER_TALK: st.column_config.NumberColumn(min_value=1, step=1),
                SMS: st.column_config.NumberColumn(min_value=1, step=1),
                MESSAGES: st.column_config.NumberColumn(min_value=1, step=1, help="Email and SMS together."),
                ROLES: st.column_config.TextColumn(help=f"Any of: {', '.join(CONTACT_ROLES)}."),
            },
            key=f"workflows_contact_rules_editor_{version}",
        )
        save = st.form_submit_button("Save contact rules", key=f"workflows_contact_rules_save_{version}")
    if save:
        try:
            table = contact_rules_table(frame)
        except ValidationError as error:
            st.error(str(error))
            return
        saved(
            key,
            lambda session: rules.save_contact_rules(session, actor, table, version=version),
            "Contact rules saved: the next run follows them.",
        )


def _escalation_form(actor: Actor) -> None:
    key = "workflows_escalation_loaded"
    current, version = snapshot(key, rules.escalation)
    with st.form(f"workflows_escalation_{version}"):
        cols = st.columns(2)
        after = cols[0].number_input(
            "Reminders without a reply or payment before a call (0: never)",
            min_value=0,
            max_value=50,
            value=current.after,
            key=f"workflows_escalation_after_{version}",
        )
        above = cols[1].text_input(
            "Call instead above these balances",
            value="; ".join(f"{m.currency} {m.amount}" for m in current.above),
            placeholder="PHP 500000; USD 10000",
            key=f"workflows_escalation_above_{version}",
        )
        save = st.form_submit_button("Save", key=f"workflows_escalation_save_{version}")
    if save:
        try:
            new = Escalation(int(after), rules.parse_thresholds(above))
        except ValidationError as error:
            st.error(str(error))
            return
        saved(
            key,
            lambda session: rules.save_escalation(session, actor, new, version=version),
            "Escalation saved: the next run follows it.",
        )


def _agency_form(actor: Actor) -> None:
    key = "workflows_agency_loaded"
    current, version = snapshot(key, rules.agency)
    with st.form(f"workflows_agency_{version}"):
        cols = st.columns([2, 1, 2])
        name = cols[0].text_input(
            "Agency name", current.name if current else "", key=f"workflows_agency_name_{version}"
        )
        number = cols[1].text_input(
            "Licence no.", current.licence_number if current else "", key=f"workflows_agency_number_{version}"
        )
        authority = cols[2].text_input(
            "Issued by",
            current.licence_authority if current else "",
            placeholder="e.g. Singapore Police Force",
            key=f"workflows_agency_authority_{version}",
        )
        save = st.form_submit_button("Save", key=f"workflows_agency_save_{version}")
    if save:
        new = AgencyInfo(name, number, authority) if (name.strip() or number.strip()) else None
        saved(
            key,
            lambda session: rules.save_agency(session, actor, new, version=version),
            "Agency licence saved." if new else "Not collecting as an agency.",
        )


def _limitation_form(actor: Actor) -> None:
    key = "workflows_limitation_loaded"
    years, version = snapshot(key, rules.limitation_periods)
    with st.form(f"workflows_limitation_{version}"):
        frame = st.data_editor(
            pd.DataFrame([{COUNTRY: c, YEARS: y} for c, y in years.items()], columns=[COUNTRY, YEARS]),
            num_rows="dynamic",
            hide_index=True,
            column_config={
                COUNTRY: st.column_config.TextColumn(required=True, max_chars=2),
                YEARS: st.column_config.NumberColumn(required=True, min_value=1, max_value=50, step=1),
            },
            key=f"workflows_limitation_editor_{version}",
        )
        save = st.form_submit_button("Save limitation periods", key=f"workflows_limitation_save_{version}")
    if save:
        try:
            table = {_text(r[COUNTRY]).upper(): _whole(r[YEARS], _text(r[COUNTRY]), YEARS) for r in _records(frame)}
            if any(v is None for v in table.values()):
                raise ValidationError("Give every country its limitation period in years.")
        except ValidationError as error:
            st.error(str(error))
            return
        saved(
            key,
            lambda session: rules.save_limitation_periods(
                session, actor, {c: int(v) for c, v in table.items() if v is not None}, version=version
            ),
            "Limitation periods saved.",
        )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [r for r in frame.to_dict("records") if not all(_empty(v) for v in r.values())]


def _empty(cell: Any) -> bool:
    return cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell == ""


def _text(cell: Any) -> str:
    return "" if _empty(cell) else str(cell).strip()


def _whole(cell: Any, country: str, column: str) -> int | None:
    if _empty(cell):
        return None
    number = float(cell)
    if not number.is_integer():
        raise ValidationError(f"{column} for {country} must be a whole number, not {cell}.")
    return int(number)
