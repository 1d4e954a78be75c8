"""Every service write leaves exactly one audit row; a refused action leaves only its refusal."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cached_property

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core import db
from core.errors import PermissionDenied
from core.models import Activity, AuditEntry, Customer
from core.money import Money
from core.roles import Role
from core.services import (
    activities,
    adjustments,
    assignment,
    customers,
    disputes,
    documents,
    ledger,
    payments,
    plan_grid,
    plan_status,
    plans,
    promises,
    settings,
    signin,
    users,
)
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
    def locked_viewer(self) -> UserView:
        """`viewer`, locked out by five wrong passwords just now."""
        for _ in range(5):
            signin.sign_in(self.session, self.viewer.username, "not-the-password")
        return self.viewer

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

    @cached_property
    def dispute_id(self) -> int:
        return disputes.open_dispute(self.session, SYSTEM, self.invoice_id, category="not_delivered")

    @cached_property
    def payment_id(self) -> int:
        """invoice_id (500) paid in full, and 200 over as credit."""
        _ = self.invoice_id
        return ledger.record_payment(
            self.session,
            SYSTEM,
            self.customer_id,
            amount=Money("700", "PHP"),
            received_on=date.today(),
            reference="AUD-1",
        ).payment_id

    @cached_property
    def later_invoice_id(self) -> int:
        return make_invoice(self.session, self.customer_id, amount="50.00")

    @cached_property
    def plan_id(self) -> int:
        _ = self.invoice_id
        request = plans.PlanRequest(currency="PHP", instalments=2, frequency="monthly", first_due_on=date.today())
        return plans.create_plan(self.session, SYSTEM, self.customer_id, request)

    @cached_property
    def proposal_id(self) -> int:
        _ = self.invoice_id
        request = plans.PlanRequest(currency="PHP", instalments=2, frequency="monthly", first_due_on=date.today())
        return plans.create_plan(self.session, self.collector.as_actor(), self.customer_id, request)

    @cached_property
    def contact_id(self) -> int:
        [contact] = customers.list_contacts(self.session, SYSTEM, self.customer_id)
        return contact.id


@pytest.fixture
def desk(session: Session) -> Desk:
    return Desk(session)


def last_audit_id(session: Session) -> int:
    return session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0))) or 0


def audit_rows_since(session: Session, audit_id: int) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.id > audit_id).order_by(AuditEntry.id)))


# One function per write service: it acts through the desk and returns the id of the entity
# the audit row should name.


def create_user(s: Session, d: Desk) -> object:
    return users.create_user(
        s,
        d.admin.as_actor(),
        username="newcomer",
        name="New Comer",
        email="new@example.com",
        role=Role.VIEWER,
        password=PASSWORD,
    ).id


def change_role(s: Session, d: Desk) -> object:
    return users.change_role(s, d.admin.as_actor(), d.viewer.id, Role.COLLECTOR).id


def set_active(s: Session, d: Desk) -> object:
    return users.set_active(s, d.admin.as_actor(), d.viewer.id, active=False).id


def reset_password(s: Session, d: Desk) -> object:
    return users.reset_password(s, d.admin.as_actor(), d.viewer.id, "another-good-password").id


def unlock(s: Session, d: Desk) -> object:
    return users.unlock(s, d.admin.as_actor(), d.locked_viewer.id).id


def create_customer(s: Session, d: Desk) -> object:
    new = NewCustomer(external_ref="AUD-1", name="Audit Co", country="SG", time_zone="Asia/Singapore")
    return customers.create_customer(s, d.manager.as_actor(), new)


def add_contact(s: Session, d: Desk) -> object:
    new = NewContact(name="Billing", role="billing", email="bill@example.ph")
    return customers.add_contact(s, d.manager.as_actor(), d.customer_id, new)


def set_flags(s: Session, d: Desk) -> object:
    customers.set_flags(s, d.manager.as_actor(), d.customer_id, on_hold=True)
    return d.customer_id


def assign_collector(s: Session, d: Desk) -> object:
    customers.assign_collector(s, d.manager.as_actor(), d.customer_id, d.manager.id)
    return d.customer_id


def create_invoice(s: Session, d: Desk) -> object:
    return ledger.create_invoice(
        s,
        d.manager.as_actor(),
        d.customer_id,
        number="AUD-INV-1",
        issue_date=date(2024, 5, 1),
        due_date=date(2024, 5, 31),
        amount=Money("250", "PHP"),
    )


def record_payment(s: Session, d: Desk) -> object:
    return ledger.record_payment(
        s,
        d.manager.as_actor(),
        d.customer_id,
        amount=Money("100", "PHP"),
        received_on=date(2024, 6, 1),
        reference="AUD-PAY-1",
    ).payment_id


def open_dispute(s: Session, d: Desk) -> object:
    disputes.open_dispute(s, d.collector.as_actor(), d.invoice_id, category="not_delivered")
    return d.invoice_id


def resolve_dispute(s: Session, d: Desk) -> object:
    disputes.resolve_dispute(s, d.collector.as_actor(), d.dispute_id, resolution="rejected", note="Delivery signed for")
    return d.invoice_id


def make_promise(s: Session, d: Desk) -> object:
    return promises.make_promise(
        s, d.collector.as_actor(), d.customer_id, amount=Money("100", "PHP"), due_on=date.today() + timedelta(days=3)
    )


def set_flag(s: Session, d: Desk) -> object:
    customers.set_flag(
        s, d.collector.as_actor(), d.customer_id, "attorney_on_record", on=True, why="Letter from counsel"
    )
    return d.customer_id


def set_next_action(s: Session, d: Desk) -> object:
    customers.set_next_action(s, d.collector.as_actor(), d.customer_id, on=date.today() + timedelta(days=2))
    return d.customer_id


def set_contact_preferences(s: Session, d: Desk) -> object:
    prefs = customers.ContactPreferences(opted_out=("sms",))
    customers.set_contact_preferences(s, d.collector.as_actor(), d.contact_id, prefs)
    return d.contact_id


def attach_document(s: Session, d: Desk) -> object:
    return documents.attach_document(
        s, d.collector.as_actor(), d.customer_id, file_name="proof.pdf", content=b"%PDF-1.4\n%%EOF\n"
    )


def write_off(s: Session, d: Desk) -> object:
    adjustments.write_off(s, d.manager.as_actor(), d.customer_id, currency="PHP", reason="Uncollectable")
    return d.customer_id


def assign_collectors(s: Session, d: Desk) -> object:
    assignment.assign_collectors(s, d.manager.as_actor(), [d.customer_id], d.manager.id)
    return d.customer_id


def save_weights(s: Session, d: Desk) -> object:
    from core.priority import Weights

    settings.save_weights(s, d.manager.as_actor(), Weights(broken_promise=40), version=settings.weights_version(s))
    return settings.WEIGHTS_KEY


def log_activity(s: Session, d: Desk) -> object:
    call = NewActivity(kind="call", channel="call", direction="outbound", outcome="rpc", summary="Spoke to debtor")
    return activities.log_activity(s, d.collector.as_actor(), d.customer_id, call)


def reverse_payment(s: Session, d: Desk) -> object:
    payments.reverse_payment(s, d.manager.as_actor(), d.payment_id, reason="Cheque bounced")
    return d.payment_id


def apply_credit(s: Session, d: Desk) -> object:
    payments.apply_credit(s, d.manager.as_actor(), d.customer_id, currency="PHP")
    return d.customer_id


def refund_credit(s: Session, d: Desk) -> object:
    [refund_id] = payments.refund_credit(
        s, d.manager.as_actor(), d.customer_id, amount=Money("100", "PHP"), refunded_on=date.today(), reference="RF-1"
    )
    return refund_id


def create_plan(s: Session, d: Desk) -> object:
    request = plans.PlanRequest(currency="PHP", instalments=3, frequency="weekly", first_due_on=date.today())
    return plans.create_plan(s, d.manager.as_actor(), d.customer_id, request)


def approve_plan(s: Session, d: Desk) -> object:
    plans.decide_proposal(s, d.manager.as_actor(), d.proposal_id, approve=True)
    return d.proposal_id


def cancel_plan(s: Session, d: Desk) -> object:
    plans.cancel_plan(s, d.manager.as_actor(), d.plan_id, reason="Renegotiated")
    return d.plan_id


def save_plan_grid(s: Session, d: Desk) -> object:
    from datetime import timedelta as days

    grid = plan_grid.load_grid(s, d.manager.as_actor(), plan_grid.GridFilter(statuses=()), as_of=date.today())
    plan = next(p for p in grid.plans if p.plan_id == d.plan_id)
    first = next(i for i in grid.instalments if i.plan_id == d.plan_id)
    plan_grid.save_grid(
        s,
        d.manager.as_actor(),
        [plan_grid.PlanEdit(plan.plan_id, plan.version)],
        [plan_grid.InstalmentEdit(plan.plan_id, 0, first.instalment_id, due_on=first.due_on + days(days=3))],
    )
    return d.plan_id


def save_plan_settings(s: Session, d: Desk) -> object:
    version = plan_status.plan_settings_version(s)
    plan_status.save_plan_settings(s, d.manager.as_actor(), plan_status.PlanSettings(), version=version)
    return plan_status.SETTINGS_KEY


# Who acts, which desk records must exist beforehand (made before counting: they write audit
# rows of their own), the write, and the audit row it should leave.
WRITES = [
    pytest.param("admin", (), create_user, "user.create", "user", id="users.create_user"),
    pytest.param("admin", ("viewer",), change_role, "user.change_role", "user", id="users.change_role"),
    pytest.param("admin", ("viewer",), set_active, "user.deactivate", "user", id="users.set_active"),
    pytest.param("admin", ("viewer",), reset_password, "user.reset_password", "user", id="users.reset_password"),
    pytest.param("admin", ("locked_viewer",), unlock, "user.unlock", "user", id="users.unlock"),
    pytest.param("manager", (), create_customer, "customer.create", "customer", id="customers.create_customer"),
    pytest.param("manager", ("customer_id",), add_contact, "contact.create", "contact", id="customers.add_contact"),
    pytest.param("manager", ("customer_id",), set_flags, "customer.set_flags", "customer", id="customers.set_flags"),
    pytest.param(
        "manager", ("customer_id",), assign_collector, "customer.assign", "customer", id="customers.assign_collector"
    ),
    pytest.param("manager", ("customer_id",), create_invoice, "invoice.create", "invoice", id="ledger.create_invoice"),
    pytest.param("manager", ("invoice_id",), record_payment, "payment.record", "payment", id="ledger.record_payment"),
    pytest.param("collector", ("invoice_id",), open_dispute, "invoice.dispute", "invoice", id="disputes.open_dispute"),
    pytest.param(
        "collector", ("dispute_id",), resolve_dispute, "invoice.dispute_resolved", "invoice", id="disputes.resolve"
    ),
    pytest.param("collector", ("customer_id",), make_promise, "promise.make", "promise", id="promises.make_promise"),
    pytest.param("collector", ("customer_id",), set_flag, "customer.set_flag", "customer", id="customers.set_flag"),
    pytest.param(
        "collector", ("customer_id",), set_next_action, "customer.next_action", "customer", id="customers.next_action"
    ),
    pytest.param(
        "collector", ("contact_id",), set_contact_preferences, "contact.preferences", "contact", id="contact_prefs"
    ),
    pytest.param("collector", ("customer_id",), attach_document, "document.attach", "document", id="documents.attach"),
    pytest.param("manager", ("invoice_id",), write_off, "account.write_off", "customer", id="adjustments.write_off"),
    pytest.param("manager", ("customer_id",), assign_collectors, "customer.assign", "customer", id="assign_collectors"),
    pytest.param("manager", (), save_weights, "settings.priority_weights", "setting", id="settings.save_weights"),
    pytest.param(
        "collector", ("customer_id",), log_activity, "activity.call", "activity", id="activities.log_activity"
    ),
    pytest.param("manager", ("payment_id",), reverse_payment, "payment.reverse", "payment", id="payments.reverse"),
    pytest.param(
        "manager",
        ("payment_id", "later_invoice_id"),
        apply_credit,
        "payment.apply_credit",
        "customer",
        id="payments.apply_credit",
    ),
    pytest.param("manager", ("payment_id",), refund_credit, "payment.refund", "refund", id="payments.refund_credit"),
    pytest.param("manager", ("invoice_id",), create_plan, "plan.create", "payment_plan", id="plans.create_plan"),
    pytest.param("manager", ("proposal_id",), approve_plan, "plan.approve", "payment_plan", id="plans.approve"),
    pytest.param("manager", ("plan_id",), cancel_plan, "plan.cancel", "payment_plan", id="plans.cancel_plan"),
    pytest.param("manager", ("plan_id",), save_plan_grid, "plan.edit", "payment_plan", id="plan_grid.save_grid"),
    pytest.param(
        "manager", (), save_plan_settings, "settings.payment_plans", "setting", id="plan_status.save_plan_settings"
    ),
]


@pytest.mark.parametrize(("who", "needs", "write", "action", "entity_type"), WRITES)
def test_every_service_write_leaves_exactly_one_audit_row(session, desk, who, needs, write, action, entity_type):
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
def test_a_failed_sign_in_leaves_one_audit_row_never_naming_the_typed_text(session, desk, known):
    username = desk.viewer.username if known else "nobody-here"
    since = last_audit_id(session)
    outcome = signin.sign_in(session, username, "wrong-password-123")
    assert outcome.user is None

    [row] = audit_rows_since(session, since)
    assert (row.action, row.entity_type) == ("user.sign_in_failed", "user")
    assert row.entity_id == (str(desk.viewer.id) if known else None)
    assert (row.actor, row.actor_id) == (username if known else "anonymous", None)
    assert "nobody-here" not in str(row.after)


# Refusals: the unit of work rolls the action back, then records the refusal on its own.


def test_a_viewer_creating_an_invoice_is_refused_rolled_back_and_audited_once(session, desk):
    viewer, customer_id = desk.viewer, desk.customer_id
    since = last_audit_id(session)
    customers_before = session.scalar(select(func.count()).select_from(Customer))

    with pytest.raises(PermissionDenied), db.transaction() as s:
        customers.create_customer(
            s,
            SYSTEM,
            NewCustomer(external_ref="ROLLED-BACK", name="Never Saved", country="PH", time_zone="Asia/Manila"),
        )
        ledger.create_invoice(
            s,
            viewer.as_actor(),
            customer_id,
            number="NOPE-1",
            issue_date=date(2024, 5, 1),
            due_date=date(2024, 5, 31),
            amount=Money("1", "PHP"),
        )

    assert session.scalar(select(func.count()).select_from(Customer)) == customers_before
    [row] = audit_rows_since(session, since)
    assert (row.action, row.entity_type, row.entity_id) == ("invoice.create.refused", "customer", str(customer_id))
    assert (row.actor, row.actor_id) == (viewer.username, viewer.id)
    assert "viewer" in row.after["reason"]


def test_a_collector_logging_on_someone_elses_account_is_refused_rolled_back_and_audited_once(session, desk):
    collector, own, others = desk.collector, desk.customer_id, desk.others_customer_id
    since = last_audit_id(session)

    with pytest.raises(PermissionDenied), db.transaction() as s:
        note = NewActivity(kind="note", summary="On my own account: allowed, but rolled back with the refusal")
        activities.log_activity(s, collector.as_actor(), own, note)
        activities.log_activity(
            s, collector.as_actor(), others, NewActivity(kind="call", channel="call", outcome="rpc")
        )

    on_either = Activity.customer_id.in_([own, others])
    assert session.scalar(select(func.count()).where(on_either)) == 0
    [row] = audit_rows_since(session, since)
    assert (row.action, row.entity_type, row.entity_id) == ("activity.call.refused", "customer", str(others))
    assert (row.actor, row.actor_id) == (collector.username, collector.id)


def test_a_manager_creating_a_user_is_refused_rolled_back_and_audited_once(session, desk):
    manager = desk.manager
    since = last_audit_id(session)
    users_before = users.count_users(session)

    with pytest.raises(PermissionDenied, match="manage users"), db.transaction() as s:
        customers.create_customer(
            s,
            manager.as_actor(),
            NewCustomer(external_ref="ROLLED-BACK", name="Never Saved", country="PH", time_zone="Asia/Manila"),
        )
        users.create_user(
            s,
            manager.as_actor(),
            username="sneaky",
            name="Sneaky",
            email="s@example.com",
            role=Role.ADMIN,
            password=PASSWORD,
        )

    assert users.count_users(session) == users_before
    assert session.scalar(select(Customer.id).where(Customer.external_ref == "ROLLED-BACK")) is None
    [row] = audit_rows_since(session, since)
    assert (row.action, row.entity_type, row.entity_id) == ("user.create.refused", "user", None)
    assert (row.actor, row.actor_id) == (manager.username, manager.id)


def test_audit_rows_never_carry_a_password_hash(session, desk):
    admin = desk.admin.as_actor()
    since = last_audit_id(session)
    made = users.create_user(
        session,
        admin,
        username="hashless",
        name="Hash Less",
        email="h@example.com",
        role=Role.COLLECTOR,
        password=PASSWORD,
    )
    users.change_role(session, admin, made.id, Role.MANAGER)
    users.reset_password(session, admin, made.id, "a-brand-new-password")
    signin.sign_in(session, "hashless", "a-brand-new-password")
    signin.sign_in(session, "hashless", "not-the-password")
    users.set_active(session, admin, made.id, active=False)
    users.set_active(session, admin, made.id, active=True)

    documents = session.scalars(
        text("SELECT coalesce(before::text, '') || coalesce(after::text, '') FROM audit_log WHERE id > :since"),
        {"since": since},
    ).all()
    assert len(documents) == 7
    for document in documents:
        assert "password_hash" not in document
        assert "$2b$" not in document  # no bcrypt hash under any other name either
