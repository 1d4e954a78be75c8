"""The work queue: accounts with an overdue balance, ranked by the priority score of
core/priority.py, filtered, searched and paged in the database over the precomputed summaries.

The score is computed twice on purpose: in SQL, so the database can sort and page a large book,
and by core.priority.priority() for the rows shown, which gives the reasons. A test proves the
two agree for every account; the page shows the Python score and its reasons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from core.aging import BUCKETS
from core.errors import ValidationError
from core.models import AccountBalance, AccountSummary, Contact, Customer, Invoice, User
from core.money import Money
from core.priority import AccountFacts, Priority, Weights, priority
from core.roles import Actor, Permission
from core.services import audit
from core.services.settings import get_weights

FLAGS = ("on_hold", "bankrupt", "attorney_on_record", "deceased", "do_not_contact", "legal", "disputed")
SORTS = {
    "priority": "Priority (highest first)",
    "days_past_due": "Days past due (most first)",
    "next_action": "Next action (soonest first)",
    "last_contact": "Last contact (longest ago first)",
    "name": "Name (A–Z)",
}
PAGE_SIZES = (25, 50, 100)
_BUCKET_BOUNDS = {"current": (None, 0), "1-30": (1, 30), "31-60": (31, 60), "61-90": (61, 90), "91-180": (91, 180)}


@dataclass(frozen=True)
class QueueFilter:
    buckets: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    collector_ids: tuple[int, ...] = ()
    unassigned: bool = False
    flags: tuple[str, ...] = ()  # accounts with any of these
    promise_due_today: bool = False
    broken_promise: bool = False
    plan_missed: bool = False
    mine: bool = False
    include_scheduled: bool = False  # also accounts whose next action or hold is after today
    include_not_overdue: bool = False  # also accounts with an open balance not yet due
    search: str = ""


@dataclass(frozen=True)
class QueueRow:
    customer_id: int
    external_ref: str
    name: str
    country: str
    segment: str | None
    collector: str | None
    collector_id: int | None
    risk_tier: str
    balances: tuple[Money, ...]
    oldest_due_date: date | None
    days_past_due: int | None
    last_contact_on: date | None
    promise: str | None  # "₱5,000.00 due 12 Nov · broken"
    next_action_on: date | None
    flags: tuple[str, ...]
    priority: Priority


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    page_size: int
    as_of: date


@dataclass(frozen=True)
class QueueChoices:
    """What the filters can offer, read from the book."""

    currencies: list[str]
    countries: list[str]
    segments: list[str]
    collectors: list[tuple[int, str]]


def _ranks() -> Any:
    """Each queue account's balance rank: the share of accounts with a smaller open balance in the
    same currency (percent_rank), the highest over the account's currencies."""
    in_queue = select(AccountSummary.customer_id).where(AccountSummary.oldest_due_date.is_not(None)).subquery()
    per_currency = (
        select(
            AccountBalance.customer_id,
            func.percent_rank()
            .over(partition_by=AccountBalance.currency, order_by=AccountBalance.open_amount)
            .label("rank"),
        )
        .join(in_queue, in_queue.c.customer_id == AccountBalance.customer_id)
        .subquery()
    )
    return (
        select(per_currency.c.customer_id, func.max(per_currency.c.rank).label("rank"))
        .group_by(per_currency.c.customer_id)
        .subquery("ranks")
    )


