"""Who works which account: assigning collectors one by one or in bulk, and the rules (by
segment, country and balance band) that assign new accounts on import."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.errors import NotFound, ValidationError
from core.models import AssignmentRule, Customer, User
from core.money import Money, check_currency
from core.roles import Actor, Permission, Role
from core.services import audit
from core.services.activities import NewActivity, add_to_timeline


@dataclass(frozen=True)
class RuleView:
    id: int
    position: int
    collector_id: int
    collector: str
    segment: str | None
    country: str | None
    currency: str | None
    min_balance: Decimal | None
    max_balance: Decimal | None
    active: bool
    version: int

    def describe(self) -> str:
        parts = []
        if self.segment:
            parts.append(f"segment {self.segment}")
        if self.country:
            parts.append(f"country {self.country}")
        if self.currency and (self.min_balance is not None or self.max_balance is not None):
            low = Money(self.min_balance, self.currency).format() if self.min_balance is not None else "any"
            high = Money(self.max_balance, self.currency).format() if self.max_balance is not None else "any"
            parts.append(f"{self.currency} balance {low} to {high}")
        elif self.currency:
            parts.append(f"owes in {self.currency}")
        return " and ".join(parts) or "every account"


@dataclass(frozen=True)
class NewRule:
    collector_id: int
    segment: str | None = None
    country: str | None = None
    currency: str | None = None
    min_balance: Decimal | None = None
    max_balance: Decimal | None = None


def _assignee(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.active or user.role not in (Role.COLLECTOR, Role.MANAGER):
        raise ValidationError("Accounts can be assigned to active collectors and managers only.")
    return user


def assign_collectors(session: Session, actor: Actor, customer_ids: Iterable[int], collector_id: int | None) -> int:
    """Give these accounts to one collector (None: unassign). Returns how many changed; each
    change is on its account's timeline and in the audit log."""
    ids = sorted(set(customer_ids))
    audit.require(actor, Permission.ASSIGN_ACCOUNTS, "customer.assign", "customer")
    if not ids:
        raise ValidationError("Choose at least one account to assign.")
    name = _assignee(session, collector_id).name if collector_id is not None else None
    customers = list(
        session.scalars(select(Customer).where(Customer.id.in_(ids)).order_by(Customer.id).with_for_update())
    )
    if len(customers) != len(ids):
        raise NotFound("Some of those accounts no longer exist; reload the queue.")
    changed = 0
    for customer in customers:
        if customer.collector_id == collector_id:
            continue
        with audit.changing(session, actor, "customer.assign", "customer", customer):
            customer.collector_id = collector_id
            add_to_timeline(
                session,
                actor,
                customer.id,
                NewActivity(kind="assignment", summary=f"Assigned to {name}" if name else "Unassigned"),
            )
        changed += 1
    return changed


def list_rules(session: Session, actor: Actor) -> list[RuleView]:
    audit.require(actor, Permission.VIEW_ACCOUNTS, "assignment_rule.view", "assignment_rule")
    rows = session.execute(
        select(AssignmentRule, User.name)
        .join(User, User.id == AssignmentRule.collector_id)
        .order_by(AssignmentRule.position, AssignmentRule.id)
    ).all()
    return [
        RuleView(
            r.id,
            r.position,
            r.collector_id,
            name,
            r.segment,
            r.country,
            r.currency,
            r.min_balance,
            r.max_balance,
            r.active,
            r.version,
        )
        for r, name in rows
    ]


def add_rule(session: Session, actor: Actor, new: NewRule) -> int:
    """Add a rule after the existing ones (the first rule that matches an account wins)."""
    audit.require(actor, Permission.TUNE_QUEUE, "assignment_rule.create", "assignment_rule")
    _assignee(session, new.collector_id)
    segment = (new.segment or "").strip() or None
    country = (new.country or "").strip().upper() or None
    if country is not None and (len(country) != 2 or not country.isalpha()):
        raise ValidationError(f"{new.country!r} is not a two-letter country code such as PH.")
    currency = check_currency(new.currency.strip().upper()) if new.currency and new.currency.strip() else None
    for label, value in (("minimum", new.min_balance), ("maximum", new.max_balance)):
        if value is not None and value < 0:
            raise ValidationError(f"The {label} balance cannot be negative.")
    if (new.min_balance is not None or new.max_balance is not None) and currency is None:
        raise ValidationError("A balance band needs a currency: balances are never compared across currencies.")
    if new.min_balance is not None and new.max_balance is not None and new.min_balance > new.max_balance:
        raise ValidationError("The minimum balance is above the maximum.")
    last = session.scalar(select(AssignmentRule.position).order_by(AssignmentRule.position.desc()).limit(1)) or 0
    rule = AssignmentRule(
        position=last + 1,
        collector_id=new.collector_id,
        segment=segment,
        country=country,
        currency=currency,
        min_balance=new.min_balance,
        max_balance=new.max_balance,
        active=True,
        version=1,
    )
    session.add(rule)
    session.flush()
    audit.record(session, actor, "assignment_rule.create", "assignment_rule", rule.id, after=audit.snapshot(rule))
    return rule.id


