"""Every service write leaves exactly one audit row; a refused action leaves only its refusal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cached_property
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core import db
from core.errors import PermissionDenied
from core.models import Activity, AuditEntry, Customer
from core.money import Money
from core.roles import Role
from core.services import activities, customers, ledger, signin, users
from core.services.activities import NewActivity
from core.services.customers import NewContact, NewCustomer
from core.services.users import UserView
from tests.factories import PASSWORD, SYSTEM, make_customer, make_invoice, make_user


class Desk:
    """The people and records a test needs, made on first use: each user costs a bcrypt hash."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @cached_property
    def admin(self) -> UserView:
        return make_user(self.session, Role.ADMIN)

    @cached_property
    def manager(self) -> UserView:
        return make_user(self.session, Role.MANAGER)

    @cached_property
    def collector(self) -> UserView:
        return make_user(self.session, Role.COLLECTOR)

    @cached_property
    def viewer(self) -> UserView:
        return make_user(self.session, Role.VIEWER)

    @cached_property
    def customer_id(self) -> int:
        """Assigned to `collector`."""
        return make_customer(self.session, collector_id=self.collector.id)

    @cached_property
    def others_customer_id(self) -> int:
        """Assigned to another collector."""
        return make_customer(self.session, collector_id=make_user(self.session, Role.COLLECTOR).id)

    @cached_property
    def invoice_id(self) -> int:
        return make_invoice(self.session, self.customer_id, amount="500.00")


@pytest.fixture
def desk(session: Session) -> Desk:
    return Desk(session)


def last_audit_id(session: Session) -> int:
    return session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0))) or 0


def audit_rows_since(session: Session, audit_id: int) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.id > audit_id).order_by(AuditEntry.id)))


# Each write: who acts, which records it needs first, and the audit row it should leave
# (action, entity type). The call returns the id of the entity the audit row should name.
Write = Callable[[Session, Desk], Any]

WRITES: list[tuple[str, str, tuple[str, ...], str, str, Write]] = [
    ("users.create_user", "admin", (), "user.create", "user", lambda s, d: users.create_user(
        s, d.admin.as_actor(), username="newcomer", name="New Comer", email="new@example.com",
        role=Role.VIEWER, password=PASSWORD).id),
    ("users.change_role", "admin", ("viewer",), "user.change_role", "user",
     lambda s, d: users.change_role(s, d.admin.as_actor(), d.viewer.id, Role.COLLECTOR).id),
    ("users.set_active", "admin", ("viewer",), "user.deactivate", "user",
     lambda s, d: users.set_active(s, d.admin.as_actor(), d.viewer.id, active=False).id),
    ("users.reset_password", "admin", ("viewer",), "user.reset_password", "user",
     lambda s, d: users.reset_password(s, d.admin.as_actor(), d.viewer.id, "another-good-password").id),
    ("customers.create_customer", "manager", (), "customer.create", "customer", lambda s, d: customers.create_customer(
        s, d.manager.as_actor(), NewCustomer(external_ref="AUD-1", name="Audit Co", country="SG",
                                             time_zone="Asia/Singapore"))),
    ("customers.add_contact", "manager", ("customer_id",), "contact.create", "contact",
     lambda s, d: customers.add_contact(s, d.manager.as_actor(), d.customer_id,
                                        NewContact(name="Billing", role="billing", email="bill@example.ph"))),
    ("customers.set_flags", "manager", ("customer_id",), "customer.set_flags", "customer", lambda s, d: (
        customers.set_flags(s, d.manager.as_actor(), d.customer_id, on_hold=True), d.customer_id)[1]),
    ("customers.assign_collector", "manager", ("customer_id",), "customer.assign", "customer", lambda s, d: (
        customers.assign_collector(s, d.manager.as_actor(), d.customer_id, d.manager.id), d.customer_id)[1]),
    ("ledger.create_invoice", "manager", ("customer_id",), "invoice.create", "invoice",
     lambda s, d: ledger.create_invoice(s, d.manager.as_actor(), d.customer_id, number="AUD-INV-1",
                                        issue_date=date(2024, 5, 1), due_date=date(2024, 5, 31),
                                        amount=Money("250.00", "PHP"))),
    ("ledger.record_payment", "manager", ("invoice_id",), "payment.record", "payment",
     lambda s, d: ledger.record_payment(s, d.manager.as_actor(), d.customer_id, amount=Money("100.00", "PHP"),
                                        received_on=date(2024, 6, 1), reference="AUD-PAY-1").payment_id),
    ("ledger.open_dispute", "collector", ("invoice_id",), "invoice.dispute", "invoice", lambda s, d: (
        ledger.open_dispute(s, d.collector.as_actor(), d.invoice_id, reason="Goods not delivered"), d.invoice_id)[1]),
    ("activities.log_activity", "collector", ("customer_id",), "activity.call", "activity",
     lambda s, d: activities.log_activity(
         s, d.collector.as_actor(), d.customer_id,
         NewActivity(kind="call", channel="call", direction="outbound", outcome="rpc", summary="Spoke to debtor"))),
]


@pytest.mark.parametrize(("who", "needs", "action", "entity_type", "write"),
                         [pytest.param(*case[1:], id=case[0]) for case in WRITES])
def test_every_service_write_leaves_exactly_one_audit_row(session, desk, who, needs, action, entity_type, write):
    actor: UserView = getattr(desk, who)
    for record in needs:
        getattr(desk, record)
    since = last_audit_id(session)

    entity_id = write(session, desk)

    [row] = audit_rows_since(session, since)
    assert (row.action, row.entity_type, row.entity_id) == (action, entity_type, str(entity_id))
    assert (row.actor, row.actor_id) == (actor.username, actor.id)