def _score(weights: Weights, *, dpd: Any, rank: Any, contact_days: Any, broken: Any, due_today: Any) -> Any:
    """core.priority.priority() as one SQL expression: the same points for the same facts."""
    bucket_points: list[tuple[Any, int]] = []
    for name, (_low, high) in _BUCKET_BOUNDS.items():
        bucket_points.append((dpd <= high, weights.bucket[name]))
    by_bucket = case(*bucket_points, else_=weights.bucket["180+"])
    return (
        case((broken, weights.broken_promise), else_=0)
        + case((due_today, weights.promise_due_today), else_=0)
        + AccountSummary.missed_instalments * weights.missed_instalment
        + case((dpd.is_(None), 0), else_=by_bucket)
        + case(
            (rank >= 0.95, weights.balance_top_5_percent),
            (rank >= 0.80, weights.balance_top_20_percent),
            else_=0,
        )
        + case(*((Customer.risk_tier == tier, points) for tier, points in weights.risk.items()), else_=0)
        + case(
            (contact_days.is_(None), weights.never_contacted),
            (contact_days <= 1, weights.contacted_yesterday),
            (contact_days <= 7, weights.contacted_this_week),
            else_=0,
        )
    )


def _search(needle: str) -> ColumnElement[bool]:
    text = needle.strip()
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    digits = "".join(ch for ch in text if ch.isdigit())
    by_contact = Contact.email == text.lower()
    if len(digits) >= 6 and all(ch.isdigit() or ch in "+-() ." for ch in text):
        by_contact = or_(by_contact, Contact.phone.like(f"%{digits[-9:]}"))
    return or_(
        Customer.name.ilike(pattern),
        Customer.external_ref.ilike(pattern),
        exists().where(Invoice.customer_id == Customer.id, Invoice.number == text),
        exists().where(Contact.customer_id == Customer.id, by_contact),
    )


def _flag_condition(flag: str) -> ColumnElement[bool]:
    if flag == "disputed":
        return AccountSummary.disputed_invoices > 0
    return getattr(Customer, flag).is_(True)


def list_work_queue(
    session: Session,
    actor: Actor,
    chosen: QueueFilter,
    *,
    as_of: date,
    sort: str = "priority",
    page: int = 1,
    page_size: int = 50,
) -> QueuePage:
    """One page of the queue, ranked and filtered in the database."""
    audit.require(actor, Permission.VIEW_ACCOUNTS, "queue.view", "queue")
    if sort not in SORTS:
        raise ValidationError(f"Unknown sort {sort!r}: use one of {', '.join(SORTS)}.")
    if page_size not in PAGE_SIZES or page < 1:
        raise ValidationError(f"Pages hold {', '.join(map(str, PAGE_SIZES))} accounts, from page 1.")
    weights = get_weights(session)
    # The search's EXISTS clauses make the planner overestimate the cost and spend ~0.5 s on JIT
    # compilation for a query that runs in ~0.4 s without it (EXPLAIN ANALYZE on the 1M-invoice book).
    session.execute(text("SET LOCAL jit = off"))
    # The whole-book percent_rank sort spills to disk at the default 4 MB; this transaction only.
    session.execute(text("SET LOCAL work_mem = '32MB'"))
    query, columns = _queue_query(actor, chosen, as_of, weights)
    query = query.add_columns(func.count().over().label("total"))
    query = query.order_by(*_order(sort, columns), Customer.id)
    rows = session.execute(query.limit(page_size).offset((page - 1) * page_size)).all()
    balances = _balances(session, [row.id for row in rows])
    return QueuePage(
        rows=[_row(row, balances.get(row.id, ()), as_of, weights) for row in rows],
        total=rows[0].total if rows else _count_beyond(session, query, page),
        page=page,
        page_size=page_size,
        as_of=as_of,
    )


def sql_scores(session: Session, *, as_of: date) -> dict[int, tuple[int, AccountFacts]]:
    """Every account's score as the database computes it, with the facts it used: for proving
    that the database's ranking and core.priority.priority() agree."""
    weights = get_weights(session)
    query, _ = _queue_query(
        Actor.system_process("queue-check"),
        QueueFilter(include_scheduled=True, include_not_overdue=True),
        as_of,
        weights,
    )
    return {row.id: (row.score, facts_of(row, as_of)) for row in session.execute(query)}


