"""The Workflows page's tables: a sequence's steps, the new-sequence step editor and its rows turned
into steps, the assignment rules and the send ledger's lines."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.errors import ValidationError
from core.models import DUNNING_CHANNELS, DUNNING_STAGES, STEP_MODES
from core.services.dunning import NewStep
from core.services.send_review import SendLine
from core.services.workflows import RuleView, SequenceView, StepView
from ui import fmt

OFFSET, CHANNEL, STAGE, MODE = "Offset days", "Channel", "Stage", "Mode"
BUSINESS_DAYS, ATTACH, TEMPLATE = "Business days", "Attach invoices", "Template key"
MIN_OVERDUE, SEGMENTS, COUNTRIES, RISKS = "Min overdue", "Segments", "Countries", "Risk tiers"
STEP_ID = "Step"  # which existing step a row is (empty: a new one); not editable
# A new sequence starts as the usual three: a reminder, a firmer one, then a call.
NEW_STEPS = [
    {OFFSET: offset, CHANNEL: channel, STAGE: stage, MODE: "auto", BUSINESS_DAYS: False, ATTACH: attach, TEMPLATE: ""}
    | {MIN_OVERDUE: "", SEGMENTS: "", COUNTRIES: "", RISKS: ""}
    for offset, channel, stage, attach in (
        (3, "email", "reminder", False),
        (15, "email", "firm", True),
        (30, "call", "final_notice", False),
    )
]


def conditions_text(conditions: dict[str, Any]) -> str:
    parts = [f"min overdue {c} {amount}" for c, amount in conditions.get("min_overdue", {}).items()]
    for key, label in (("segments", "segment"), ("countries", "country"), ("risk_tiers", "risk")):
        if conditions.get(key):
            parts.append(f"{label} {' or '.join(map(str, conditions[key]))}")
    return "; ".join(parts) or "—"


def _settings(step: StepView) -> dict[str, Any]:
    """The columns a step shows and edits alike."""
    return {
        OFFSET: step.offset_days,
        CHANNEL: step.channel,
        STAGE: step.stage,
        MODE: step.mode,
        BUSINESS_DAYS: step.business_days,
        ATTACH: step.attach_invoices,
        TEMPLATE: step.template_key,
    }


def steps_frame(sequence: SequenceView) -> pd.DataFrame:
    return pd.DataFrame(
        [{"#": s.position, **_settings(s), "Conditions": conditions_text(s.conditions)} for s in sequence.steps]
    )


def editable_steps(sequence: SequenceView) -> pd.DataFrame:
    """A sequence's steps as the editor's rows, conditions spelled out one column each."""
    return pd.DataFrame(
        [
            {
                STEP_ID: s.step_id,
                **_settings(s),
                MIN_OVERDUE: "; ".join(f"{c} {a}" for c, a in (s.conditions.get("min_overdue") or {}).items()),
                SEGMENTS: ", ".join(s.conditions.get("segments") or []),
                COUNTRIES: ", ".join(s.conditions.get("countries") or []),
                RISKS: ", ".join(s.conditions.get("risk_tiers") or []),
            }
            for s in sequence.steps
        ]
    )


def step_editor_columns() -> dict[str, Any]:
    return {
        STEP_ID: st.column_config.NumberColumn(disabled=True, help="The step this row is; empty: a new step."),
        OFFSET: st.column_config.NumberColumn(
            required=True, step=1, help="Days from the oldest open due date; negative: before it is due."
        ),
        CHANNEL: st.column_config.SelectboxColumn(options=DUNNING_CHANNELS, required=True),
        STAGE: st.column_config.SelectboxColumn(options=DUNNING_STAGES, required=True),
        MODE: st.column_config.SelectboxColumn(
            options=STEP_MODES, required=True, default="auto", help="approval: the batch prepares a draft to approve."
        ),
        BUSINESS_DAYS: st.column_config.CheckboxColumn(default=False),
        ATTACH: st.column_config.CheckboxColumn(default=False),
        TEMPLATE: st.column_config.TextColumn(help="Empty: the stage's template."),
        MIN_OVERDUE: st.column_config.TextColumn(
            help="Only when at least this much is overdue, per currency: e.g. PHP 5000; USD 100. Empty: any."
        ),
        SEGMENTS: st.column_config.TextColumn(help="Only these segments, comma-separated. Empty: any."),
        COUNTRIES: st.column_config.TextColumn(help="Only these countries (ISO codes, e.g. PH, SG). Empty: any."),
        RISKS: st.column_config.TextColumn(help="Only these risk tiers, e.g. high, medium. Empty: any."),
    }


def new_steps(frame: pd.DataFrame) -> list[NewStep]:
    """The editor's rows as steps; the service checks channel, stage and mode."""
    steps = []
    for row in frame.to_dict("records"):
        if pd.isna(row[OFFSET]):
            raise ValidationError("Give every step its offset in days.")
        steps.append(
            NewStep(
                offset_days=int(row[OFFSET]),
                channel=str(row[CHANNEL] or ""),
                stage=str(row[STAGE] or ""),
                mode=str(row[MODE] or "auto"),
                business_days=_ticked(row[BUSINESS_DAYS]),
                attach_invoices=_ticked(row[ATTACH]),
                template_key=str(row[TEMPLATE] or "").strip(),
                conditions=_conditions(row, len(steps) + 1),
                step_id=None if pd.isna(row.get(STEP_ID)) else int(row[STEP_ID]),
            )
        )
    return steps


def _conditions(row: dict[str, Any], number: int) -> dict[str, Any]:
    """The condition columns as the step's conditions: "PHP 5000; USD 100" and comma lists."""
    conditions: dict[str, Any] = {}
    minimums = {}
    for part in _text(row.get(MIN_OVERDUE)).replace(",", ";").split(";"):
        if not part.strip():
            continue
        words = part.split()
        if len(words) != 2 or len(words[0]) != 3 or not words[0].isalpha():
            raise ValidationError(f"Step {number}: write a minimum overdue as a currency and an amount, e.g. PHP 5000.")
        minimums[words[0].upper()] = words[1]
    if minimums:
        conditions["min_overdue"] = minimums
    for column, key, upper in (
        (SEGMENTS, "segments", False),
        (COUNTRIES, "countries", True),
        (RISKS, "risk_tiers", False),
    ):
        names = [n.strip().upper() if upper else n.strip() for n in _text(row.get(column)).split(",") if n.strip()]
        if names:
            conditions[key] = names
    return conditions


def _text(cell: Any) -> str:
    return "" if cell is None or (not isinstance(cell, str) and pd.isna(cell)) else str(cell)


def _ticked(cell: Any) -> bool:
    return False if pd.isna(cell) else bool(cell)  # a row added without touching the box: empty, not ticked


def rules_frame(rules: list[RuleView]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"Order": r.position, "Segment": r.segment or "any", "Country": r.country or "any", "Sequence": r.sequence}
            for r in rules
        ]
    )


def sends_frame(lines: list[SendLine]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Send": s.send_id,
                "Customer": s.customer,
                STAGE: s.stage,
                CHANNEL: s.channel,
                "Currency": s.currency,
                "Reasons": "; ".join(s.reasons),
                "Attempts": s.attempts,
                "Next try": fmt.when(s.next_attempt_at),
                "Updated": fmt.when(s.updated_at),
            }
            for s in lines
        ],
        columns=["Send", "Customer", STAGE, CHANNEL, "Currency", "Reasons", "Attempts", "Next try", "Updated"],
    )
