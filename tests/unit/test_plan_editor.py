"""The plans page's edit state turned into grid edits: positions mapped to ids and versions, raw
cell values parsed without floats, deleted rows never also edited, added rows after the loaded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.errors import ValidationError
from core.services.plan_grid import CellError, Grid, InstalmentEdit, InstalmentRow, PlanEdit, PlanRow
from ui.plan_editor import edits, problems_frame

DAY = date(2026, 3, 1)


def plan(plan_id: int, version: int) -> PlanRow:
    return PlanRow(
        plan_id, 10 + plan_id, f"Debtor {plan_id}", None, "PHP", "current", Decimal("600.00"), Decimal(0),
        Decimal("600.00"), DAY, version, "manager", "created",
    )  # fmt: skip


def instalment(instalment_id: int, plan_id: int, day: int) -> InstalmentRow:
    return InstalmentRow(
        instalment_id, plan_id, f"Debtor {plan_id}", "PHP", date(2026, 3, day), Decimal("300.00"), Decimal(0), "due",
        False,
    )  # fmt: skip


GRID = Grid(
    plans=(plan(7, 3), plan(5, 1)),
    instalments=(instalment(70, 7, 1), instalment(71, 7, 15), instalment(50, 5, 2), instalment(51, 5, 20)),
    as_of=DAY,
)
UNTOUCHED = {"edited_rows": {}, "added_rows": [], "deleted_rows": []}


def test_no_edits_give_nothing_to_save():
    assert edits(GRID, UNTOUCHED, UNTOUCHED) == ([], [])


def test_positions_become_ids_and_every_touched_plan_carries_its_loaded_version():
    plan_state = {"edited_rows": {1: {"Status": "broken", "Total": 650.1}}, "added_rows": [], "deleted_rows": []}
    instalment_state = {
        "edited_rows": {1: {"Due": "2026-04-01T00:00:00.000", "Amount": 299.99}},
        "added_rows": [{"Plan": 5, "Due": "2026-05-01", "Amount": 50}],
        "deleted_rows": [],
    }

    plan_edits, instalment_edits = edits(GRID, plan_state, instalment_state)

    assert plan_edits == [
        PlanEdit(5, 1, status="broken", total=Decimal("650.1")),
        PlanEdit(7, 3),
    ]
    assert instalment_edits == [
        InstalmentEdit(7, 1, 71, due_on=date(2026, 4, 1), amount=Decimal("299.99")),
        InstalmentEdit(5, 4, None, due_on=date(2026, 5, 1), amount=Decimal("50")),
    ]


def test_a_deleted_row_is_only_deleted_even_if_it_was_edited_first():
    state = {"edited_rows": {2: {"Amount": 10}}, "added_rows": [], "deleted_rows": [2]}

    plan_edits, instalment_edits = edits(GRID, UNTOUCHED, state)

    assert plan_edits == [PlanEdit(5, 1)]
    assert instalment_edits == [InstalmentEdit(5, 2, 50, delete=True)]


def test_an_added_row_without_a_plan_is_refused_before_saving():
    state = {"edited_rows": {}, "added_rows": [{"Due": "2026-05-01", "Amount": 50}], "deleted_rows": []}

    with pytest.raises(ValidationError, match="New instalment row 1: choose the plan"):
        edits(GRID, UNTOUCHED, state)


def test_problems_name_the_row_as_the_user_sees_it():
    errors = [
        CellError(7, 1, "due_on", "before the plan's start"),
        CellError(5, 5, "amount", "must be more than zero"),
        CellError(5, None, "total", "the instalments add up to less"),
    ]

    table = problems_frame(GRID, errors)

    assert table.values.tolist() == [
        ["#7", "row 2 (due 15 Mar 2026)", "Due", "before the plan's start"],
        ["#5", "new row 2", "Amount", "must be more than zero"],
        ["#5", "the plan", "Total", "the instalments add up to less"],
    ]
