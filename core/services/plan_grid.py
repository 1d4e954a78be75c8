"""The managers' plan grid: load plans and their instalments as rows, and save a batch of edits
all or nothing — every change validated first, and a plan someone else changed since the grid
was loaded (an edit or a payment) refused with who changed what, never overwritten."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, ValidationError
from core.models import Customer, PaymentPlan, PlanInstalment, User
from core.money import InvalidAmount, Money
from core.roles import Actor, Permission
from core.services import audit
from core.services.activities import NewActivity, add_to_timeline
from core.services.plan_status import instalment_states
from core.services.summaries import refresh_accounts

# What a manager may set the status to by hand: running again (payments then decide current,
# late or completed), broken, or cancelled. Proposals are approved on their own.
SETTABLE_STATUSES = ("current", "broken", "cancelled")
_STORED = Decimal("0.0001")  # amounts as the database keeps them, so before and after read alike
GRID_STATUSES = ("current", "late", "broken", "completed", "cancelled", "proposed")


@dataclass(frozen=True)
class GridFilter:
    statuses: tuple[str, ...] = ("current", "late", "broken")
    collector_id: int | None = None
    currency: str | None = None
    due_this_week: bool = False  # only plans with an instalment due in the next 7 days


@dataclass(frozen=True)
class PlanRow:
    plan_id: int
    customer_id: int
    customer: str
    collector: str | None
    currency: str
    status: str
    total: Decimal
    paid: Decimal
    scheduled: Decimal  # what the instalments add up to
    starts_on: date
    version: int
    updated_by: str
    last_change: str


@dataclass(frozen=True)
class InstalmentRow:
    instalment_id: int
    plan_id: int
    customer: str
    currency: str
    due_on: date
    amount: Decimal
    paid: Decimal
    state: str
    down_payment: bool


@dataclass(frozen=True)
class Grid:
    plans: tuple[PlanRow, ...]
    instalments: tuple[InstalmentRow, ...]
    as_of: date


def load_grid(session: Session, actor: Actor, grid_filter: GridFilter, *, as_of: date, limit: int = 500) -> Grid:
    """Plans matching the filter (newest first) and their instalments in date order."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "plan.grid", "payment_plan")
    query = (
        select(PaymentPlan, Customer.name, Customer.external_ref, User.name)
        .join(Customer, Customer.id == PaymentPlan.customer_id)
        .outerjoin(User, User.id == Customer.collector_id)
        .order_by(PaymentPlan.id.desc())
        .limit(limit)
    )
    if grid_filter.statuses:
        query = query.where(PaymentPlan.status.in_(grid_filter.statuses))
    if grid_filter.collector_id is not None:
        query = query.where(Customer.collector_id == grid_filter.collector_id)
    if grid_filter.currency:
        query = query.where(PaymentPlan.currency == grid_filter.currency)
    if grid_filter.due_this_week:
        due = select(PlanInstalment.id).where(
            PlanInstalment.plan_id == PaymentPlan.id,
            PlanInstalment.due_on >= as_of,
            PlanInstalment.due_on < as_of + timedelta(days=7),
        )
        query = query.where(due.exists())
    if (mine := actor.assigned_only) is not None:
        query = query.where(Customer.collector_id == mine)
    plans: list[PlanRow] = []
    instalments: list[InstalmentRow] = []
    for plan, name, ref, collector in session.execute(query):
        label = f"{name} ({ref})"
        rows = list(
            session.scalars(
                select(PlanInstalment)
                .where(PlanInstalment.plan_id == plan.id)
                .order_by(PlanInstalment.due_on, PlanInstalment.id)
            )
        )
        states = instalment_states(session, plan)
        for row, state in zip(rows, states, strict=True):
            instalments.append(
                InstalmentRow(
                    row.id,
                    plan.id,
                    label,
                    plan.currency,
                    row.due_on,
                    row.amount,
                    state.paid.amount,
                    state.state(as_of),
                    row.down_payment,
                )
            )
        plans.append(
            PlanRow(
                plan.id,
                plan.customer_id,
                label,
                collector,
                plan.currency,
                plan.status,
                plan.total,
                plan.paid_amount,
                sum((r.amount for r in rows), Decimal(0)),
                plan.starts_on,
                plan.version,
                plan.updated_by,
                plan.last_change,
            )
        )
    return Grid(tuple(plans), tuple(instalments), as_of)