def _queue_query(actor: Actor, chosen: QueueFilter, as_of: date, weights: Weights) -> tuple[Any, dict[str, Any]]:
    if unknown := set(chosen.buckets) - set(BUCKETS):
        raise ValidationError(f"Unknown aging bucket(s) {', '.join(sorted(unknown))}: use {', '.join(BUCKETS)}.")
    if unknown := set(chosen.flags) - set(FLAGS):
        raise ValidationError(f"Unknown flag(s) {', '.join(sorted(unknown))}: use {', '.join(FLAGS)}.")
    today = literal(as_of, Date)
    ranks = _ranks()
    dpd = (today - AccountSummary.oldest_due_date).label("dpd")
    rank = cast(func.coalesce(ranks.c.rank, 0), Float).label("balance_rank")  # percent_rank is a double
    contact_on = cast(func.timezone(Customer.time_zone, AccountSummary.last_contact_at), Date).label("contact_on")
    pending = AccountSummary.promise_status == "pending"
    broken = or_(AccountSummary.promise_status == "broken", and_(pending, AccountSummary.promise_due_on < today)).label(
        "broken"
    )
    due_today = and_(pending, AccountSummary.promise_due_on == today).label("due_today")
    score = _score(weights, dpd=dpd, rank=rank, contact_days=today - contact_on, broken=broken, due_today=due_today)
    query = (
        select(
            Customer.id,
            Customer.external_ref,
            Customer.name,
            Customer.country,
            Customer.segment,
            Customer.risk_tier,
            Customer.collector_id,
            User.name.label("collector"),
            Customer.next_action_on,
            *(getattr(Customer, flag) for flag in FLAGS if flag != "disputed"),
            AccountSummary.disputed_invoices,
            AccountSummary.oldest_due_date,
            AccountSummary.missed_instalments,
            AccountSummary.promise_status,
            AccountSummary.promise_due_on,
            AccountSummary.promise_amount,
            AccountSummary.promise_currency,
            dpd,
            rank,
            contact_on,
            broken,
            due_today,
            score.label("score"),
        )
        .join(AccountSummary, AccountSummary.customer_id == Customer.id)
        .outerjoin(ranks, ranks.c.customer_id == Customer.id)
        .outerjoin(User, User.id == Customer.collector_id)
        .where(AccountSummary.oldest_due_date.is_not(None))
    )
    if not chosen.include_not_overdue:
        query = query.where(AccountSummary.oldest_due_date < today)
    if not chosen.include_scheduled:
        query = query.where(
            or_(Customer.next_action_on.is_(None), Customer.next_action_on <= today),
            or_(~Customer.on_hold, and_(Customer.hold_until.is_not(None), Customer.hold_until <= today)),
        )
    if chosen.mine:
        query = query.where(Customer.collector_id == (actor.user_id or -1))
    collectors = []
    if chosen.collector_ids:
        collectors.append(Customer.collector_id.in_(chosen.collector_ids))
    if chosen.unassigned:
        collectors.append(Customer.collector_id.is_(None))
    if collectors:
        query = query.where(or_(*collectors))
    if chosen.buckets:
        query = query.where(or_(*(_bucket_condition(dpd, bucket) for bucket in chosen.buckets)))
    if chosen.currencies:
        query = query.where(
            exists().where(AccountBalance.customer_id == Customer.id, AccountBalance.currency.in_(chosen.currencies))
        )
    if chosen.countries:
        query = query.where(Customer.country.in_(chosen.countries))
    if chosen.segments:
        query = query.where(Customer.segment.in_(chosen.segments))
    if chosen.flags:
        query = query.where(or_(*(_flag_condition(flag) for flag in chosen.flags)))
    if chosen.promise_due_today:
        query = query.where(due_today)
    if chosen.broken_promise:
        query = query.where(broken)
    if chosen.plan_missed:
        query = query.where(AccountSummary.missed_instalments > 0)
    if chosen.search.strip():
        query = query.where(_search(chosen.search))
    return query, {"score": score, "dpd": dpd, "contact_on": contact_on}


