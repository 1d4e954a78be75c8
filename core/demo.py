"""A deterministic demo book: customers in PH, SG and US with invoices in every aging bucket,
payments, promises, disputes, holds and payment plans in every status, plus one user per role.
Built through the services."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.demo_dunning import seed_dunning
from core.demo_markets import Market, People, invoice_amount, payment_method, phone, pick_market, slug
from core.demo_plans import seed_plans
from core.money import Money
from core.roles import Actor, Role
from core.services import customers, disputes, ledger, promises, users
from core.services.activities import NewActivity, log_activity
from core.services.customers import NewContact, NewCustomer

DEMO_USERS = (
    ("admin", "Alex Admin", Role.ADMIN),
    ("manager", "Maria Santos", Role.MANAGER),
    ("collector", "Carlo Reyes", Role.COLLECTOR),
    ("viewer", "Vivian Tan", Role.VIEWER),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: Role
    password: str


@dataclass(frozen=True)
class DemoResult:
    logins: list[DemoLogin]
    customers: int
    invoices: int
    payments: int


def seed_demo(
    session: Session,
    *,
    seed: int = 7,
    customer_count: int = 400,
    as_of: date | None = None,
    password_for: Callable[[str], str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> DemoResult:
    """Fill an empty database with the demo book. Same seed, same book (dates relative to as_of)."""
    as_of = as_of or date.today()
    rng = random.Random(seed)
    people = People(seed)
    system = Actor.system_process("seed-demo")
    password_for = password_for or (lambda _username: secrets.token_urlsafe(12))

    logins = []
    staff: dict[Role, Actor] = {}
    for username, name, role in DEMO_USERS:
        password = password_for(username)
        user = users.create_user(
            session,
            system,
            username=username,
            name=name,
            email=f"{username}@recoup.example",
            role=role,
            password=password,
        )
        logins.append(DemoLogin(username, role, password))
        staff[role] = user.as_actor()

    invoices = payments = 0
    seeded: list[int] = []
    for index in range(customer_count):
        market = pick_market(rng)
        made = _seed_customer(session, system, staff, market, index, rng, people, as_of)
        invoices += made[0]
        payments += made[1]
        seeded.append(made[2])
        if progress:
            progress(1)
    payments += seed_plans(session, staff, seeded, as_of=as_of)
    seed_dunning(session, system)
    return DemoResult(logins, customer_count, invoices, payments)


POSTAL_DIGITS = {"PH": 4, "SG": 6, "US": 5}


def _postal_code(country: str, index: int) -> str | None:
    """A plausible postal code, from its own generator so the rest of the book stays as it was."""
    digits = POSTAL_DIGITS.get(country)
    if digits is None:
        return None
    return str(random.Random(f"{country}-{index}").randint(10 ** (digits - 1), 10**digits - 1))


def _seed_customer(
    session: Session,
    system: Actor,
    staff: dict[Role, Actor],
    market: Market,
    index: int,
    rng: random.Random,
    people: People,
    as_of: date,
) -> tuple[int, int, int]:
    is_company = rng.random() < 0.7
    zone = rng.choice(market.time_zones)
    contact_name = people.person(market.country, rng)
    name = people.company(market.country, rng) if is_company else contact_name
    collector = staff[Role.COLLECTOR] if rng.random() < 0.6 else staff[Role.MANAGER]
    customer_id = customers.create_customer(
        session,
        system,
        NewCustomer(
            external_ref=f"{market.country}-{10001 + index}",
            name=name,
            country=market.country,
            time_zone=zone,
            kind="company" if is_company else "person",
            language="en",
            segment=rng.choice(market.segments),
            postal_code=_postal_code(market.country, index),
            risk_tier=rng.choices(("low", "medium", "high"), weights=(5, 3, 2))[0],
            collector_id=collector.user_id,
            credit_limit=Money(market.amount_range[1] * rng.choice((1, 2, 4)), market.currency) if is_company else None,
        ),
    )
    # Held while this customer is seeded: the session's identity map is weak, and every
    # service below looks the customer up; holding it saves a query per invoice and payment.
    _held = customers.get_customer_row(session, customer_id)
    customers.add_contact(
        session,
        system,
        customer_id,
        NewContact(
            name=contact_name,
            role="billing" if is_company else "debtor",
            email=f"{slug(contact_name)}{index}@{market.domain}",
            phone=phone(market, rng),
            consent=("email", "call", "letter", "sms") if rng.random() < 0.6 else ("email", "call", "letter"),
        ),
    )
    if rng.random() < 0.1:
        customers.add_contact(
            session,
            system,
            customer_id,
            NewContact(name=people.person(market.country, rng), role="guarantor", phone=phone(market, rng)),
        )

    # How this customer pays: days after due they usually settle, and how often they do not.
    lateness = rng.choice((-5, 0, 3, 10, 25, 45, 90))
    never_pays = rng.random() < 0.25
    invoice_count = rng.randint(3, 12)
    made_payments = 0
    ids: list[tuple[int, date, Money]] = []
    invoice_id_to_number: dict[int, int] = {}
    for number in range(invoice_count):
        issued = as_of - timedelta(days=rng.randint(0, 420))
        due = issued + timedelta(days=rng.choice((15, 30, 30, 45, 60)))
        amount = invoice_amount(market, rng)
        invoice_id = ledger.create_invoice(
            session,
            system,
            customer_id,
            number=f"INV-{market.country}-{index:04d}-{number + 1:03d}",
            issue_date=issued,
            due_date=due,
            amount=amount,
            source="demo",
        )
        ids.append((invoice_id, due, amount))
        invoice_id_to_number[invoice_id] = number + 1
    for invoice_id, due, amount in sorted(ids, key=lambda item: item[1]):
        reference = f"DEMO-{market.country}-{index:04d}-{invoice_id_to_number[invoice_id]}"
        settled_on = due + timedelta(days=lateness + rng.randint(-5, 20))
        if not (never_pays or settled_on >= as_of or rng.random() < 0.15):
            paid, paid_on = amount, settled_on
        elif rng.random() < 0.2 and due < as_of:  # a partial payment on an open invoice
            paid = Money(amount.amount * Decimal(rng.choice(("0.25", "0.4", "0.5"))), amount.currency)
            paid_on = min(as_of - timedelta(days=1), due + timedelta(days=rng.randint(1, 30)))
            reference += "-P"
        else:
            continue
        ledger.record_payment(
            session,
            system,
            customer_id,
            amount=paid,
            received_on=paid_on,
            reference=reference,
            method=payment_method(market, rng),
            source="demo",
            invoice_ids=[invoice_id],
        )
        made_payments += 1

    _seed_timeline(session, system, collector, customer_id, ids, zone, rng, as_of)
    return invoice_count, made_payments, customer_id


def _at(day: date, rng: random.Random, zone: str) -> datetime:
    return datetime.combine(day, time(rng.randint(9, 17), rng.choice((0, 15, 30, 45))), ZoneInfo(zone))


def _seed_timeline(
    session: Session,
    system: Actor,
    collector: Actor,
    customer_id: int,
    invoices: list[tuple[int, date, Money]],
    zone: str,
    rng: random.Random,
    as_of: date,
) -> None:
    overdue = [(i, due, amount) for i, due, amount in invoices if due < as_of]
    if not overdue:
        return
    invoice_id, due, amount = rng.choice(overdue)
    for day in _call_days(due, as_of, rng):
        outcome = rng.choice(("rpc", "no_answer", "voicemail", "busy", "rpc", "third_party"))
        log_activity(
            session,
            collector,
            customer_id,
            NewActivity(
                kind="call",
                channel="call",
                direction="outbound",
                outcome=outcome,
                invoice_id=invoice_id,
                summary=f"Called about invoice due {due:%d %b %Y}",
                occurred_at=_at(day, rng, zone),
            ),
        )
    roll = rng.random()
    if roll < 0.12:
        promise_day = as_of + timedelta(days=rng.randint(-10, 14))
        made_on = min(as_of, promise_day) - timedelta(days=3)
        promises.make_promise(
            session, collector, customer_id, amount=amount, due_on=promise_day, invoice_id=invoice_id, today=made_on
        )
    elif roll < 0.18 and not ledger.open_balance(session, invoice_id).is_zero():
        disputes.open_dispute(
            session,
            system,
            invoice_id,
            category=rng.choice(("not_delivered", "wrong_amount", "already_paid", "damaged_or_defective")),
            note=rng.choice(("Customer says so on the phone", "Emailed with photos", "")),
        )
    elif roll < 0.22:
        customers.set_flag(
            session,
            system,
            customer_id,
            "on_hold",
            on=True,
            why="Customer restructuring, awaiting finance call",
            until=as_of + timedelta(days=rng.randint(3, 20)),
            today=as_of,
        )


def _call_days(due: date, as_of: date, rng: random.Random) -> Iterator[date]:
    for _ in range(rng.randint(0, 3)):
        span = max(1, (as_of - due).days)
        yield due + timedelta(days=rng.randint(1, span))