@dataclass(frozen=True)
class PlanEdit:
    """A plan row as the manager left it. version is what the grid loaded."""

    plan_id: int
    version: int
    status: str | None = None
    total: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True)
class InstalmentEdit:
    """An instalment row changed, added (instalment_id None) or deleted. row is its position in
    the grid, so an error can point at it."""

    plan_id: int
    row: int
    instalment_id: int | None = None
    due_on: date | None = None
    amount: Decimal | None = None
    delete: bool = False


@dataclass(frozen=True)
class CellError:
    plan_id: int
    row: int | None  # the instalment row in the grid; None: the plan itself
    column: str
    message: str


class GridInvalid(ValidationError):
    """Some edits break a rule: nothing was saved; errors name each cell."""

    def __init__(self, errors: Sequence[CellError]) -> None:
        self.errors = tuple(errors)
        lines = "; ".join(
            f"plan #{e.plan_id}{f' row {e.row}' if e.row is not None else ''} ({e.column}): {e.message}" for e in errors
        )
        super().__init__(f"Nothing was saved: {lines}")


class GridConflict(Conflict):
    """Someone changed plans since the grid was loaded: nothing was saved."""

    def __init__(self, plan_ids: Sequence[int], message: str) -> None:
        self.plan_ids = tuple(plan_ids)
        super().__init__(message)


@dataclass
class _Draft:
    plan: PaymentPlan
    rows: dict[int, PlanInstalment]
    changes: list[str] = field(default_factory=list)


def save_grid(
    session: Session, actor: Actor, plan_edits: Sequence[PlanEdit], instalment_edits: Sequence[InstalmentEdit]
) -> list[int]:
    """Save every edit or none. Returns the plans changed."""
    audit.require(actor, Permission.MANAGE_ACCOUNTS, "plan.grid_save", "payment_plan")
    loaded = {edit.plan_id: edit.version for edit in plan_edits}
    touched = sorted(set(loaded) | {edit.plan_id for edit in instalment_edits})
    if missing := [p for p in touched if p not in loaded]:
        raise ValidationError(f"Plans {', '.join(map(str, missing))} are not in the grid: reload it.")
    plans = {
        plan.id: plan
        for plan in session.scalars(
            select(PaymentPlan).where(PaymentPlan.id.in_(touched)).order_by(PaymentPlan.id).with_for_update()
        )
    }
    _refuse_conflicts(session, plans, loaded, touched)
    drafts = {
        plan_id: _Draft(
            plan,
            {
                row.id: row
                for row in session.scalars(
                    select(PlanInstalment).where(PlanInstalment.plan_id == plan_id).with_for_update()
                )
            },
        )
        for plan_id, plan in plans.items()
    }
    errors: list[CellError] = []
    for edit in plan_edits:
        errors += _check_plan(drafts[edit.plan_id], edit)
    new_rows: dict[int, list[tuple[InstalmentEdit, date, Decimal]]] = {}
    for row_edit in instalment_edits:
        errors += _check_instalment(drafts[row_edit.plan_id], row_edit, new_rows)
    for plan_id in touched:
        errors += _check_sum(
            drafts[plan_id], [e for e in plan_edits if e.plan_id == plan_id], new_rows.get(plan_id, [])
        )
    if errors:
        raise GridInvalid(errors)
    changed = [
        plan_id
        for plan_id in touched
        if _apply(session, actor, drafts[plan_id], plan_edits, instalment_edits, new_rows)
    ]
    refresh_accounts(session, {drafts[p].plan.customer_id for p in changed}, actor=actor)
    return changed