def _count_beyond(session: Session, query: Any, page: int) -> int:
    """A page past the end has no row to carry the total: count once for the pager."""
    if page == 1:
        return 0
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def _bucket_condition(dpd: Any, bucket: str) -> ColumnElement[bool]:
    if bucket == "180+":
        return dpd > 180
    low, high = _BUCKET_BOUNDS[bucket]
    return dpd <= high if low is None else dpd.between(low, high)


def _order(sort: str, columns: dict[str, Any]) -> list[Any]:
    score, dpd, contact_on = columns["score"], columns["dpd"], columns["contact_on"]
    if sort == "priority":
        return [score.desc(), dpd.desc()]
    if sort == "days_past_due":
        return [dpd.desc(), score.desc()]
    if sort == "next_action":
        return [Customer.next_action_on.asc().nulls_first(), score.desc()]
    if sort == "last_contact":
        return [contact_on.asc().nulls_first(), score.desc()]
    return [Customer.name.asc()]


def _balances(session: Session, customer_ids: list[int]) -> dict[int, tuple[Money, ...]]:
    found: dict[int, list[Money]] = {}
    for row in session.execute(
        select(AccountBalance.customer_id, AccountBalance.currency, AccountBalance.open_amount)
        .where(AccountBalance.customer_id.in_(customer_ids))
        .order_by(AccountBalance.customer_id, AccountBalance.open_amount.desc())
    ):
        found.setdefault(row.customer_id, []).append(Money(row.open_amount, row.currency))
    return {key: tuple(value) for key, value in found.items()}


def facts_of(row: Any, as_of: date) -> AccountFacts:
    """The facts core.priority scores, from one queue row (the same columns the SQL score used)."""
    return AccountFacts(
        as_of=as_of,
        oldest_due_date=row.oldest_due_date,
        balance_rank=row.balance_rank,
        risk_tier=row.risk_tier,
        broken_promise_on=row.promise_due_on if row.broken else None,
        promise_due_today=bool(row.due_today),
        missed_instalments=row.missed_instalments,
        last_contact_on=row.contact_on,
    )


def _row(row: Any, balances: tuple[Money, ...], as_of: date, weights: Weights) -> QueueRow:
    promise = None
    if row.promise_status is not None:
        status = "broken" if row.broken else ("due today" if row.due_today else row.promise_status)
        amount = Money(row.promise_amount, row.promise_currency)
        promise = f"{amount.format()} due {row.promise_due_on:%d %b %Y} · {status}"
    flags = tuple(flag for flag in FLAGS if flag != "disputed" and getattr(row, flag))
    if row.disputed_invoices:
        flags += ("disputed",)
    return QueueRow(
        customer_id=row.id,
        external_ref=row.external_ref,
        name=row.name,
        country=row.country,
        segment=row.segment,
        collector=row.collector,
        collector_id=row.collector_id,
        risk_tier=row.risk_tier,
        balances=balances,
        oldest_due_date=row.oldest_due_date,
        days_past_due=row.dpd,
        last_contact_on=row.contact_on,
        promise=promise,
        next_action_on=row.next_action_on,
        flags=flags,
        priority=priority(facts_of(row, as_of), weights),
    )


def queue_choices(session: Session, actor: Actor) -> QueueChoices:
    audit.require(actor, Permission.VIEW_ACCOUNTS, "queue.view", "queue")
    collectors = session.execute(
        select(User.id, User.name).where(User.active, User.role.in_(("collector", "manager"))).order_by(User.name)
    ).all()
    return QueueChoices(
        currencies=list(session.scalars(select(AccountBalance.currency).distinct().order_by(AccountBalance.currency))),
        countries=list(session.scalars(select(Customer.country).distinct().order_by(Customer.country))),
        segments=list(
            session.scalars(
                select(Customer.segment).where(Customer.segment.is_not(None)).distinct().order_by(Customer.segment)
            )
        ),
        collectors=[(row.id, row.name) for row in collectors],
    )
