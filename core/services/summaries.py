"""The precomputed facts of the work queue (account_balances, account_summaries) and of aging as
of today and the last month end (aging_balances): every service that changes what an account
owes, its promises or its contacts calls refresh_accounts() in the same transaction, so the queue
and the reports read a book of a million invoices without summing them per request."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import Integer

from core.models import AccountSummary, Customer, PaymentPlan, Promise
from core.money import Money
from core.reports import report_sql
from core.roles import Actor
from core.services import aging_snapshot
from core.services.activities import NewActivity, add_to_timeline
from core.services.plan_status import COUNTED, among, refresh_plans, store_missed

_IDS = bindparam("ids", type_=ARRAY(Integer))


def _run(session: Session, name: str, ids: list[int] | None) -> list[Any]:
    statement = report_sql(name).bindparams(_IDS)
    result = cast(CursorResult[Any], session.execute(statement, {"ids": ids or [], "all_customers": ids is None}))
    return list(result) if result.returns_rows else []


def refresh_accounts(
    session: Session,
    customer_ids: Iterable[int] | None,
    *,
    actor: Actor | None = None,
    as_of: date | None = None,
    owed: bool = True,
) -> None:
    """Recompute the summaries of these customers (None: the whole book). Promises that payments
    now cover become kept first, each with an entry on its account's timeline; payment plans
    take in the payments and change status (as of today unless told otherwise). owed=False: what
    the customers owe has not changed (the calendar moved their promises and plans on), so their
    aging is left as it is; on every plan customer, refreshing it would drop the month end daily."""
    ids = None if customer_ids is None else sorted(set(customer_ids))
    if ids == []:
        return
    session.flush()
    kept = _run(session, "keep_promises", ids)
    for row in kept:
        amount = Money(row.amount, row.currency)
        add_to_timeline(
            session,
            actor or Actor.system_process("promises"),
            row.customer_id,
            NewActivity(
                kind="promise",
                invoice_id=row.invoice_id,
                summary=f"Promise of {amount.format()} due {row.due_on:%d %b %Y} kept",
                details={"promise_id": row.id, "status": "kept"},
            ),
        )
    missed = refresh_plans(session, ids, as_of=as_of or date.today(), actor=actor)
    _run(session, "clear_account_balances", ids)
    _run(session, "refresh_account_balances", ids)
    _run(session, "refresh_account_summaries", ids)
    if owed:
        aging_snapshot.refresh(session, ids)
    store_missed(session, ids, missed)
    session.expire_all()  # the ORM's copies of promises and summaries may be stale now


def missing_summaries(session: Session) -> int:
    """Customers without a summary row (a book loaded before the summaries existed, or by hand)."""
    have = select(AccountSummary.customer_id).where(AccountSummary.customer_id == Customer.id).exists()
    return session.scalar(select(func.count()).select_from(Customer).where(~have)) or 0


def settle_promises(session: Session, *, as_of: date) -> int:
    """Mark broken every pending promise whose date has passed unpaid, with a timeline entry each;
    run daily by the batch. The queue does not wait for it: it derives "broken" from the date."""
    refresh_accounts(
        session,
        session.scalars(select(Promise.customer_id).where(Promise.status == "pending", Promise.due_on < as_of)),
        owed=False,
    )
    due = list(session.scalars(select(Promise).where(Promise.status == "pending", Promise.due_on < as_of)))
    system = Actor.system_process("promises")
    for promise in due:
        promise.status = "broken"
        promise.version += 1
        amount = Money(promise.amount, promise.currency)
        add_to_timeline(
            session,
            system,
            promise.customer_id,
            NewActivity(
                kind="promise",
                invoice_id=promise.invoice_id,
                summary=f"Promise of {amount.format()} due {promise.due_on:%d %b %Y} broken",
                details={"promise_id": promise.id, "status": "broken"},
            ),
        )
    refresh_accounts(session, {promise.customer_id for promise in due}, owed=False)
    return len(due)


def settle_plans(session: Session, *, as_of: date) -> dict[str, int]:
    """Run daily by the batch: plans whose instalment dates have passed turn late or broken (with
    a timeline entry each), and the work queue learns of the missed instalments. Returns how many
    plans changed to each status."""
    counted = select(PaymentPlan.id, PaymentPlan.status).where(PaymentPlan.status.in_(COUNTED))
    before = dict(session.execute(counted).all())
    with_plans = select(PaymentPlan.customer_id).where(PaymentPlan.status.in_(COUNTED)).distinct()
    refresh_accounts(session, list(session.scalars(with_plans)), as_of=as_of, owed=False)
    changed: dict[str, int] = {}
    for plan_id, status in session.execute(counted.where(PaymentPlan.id == among(before))).all():
        if before[plan_id] != status:
            changed[status] = changed.get(status, 0) + 1
    return changed