def _refuse_conflicts(
    session: Session, plans: dict[int, PaymentPlan], loaded: dict[int, int], touched: list[int]
) -> None:
    stale = []
    for plan_id in touched:
        plan = plans.get(plan_id)
        if plan is None:
            stale.append((plan_id, f"plan #{plan_id} no longer exists"))
        elif plan.version != loaded[plan_id]:
            customer = session.get(Customer, plan.customer_id)
            who = customer.name if customer else plan.customer_id
            stale.append((plan_id, f"plan #{plan_id} ({who}) was changed by {plan.updated_by}: {plan.last_change}"))
    if stale:
        raise GridConflict(
            [p for p, _ in stale],
            "Nothing was saved: someone changed these plans after you loaded the grid — "
            + "; ".join(m for _, m in stale)
            + ". The grid now shows their values; make your changes again.",
        )


def _check_plan(draft: _Draft, edit: PlanEdit) -> list[CellError]:
    plan, errors = draft.plan, []
    if edit.currency is not None and edit.currency != plan.currency:
        errors.append(CellError(plan.id, None, "currency", f"a plan's currency cannot change (it is {plan.currency})"))
    if edit.status is not None and edit.status != plan.status and edit.status not in SETTABLE_STATUSES:
        allowed = ", ".join(SETTABLE_STATUSES)
        errors.append(CellError(plan.id, None, "status", f"{edit.status!r} cannot be set by hand: use {allowed}"))
    if edit.status is not None and plan.status == "proposed" and edit.status != "proposed":
        errors.append(
            CellError(plan.id, None, "status", "approve or reject a proposal under Proposals, not in the grid")
        )
    if edit.total is not None and edit.total != plan.total:
        try:
            Money(edit.total, plan.currency)
        except InvalidAmount as error:
            errors.append(CellError(plan.id, None, "total", str(error)))
        else:
            if edit.total <= 0:
                errors.append(CellError(plan.id, None, "total", "the total must be more than zero"))
            elif Money(edit.total, plan.currency).amount != edit.total:
                errors.append(CellError(plan.id, None, "total", f"{plan.currency} has no amounts that small"))
    return errors


def _check_instalment(
    draft: _Draft, edit: InstalmentEdit, new_rows: dict[int, list[tuple[InstalmentEdit, date, Decimal]]]
) -> list[CellError]:
    plan, errors = draft.plan, []
    if edit.instalment_id is not None and edit.instalment_id not in draft.rows:
        return [CellError(plan.id, edit.row, "plan", f"this instalment is not part of plan #{plan.id}")]
    if edit.delete:
        if edit.instalment_id is not None:
            new_rows.setdefault(plan.id, []).append((edit, date.min, Decimal(0)))
        return []
    current = draft.rows.get(edit.instalment_id) if edit.instalment_id is not None else None
    due_on = edit.due_on or (current.due_on if current else None)
    amount = edit.amount if edit.amount is not None else (current.amount if current else None)
    if due_on is None:
        errors.append(CellError(plan.id, edit.row, "due_on", "give the date the instalment is due"))
    elif due_on < plan.starts_on:
        errors.append(CellError(plan.id, edit.row, "due_on", f"before the plan's start {plan.starts_on:%d %b %Y}"))
    if amount is None:
        errors.append(CellError(plan.id, edit.row, "amount", "give the amount"))
    elif amount <= 0:
        errors.append(CellError(plan.id, edit.row, "amount", "must be more than zero"))
    else:
        try:
            if Money(amount, plan.currency).amount != amount:
                errors.append(CellError(plan.id, edit.row, "amount", f"{plan.currency} has no amounts that small"))
        except InvalidAmount as error:
            errors.append(CellError(plan.id, edit.row, "amount", str(error)))
    if not errors and due_on is not None and amount is not None:
        new_rows.setdefault(plan.id, []).append((edit, due_on, amount))
    return errors