def delete_rule(session: Session, actor: Actor, rule_id: int) -> None:
    audit.require(actor, Permission.TUNE_QUEUE, "assignment_rule.delete", "assignment_rule", rule_id)
    rule = session.get(AssignmentRule, rule_id, with_for_update=True)
    if rule is None:
        raise NotFound("That rule was already deleted.")
    before = audit.snapshot(rule)
    session.delete(rule)
    session.flush()
    audit.record(session, actor, "assignment_rule.delete", "assignment_rule", rule_id, before=before)


_MATCH = text(
    """
    SELECT DISTINCT ON (c.id) c.id AS customer_id, r.collector_id, u.name
    FROM customers c
    JOIN assignment_rules r ON r.active
    JOIN users u ON u.id = r.collector_id AND u.active
    WHERE c.id = ANY(:ids) AND c.collector_id IS NULL
      AND (r.segment IS NULL OR r.segment = c.segment)
      AND (r.country IS NULL OR r.country = c.country)
      AND (r.currency IS NULL OR EXISTS (
            SELECT 1 FROM account_balances b
            WHERE b.customer_id = c.id AND b.currency = r.currency
              AND (r.min_balance IS NULL OR b.open_amount >= r.min_balance)
              AND (r.max_balance IS NULL OR b.open_amount <= r.max_balance)))
    ORDER BY c.id, r.position, r.id
    """
)


def assign_by_rules(session: Session, actor: Actor, customer_ids: Iterable[int] | None = None) -> int:
    """Assign each unassigned account among these (None: every unassigned one) by the first rule
    that matches it; accounts no rule matches stay unassigned. Returns how many were assigned."""
    if customer_ids is None:
        audit.require(actor, Permission.ASSIGN_ACCOUNTS, "customer.assign_by_rules", "customer")
        ids = list(session.scalars(select(Customer.id).where(Customer.collector_id.is_(None))))
    else:
        ids = sorted(set(customer_ids))
    if not ids or session.scalar(select(AssignmentRule.id).where(AssignmentRule.active).limit(1)) is None:
        return 0
    matches = session.execute(_MATCH, {"ids": ids}).all()
    if not matches:
        return 0
    session.execute(
        text(
            """UPDATE customers c SET collector_id = m.collector_id, version = c.version + 1, updated_at = now()
               FROM unnest(CAST(:customers AS integer[]), CAST(:collectors AS integer[]))
                    AS m(customer_id, collector_id)
               WHERE c.id = m.customer_id AND c.collector_id IS NULL"""
        ),
        {"customers": [m.customer_id for m in matches], "collectors": [m.collector_id for m in matches]},
    )
    session.execute(
        text(
            """INSERT INTO activities (customer_id, kind, summary, details, occurred_at, actor_id, actor)
               SELECT m.customer_id, 'assignment', 'Assigned to ' || m.name || ' by the assignment rules', '{}',
                      now(), :actor_id, :actor
               FROM unnest(CAST(:customers AS integer[]), CAST(:names AS text[])) AS m(customer_id, name)"""
        ),
        {
            "customers": [m.customer_id for m in matches],
            "names": [m.name for m in matches],
            "actor_id": actor.user_id,
            "actor": actor.username,
        },
    )
    audit.record(
        session,
        actor,
        "customer.assign_by_rules",
        "customer",
        None,
        after={"assigned": {str(m.customer_id): m.collector_id for m in matches}},
    )
    session.expire_all()
    return len(matches)
