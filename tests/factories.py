"""Factories with sensible defaults: make_user(), make_customer(), make_invoice()…"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from sqlalchemy.orm import Session

from core.money import Money
from core.roles import Actor, Role
from core.services import customers, ledger, users
from core.services.customers import NewContact, NewCustomer
from core.services.users import UserView

SYSTEM = Actor.system_process("tests")
PASSWORD = "correct-horse-battery"
_numbers = itertools.count(1)


def make_user(
    session: Session, role: Role | str = Role.COLLECTOR, *, username: str | None = None, password: str = PASSWORD
) -> UserView:
    n = next(_numbers)
    role = Role(role)
    return users.create_user(
        session,
        SYSTEM,
        username=username or f"{role.value}{n}",
        name=f"{role.value.title()} {n}",
        email=f"{role.value}{n}@example.com",
        role=role,
        password=password,
    )


def make_customer(
    session: Session,
    *,
    country: str = "PH",
    time_zone: str = "Asia/Manila",
    collector_id: int | None = None,
    name: str | None = None,
    with_contact: bool = True,
) -> int:
    n = next(_numbers)
    customer_id = customers.create_customer(
        session,
        SYSTEM,
        NewCustomer(
            external_ref=f"T-{n}",
            name=name or f"Customer {n}",
            country=country,
            time_zone=time_zone,
            collector_id=collector_id,
        ),
    )
    if with_contact:
        customers.add_contact(
            session,
            SYSTEM,
            customer_id,
            NewContact(
                name=f"Contact {n}", email=f"contact{n}@example.ph", phone="0917 123 4567" if country == "PH" else None
            ),
        )
    return customer_id


def make_invoice(
    session: Session,
    customer_id: int,
    *,
    amount: str = "1000.00",
    currency: str = "PHP",
    due_in_days: int = -10,
    as_of: date | None = None,
    number: str | None = None,
) -> int:
    today = as_of or date.today()
    due = today + timedelta(days=due_in_days)
    return ledger.create_invoice(
        session,
        SYSTEM,
        customer_id,
        number=number or f"INV-{next(_numbers)}",
        issue_date=due - timedelta(days=30),
        due_date=due,
        amount=Money(amount, currency),
    )
