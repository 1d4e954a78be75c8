"""The plans page's two grids: the loaded plans and instalments as tables and column settings for
st.data_editor, and the editors' edit state (row positions, raw cell values) turned back into
the grid service's edits, each keyed by the id the loaded grid holds at that position."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd
import streamlit as st

from core.errors import ValidationError
from core.money import Money
from core.services.plan_grid import GRID_STATUSES, SETTABLE_STATUSES, CellError, Grid, InstalmentEdit, PlanEdit
from ui import fmt

# Column labels are also the keys of the editors' edit state.
PLAN = "Plan"
STATUS = "Status"
TOTAL = "Total"
DUE = "Due"
AMOUNT = "Amount"
COLUMN_LABELS = {"status": STATUS, "total": TOTAL, "due_on": DUE, "amount": AMOUNT, "plan": PLAN}


def status_options(grid: Grid) -> list[str]:
    """What the status column offers: the statuses a manager may set, and every status shown."""
    shown = {plan.status for plan in grid.plans}
    return [s for s in GRID_STATUSES if s in SETTABLE_STATUSES or s in shown]


def plan_columns(grid: Grid) -> dict[str, Any]:
    """How the plans table shows its columns; in the editor only status and total are editable."""
    return {
        PLAN: st.column_config.NumberColumn(format="#%d"),
        STATUS: st.column_config.SelectboxColumn(options=status_options(grid), required=True),
        TOTAL: st.column_config.NumberColumn(format="localized", help="The instalments must add up to it."),
        "Starts": st.column_config.DateColumn(format="DD MMM YYYY"),
    }


def instalment_columns(grid: Grid) -> dict[str, Any]:
    """A new row picks its plan among the loaded ones (the only one, by default)."""
    plan_ids = [plan.plan_id for plan in grid.plans]
    return {
        PLAN: st.column_config.SelectboxColumn(
            options=plan_ids,
            format_func=lambda plan_id: f"#{plan_id}",
            required=True,
            default=plan_ids[0] if len(plan_ids) == 1 else None,
        ),
        DUE: st.column_config.DateColumn(format="DD MMM YYYY", required=True),
        AMOUNT: st.column_config.NumberColumn(format="localized", required=True),
    }


def plans_frame(grid: Grid) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                PLAN: p.plan_id,
                "Customer": p.customer,
                "Collector": p.collector or "unassigned",
                "Currency": p.currency,
                STATUS: p.status,
                TOTAL: Money(p.total, p.currency).amount,
                "Paid": fmt.money(Money(p.paid, p.currency)),
                "Scheduled": fmt.money(Money(p.scheduled, p.currency)),
                "Starts": p.starts_on,
                "Last change": f"{p.updated_by}: {p.last_change}",
            }
            for p in grid.plans
        ],
        columns=[
            PLAN,
            "Customer",
            "Collector",
            "Currency",
            STATUS,
            TOTAL,
            "Paid",
            "Scheduled",
            "Starts",
            "Last change",
        ],
    )


def instalments_frame(grid: Grid) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                PLAN: i.plan_id,
                DUE: i.due_on,
                AMOUNT: Money(i.amount, i.currency).amount,
                "Paid": fmt.money(Money(i.paid, i.currency)),
                "State": i.state + (" (down payment)" if i.down_payment else ""),
                "Customer": i.customer,
                "Currency": i.currency,
            }
            for i in grid.instalments
        ],
        columns=[PLAN, DUE, AMOUNT, "Paid", "State", "Customer", "Currency"],
    )


def _amount(value: Any) -> Decimal | None:
    """The editor sends numbers as JSON floats; their shortest repr is what the user typed."""
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(f"{value!r} is not an amount.") from None


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(str(value)[:10])  # "2025-03-01" or "2025-03-01T00:00:00.000"
    except ValueError:
        raise ValidationError(f"{value!r} is not a date.") from None


def edits(
    grid: Grid, plan_state: Mapping[str, Any], instalment_state: Mapping[str, Any]
) -> tuple[list[PlanEdit], list[InstalmentEdit]]:
    """The editors' edit state as the grid service's edits: every plan touched gets a PlanEdit
    with the version the grid loaded; an instalment edit's row is its position in the grid
    (added rows come after the loaded ones), so errors point back at it."""
    plan_changes: dict[int, dict[str, Any]] = {}
    for position, cells in plan_state.get("edited_rows", {}).items():
        changes = plan_changes.setdefault(grid.plans[int(position)].plan_id, {})
        if STATUS in cells and cells[STATUS] is not None:
            changes["status"] = str(cells[STATUS])
        if TOTAL in cells and cells[TOTAL] is not None:
            changes["total"] = _amount(cells[TOTAL])

    instalment_edits: list[InstalmentEdit] = []
    deleted = {int(position) for position in instalment_state.get("deleted_rows", [])}
    for position in sorted(deleted):
        row = grid.instalments[position]
        instalment_edits.append(InstalmentEdit(row.plan_id, position, row.instalment_id, delete=True))
    for position, cells in sorted(instalment_state.get("edited_rows", {}).items()):
        if int(position) in deleted:
            continue
        row = grid.instalments[int(position)]
        instalment_edits.append(
            InstalmentEdit(
                int(cells.get(PLAN) or row.plan_id),
                int(position),
                row.instalment_id,
                due_on=_date(cells.get(DUE)),
                amount=_amount(cells.get(AMOUNT)),
            )
        )
    for number, cells in enumerate(instalment_state.get("added_rows", [])):
        if cells.get(PLAN) is None:
            raise ValidationError(f"New instalment row {number + 1}: choose the plan it belongs to.")
        instalment_edits.append(
            InstalmentEdit(
                int(cells[PLAN]),
                len(grid.instalments) + number,
                None,
                due_on=_date(cells.get(DUE)),
                amount=_amount(cells.get(AMOUNT)),
            )
        )

    versions = {plan.plan_id: plan.version for plan in grid.plans}
    touched = sorted(set(plan_changes) | {edit.plan_id for edit in instalment_edits})
    if missing := [plan_id for plan_id in touched if plan_id not in versions]:
        raise ValidationError(f"Plan #{missing[0]} is not in the grid: reload it.")
    plan_edits = [PlanEdit(plan_id, versions[plan_id], **plan_changes.get(plan_id, {})) for plan_id in touched]
    return plan_edits, instalment_edits


def problems_frame(grid: Grid, errors: Sequence[CellError]) -> pd.DataFrame:
    """One line per refused cell: the plan, the instalment row as the user sees it, the column."""

    def row_label(position: int | None) -> str:
        if position is None:
            return "the plan"
        if position < len(grid.instalments):
            row = grid.instalments[position]
            return f"row {position + 1} (due {row.due_on:%d %b %Y})"
        return f"new row {position - len(grid.instalments) + 1}"

    return pd.DataFrame(
        [
            {
                "Plan": f"#{e.plan_id}",
                "Row": row_label(e.row),
                "Column": COLUMN_LABELS.get(e.column, e.column),
                "Problem": e.message,
            }
            for e in errors
        ],
        columns=["Plan", "Row", "Column", "Problem"],
    )
