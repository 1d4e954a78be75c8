"""The demo book's payment plans: at least one in every status (current, late, broken, completed,
cancelled, proposed, rejected), agreed in the past and paid as a real debtor would, through the services."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import AccountBalance, Customer, Invoice, PaymentPlan
from core.money import Money
from core.roles import Actor, Role
from core.services import ledger, plans, summaries
from core.services.plans import PlanRequest


def _candidates(
    session: Session, rng: random.Random, customer_ids: list[int], collector_id: int | None
) -> Iterator[tuple[int, str]]:
    """The demo's accounts owing something, not in dispute and without a plan, in a seeded order."""
    disputed = select(Invoice.customer_id).where(Invoice.disputed, Invoice.status == "open")
    planned = select(PaymentPlan.customer_id)
    query = (
        select(AccountBalance.customer_id, AccountBalance.currency)
        .join(Customer, Customer.id == AccountBalance.customer_id)
        .where(
            AccountBalance.customer_id.in_(customer_ids),
            AccountBalance.open_amount > 0,
            AccountBalance.oldest_due_date.is_not(None),
            AccountBalance.customer_id.not_in(disputed),
            AccountBalance.customer_id.not_in(planned),
            ~Customer.on_hold,
        )
        .order_by(AccountBalance.customer_id, AccountBalance.currency)
    )
    if collector_id is not None:
        query = query.where(Customer.collector_id == collector_id)
    rows = [(customer_id, currency) for customer_id, currency in session.execute(query)]
    rng.shuffle(rows)
    seen: set[int] = set()
    for customer_id, currency in rows:
        if customer_id not in seen and not session.scalar(
            select(PaymentPlan.id).where(PaymentPlan.customer_id == customer_id)
        ):
            seen.add(customer_id)
            yield customer_id, currency


def seed_plans(
    session: Session, staff: dict[Role, Actor], customer_ids: list[int], *, as_of: date, seed: int = 11
) -> int:
    """Agree plans back in time and pay them so that, as of as_of, each status is present.
    A book too small for all of them gets as many as it has accounts for. Returns the payments made."""
    payments: list[int] = []
    with contextlib.suppress(StopIteration):  # a small book runs out of accounts
        _seed_plans(session, staff, customer_ids, as_of=as_of, seed=seed, payments=payments)
    summaries.settle_plans(session, as_of=as_of)
    return len(payments)


def _seed_plans(
    session: Session, staff: dict[Role, Actor], customer_ids: list[int], *, as_of: date, seed: int, payments: list[int]
) -> None:
    rng = random.Random(seed)
    manager, collector = staff[Role.MANAGER], staff[Role.COLLECTOR]
    accounts = _candidates(session, rng, customer_ids, None)
    own = _candidates(session, random.Random(seed + 1), customer_ids, collector.user_id)

    def agree(customer_id: int, currency: str, *, started: int, count: int, frequency: str = "monthly") -> int:
        request = PlanRequest(
            currency=currency, instalments=count, frequency=frequency, first_due_on=as_of - timedelta(days=started)
        )
        return plans.create_plan(session, manager, customer_id, request, today=as_of - timedelta(days=started + 3))

    def pay(customer_id: int, plan_id: int, instalments: int, *, days_ago: int, part: str = "1") -> None:
        view = next(p for p in plans.account_plans(session, manager, customer_id, as_of=as_of) if p.plan_id == plan_id)
        due = sum((line.amount for line in view.instalments[:instalments]), Money.zero(view.currency))
        result = ledger.record_payment(
            session,
            manager,
            customer_id,
            amount=Money(due.amount * Decimal(part), view.currency),
            received_on=as_of - timedelta(days=days_ago),
            reference=f"DEMO-PLAN-{plan_id}-{instalments}-{days_ago}",
            method="bank_transfer",
            source="demo",
            today=as_of,
        )
        payments.append(result.payment_id)

    for _ in range(4):  # current: paid what has fallen due
        customer_id, currency = next(accounts)
        plan_id = agree(customer_id, currency, started=20, count=4)
        pay(customer_id, plan_id, 1, days_ago=19)
    customer_id, currency = next(accounts)  # current, with a part of the next instalment paid
    plan_id = agree(customer_id, currency, started=25, count=3)
    pay(customer_id, plan_id, 1, days_ago=24)
    pay(customer_id, plan_id, 1, days_ago=2, part="0.5")
    for _ in range(2):  # late: the first instalment is 10 days overdue
        customer_id, currency = next(accounts)
        agree(customer_id, currency, started=10, count=3)
    for _ in range(2):  # broken: two instalments missed
        customer_id, currency = next(accounts)
        plan_id = agree(customer_id, currency, started=95, count=4)
        pay(customer_id, plan_id, 1, days_ago=94)
    customer_id, currency = next(accounts)  # completed
    plan_id = agree(customer_id, currency, started=21, count=3, frequency="weekly")
    view = plans.account_plans(session, manager, customer_id, as_of=as_of)[0]
    pay(customer_id, plan_id, len(view.instalments), days_ago=1)
    customer_id, currency = next(accounts)  # cancelled
    plan_id = agree(customer_id, currency, started=5, count=6)
    plans.cancel_plan(session, manager, plan_id, reason="Customer asked to renegotiate after a job loss")
    customer_id, currency = next(own)  # proposed by the collector, awaiting the manager
    request = PlanRequest(currency=currency, instalments=3, frequency="monthly", first_due_on=as_of + timedelta(days=7))
    plans.create_plan(session, collector, customer_id, request, today=as_of)
    customer_id, currency = next(own)  # proposed and rejected
    request = PlanRequest(
        currency=currency, instalments=12, frequency="monthly", first_due_on=as_of + timedelta(days=14)
    )
    rejected = plans.create_plan(session, collector, customer_id, request, today=as_of)
    plans.decide_proposal(
        session, manager, rejected, approve=False, reason="Twelve months is too long for this balance"
    )