def test_a_successful_sign_in_leaves_one_audit_row_naming_the_user(session, desk):
    viewer = desk.viewer
    since = last_audit_id(session)
    outcome = signin.sign_in(session, viewer.username, PASSWORD)
    assert outcome.user is not None

    [row] = audit_rows_since(session, since)
    assert (row.action, row.entity_type, row.entity_id) == ("user.sign_in", "user", str(viewer.id))
    assert (row.actor, row.actor_id) == (viewer.username, viewer.id)


@pytest.mark.parametrize("known", [True, False], ids=["known-user", "unknown-user"])
def test_a_failed_sign_in_leaves_one_audit_row_under_the_typed_name(session, desk, known):
    username = desk.viewer.username if known else "nobody-here"
    since = last_audit_id(session)
    outcome = signin.sign_in(session, username, "wrong-password-123")
    assert outcome.user is None

    [row] = audit_rows_since(session, since)
    assert (row.action, row.entity_type) == ("user.sign_in_failed", "user")
    assert row.entity_id == (str(desk.viewer.id) if known else None)
    assert (row.actor, row.actor_id) == (username, None)


# Refusals: the unit of work rolls the action back, then records the refusal on its own.


def test_a_viewer_creating_an_invoice_is_refused_rolled_back_and_audited_once(session, desk):
    viewer, customer_id = desk.viewer, desk.customer_id
    since = last_audit_id(session)
    customers_before = session.scalar(select(func.count()).select_from(Customer))

    with pytest.raises(PermissionDenied), db.transaction() as s:
        customers.create_customer(s, SYSTEM, NewCustomer(external_ref="ROLLED-BACK", name="Never Saved",
                                                         country="PH", time_zone="Asia/Manila"))
        ledger.create_invoice(s, viewer.as_actor(), customer_id, number="NOPE-1",
                              issue_date=date(2024, 5, 1), due_date=date(2024, 5, 31), amount=Money("1", "PHP"))

    assert session.scalar(select(func.count()).select_from(Customer)) == customers_before
    [row] = audit_rows_since(session, since)
    assert (row.action, row.entity_type, row.entity_id) == ("invoice.create.refused", "customer",
                                                            str(customer_id))
    assert (row.actor, row.actor_id) == (viewer.username, viewer.id)
    assert "viewer" in row.after["reason"]


def test_a_collector_logging_on_someone_elses_account_is_refused_rolled_back_and_audited_once(session, desk):
    collector, own, others = desk.collector, desk.customer_id, desk.others_customer_id
    since = last_audit_id(session)

    with pytest.raises(PermissionDenied), db.transaction() as s:
        note = NewActivity(kind="note", summary="On my own account: allowed, but rolled back with the refusal")
        activities.log_activity(s, collector.as_actor(), own, note)
        activities.log_activity(s, collector.as_actor(), others,
                                NewActivity(kind="call", channel="call", outcome="rpc"))

    on_either = Activity.customer_id.in_([own, others])
    assert session.scalar(select(func.count()).where(on_either)) == 0
    [row] = audit_rows_since(session, since)
    assert (row.action, row.entity_type, row.entity_id) == ("activity.call.refused", "customer",
                                                            str(others))
    assert (row.actor, row.actor_id) == (collector.username, collector.id)


def test_a_manager_creating_a_user_is_refused_rolled_back_and_audited_once(session, desk):
    manager = desk.manager
    since = last_audit_id(session)
    users_before = users.count_users(session)

    with pytest.raises(PermissionDenied, match="manage users"), db.transaction() as s:
        customers.create_customer(s, manager.as_actor(), NewCustomer(
            external_ref="ROLLED-BACK", name="Never Saved", country="PH", time_zone="Asia/Manila"))
        users.create_user(s, manager.as_actor(), username="sneaky", name="Sneaky", email="s@example.com",
                          role=Role.ADMIN, password=PASSWORD)

    assert users.count_users(session) == users_before
    assert session.scalar(select(Customer.id).where(Customer.external_ref == "ROLLED-BACK")) is None
    [row] = audit_rows_since(session, since)
    assert (row.action, row.entity_type, row.entity_id) == ("user.create.refused", "user", None)
    assert (row.actor, row.actor_id) == (manager.username, manager.id)


def test_audit_rows_never_carry_a_password_hash(session, desk):
    admin = desk.admin.as_actor()
    since = last_audit_id(session)
    made = users.create_user(session, admin, username="hashless", name="Hash Less", email="h@example.com",
                             role=Role.COLLECTOR, password=PASSWORD)
    users.change_role(session, admin, made.id, Role.MANAGER)
    users.reset_password(session, admin, made.id, "a-brand-new-password")
    signin.sign_in(session, "hashless", "a-brand-new-password")
    signin.sign_in(session, "hashless", "not-the-password")
    users.set_active(session, admin, made.id, active=False)
    users.set_active(session, admin, made.id, active=True)

    documents = session.execute(
        text("SELECT coalesce(before::text, '') || coalesce(after::text, '') FROM audit_log WHERE id > :since"),
        {"since": since},
    ).scalars().all()
    assert len(documents) == 7
    for document in documents:
        assert "password_hash" not in document
        assert "$2b$" not in document  # no bcrypt hash under any other name either