def _check_sum(
    draft: _Draft, plan_edits: list[PlanEdit], rows: list[tuple[InstalmentEdit, date, Decimal]]
) -> list[CellError]:
    """The instalments must still add up to the plan total (or to a total changed explicitly)."""
    plan = draft.plan
    after = {i: row.amount for i, row in draft.rows.items()}
    added = []
    for edit, _, amount in rows:
        if edit.delete and edit.instalment_id is not None:
            after.pop(edit.instalment_id, None)
        elif edit.instalment_id is None:
            added.append(amount)
        else:
            after[edit.instalment_id] = amount
    amounts = list(after.values()) + added
    total = next((e.total for e in plan_edits if e.total is not None), plan.total)
    if not amounts:
        return [CellError(plan.id, None, "instalments", "a plan needs at least one instalment; cancel it instead")]
    scheduled = sum(amounts, Decimal(0))
    if scheduled != total:
        money = Money(scheduled, plan.currency).format()
        return [
            CellError(
                plan.id,
                None,
                "total",
                f"the instalments add up to {money} but the plan total is {Money(total, plan.currency).format()}: "
                "change the amounts, or change the total explicitly",
            )
        ]
    return []


def _apply(
    session: Session,
    actor: Actor,
    draft: _Draft,
    plan_edits: Sequence[PlanEdit],
    instalment_edits: Sequence[InstalmentEdit],
    new_rows: dict[int, list[tuple[InstalmentEdit, date, Decimal]]],
) -> bool:
    plan = draft.plan
    before = {**audit.snapshot(plan), "instalments": _schedule(draft.rows.values())}
    for edit, due_on, amount in new_rows.get(plan.id, []):
        if edit.delete and edit.instalment_id is not None:
            row = draft.rows.pop(edit.instalment_id)
            draft.changes.append(f"deleted the {row.due_on:%d %b %Y} instalment of {_money(row.amount, plan)}")
            session.delete(row)
        elif edit.instalment_id is None:
            row = PlanInstalment(plan_id=plan.id, due_on=due_on, amount=amount, down_payment=False)
            session.add(row)
            draft.changes.append(f"added an instalment of {_money(amount, plan)} due {due_on:%d %b %Y}")
        else:
            row = draft.rows[edit.instalment_id]
            if row.due_on != due_on:
                draft.changes.append(f"moved the {row.due_on:%d %b %Y} instalment to {due_on:%d %b %Y}")
                row.due_on = due_on
            if row.amount != amount:
                was, now = _money(row.amount, plan), _money(amount, plan)
                draft.changes.append(f"changed the {row.due_on:%d %b %Y} instalment from {was} to {now}")
                row.amount = amount
    for plan_edit in (e for e in plan_edits if e.plan_id == plan.id):
        if plan_edit.total is not None and plan_edit.total != plan.total:
            draft.changes.append(
                f"changed the total from {_money(plan.total, plan)} to {_money(plan_edit.total, plan)}"
            )
            if plan.fee >= plan_edit.total:  # the fee no longer fits: it is waived
                plan.fee = Decimal(0)
            plan.principal = plan_edit.total - plan.fee
            plan.total = plan_edit.total
        if plan_edit.status is not None and plan_edit.status != plan.status:
            draft.changes.append(f"set the status from {plan.status} to {plan_edit.status}")
            plan.status, plan.status_since = plan_edit.status, date.today()
    if not draft.changes:
        return False
    session.flush()
    rows = session.scalars(select(PlanInstalment).where(PlanInstalment.plan_id == plan.id)).all()
    plan.starts_on = min(r.due_on for r in rows)
    plan.version += 1
    plan.updated_by = actor.username
    plan.last_change = "; ".join(draft.changes)
    session.flush()
    audit.record(
        session,
        actor,
        "plan.edit",
        "payment_plan",
        plan.id,
        before=before,
        after={**audit.snapshot(plan), "instalments": _schedule(rows), "changes": draft.changes},
    )
    add_to_timeline(
        session,
        actor,
        plan.customer_id,
        NewActivity(kind="plan", summary=f"Plan #{plan.id} changed: {plan.last_change}", details={"plan_id": plan.id}),
    )
    return True


def _money(amount: Decimal, plan: PaymentPlan) -> str:
    return Money(amount, plan.currency).format()


def _schedule(rows: Iterable[PlanInstalment]) -> list[dict[str, str]]:
    ordered = sorted(rows, key=lambda r: (r.due_on, r.id or 0))
    return [{"due_on": r.due_on.isoformat(), "amount": str(Decimal(r.amount).quantize(_STORED))} for r in ordered]
