"""Aging, precomputed (aging_balances) for today and the last month end: the report reads it only
for those days, every service that changes what is owed keeps both equal to the invoices, the
reminder batch rebuilds them once a day (and the month end again after an import dropped it), and
a rebuild waits for a refresh in flight instead of losing it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from core import db
from core.models import AgingBalance, AgingSnapshot, Customer
from core.money import Money
from core.roles import Actor, Role
from core.services import adjustments, aging_snapshot, dashboard, ledger, payments, promises, reports, summaries
from core.services.reports import ReportFilter
from tests.factories import SYSTEM, make_customer, make_user
from tests.integration.test_cli import cli

DAY = date(2026, 6, 30)
T = TypeVar("T")


def own_book(session: Session) -> tuple[int, list[int]]:
    """A collector of this test's own with three customers, so the rest of the database stays out."""
    collector_id = make_user(session, Role.COLLECTOR).id
    customer_ids = []
    for _ in range(3):
        customer_id = make_customer(session, collector_id=collector_id)
        session.get(Customer, customer_id).collector_id = collector_id
        customer_ids.append(customer_id)
    return collector_id, customer_ids


def invoice(session: Session, customer_id: int, amount: str, due: date, currency: str = "PHP") -> int:
    return ledger.create_invoice(
        session,
        SYSTEM,
        customer_id,
        number=f"S-{uuid.uuid4().hex[:8]}",
        issue_date=due - timedelta(days=30),
        due_date=due,
        amount=Money(amount, currency),
    )


def pay(session: Session, customer_id: int, invoice_ids: list[int], amount: str, on: date) -> int:
    return ledger.record_payment(
        session,
        SYSTEM,
        customer_id,
        amount=Money(amount, "PHP"),
        received_on=on,
        reference=f"P-{uuid.uuid4().hex[:8]}",
        invoice_ids=invoice_ids,
        today=max(on, date.today()),
    ).payment_id


def aging_rows(session: Session, collector_id: int, day: date = DAY) -> list[dict]:
    chosen = ReportFilter(day, day, day, collector_id=collector_id)
    frame = reports.aging(session, SYSTEM, chosen).drop(columns=["label"])
    return sorted(frame.to_dict("records"), key=lambda row: (row["group_key"], row["currency"]))


def without_snapshot(session: Session, read: Callable[[], T]) -> T:
    """What read() gives with no snapshot to read (computed from the invoices); the snapshot stays."""
    savepoint = session.begin_nested()
    session.execute(text("DELETE FROM aging_snapshot"))
    answer = read()
    savepoint.rollback()
    return answer


def from_the_invoices(session: Session, collector_id: int, day: date = DAY) -> list[dict]:
    """The same report with no snapshot to read: computed from the invoices."""
    return without_snapshot(session, lambda: aging_rows(session, collector_id, day))


def tamper(session: Session, customer_id: int, day: date) -> None:
    """Only a report that reads this day's snapshot can see 1.00 in 31-60."""
    session.execute(
        update(AgingBalance)
        .where(AgingBalance.customer_id == customer_id, AgingBalance.day == day)
        .values(due_31_60=Decimal("1.00"))
    )


def test_the_report_reads_the_snapshot_for_its_day_and_the_invoices_for_any_other(session):
    collector_id, [customer_id, *_] = own_book(session)
    invoice(session, customer_id, "500.00", DAY - timedelta(days=45))
    aging_snapshot.rebuild(session, DAY)
    tamper(session, customer_id, DAY)

    [today] = aging_rows(session, collector_id, DAY)
    [other_day] = aging_rows(session, collector_id, DAY + timedelta(days=1))

    assert today["31-60"] == Decimal("1.00")
    assert other_day["31-60"] == Decimal("500.00")  # 46 days past due on the next day, from the invoices
    assert from_the_invoices(session, collector_id)[0]["31-60"] == Decimal("500.00")


def test_every_change_to_what_is_owed_keeps_the_snapshot_equal_to_the_invoices(session):
    collector_id, [a, b, c] = own_book(session)
    aging_snapshot.rebuild(session, DAY)  # before any invoice: everything after is a refresh
    first = invoice(session, a, "1000.00", DAY - timedelta(days=10))
    second = invoice(session, a, "250.00", DAY + timedelta(days=5))
    invoice(session, b, "80.00", DAY - timedelta(days=200), currency="USD")
    written_off = invoice(session, c, "300.00", DAY - timedelta(days=65))
    assert aging_rows(session, collector_id) == from_the_invoices(session, collector_id)

    paid_partly = pay(session, a, [first], "400.00", DAY - timedelta(days=1))
    pay(session, a, [second], "250.00", DAY + timedelta(days=1))  # after the day: still owed on it
    adjustments.write_off(session, SYSTEM, c, currency="PHP", reason="Uncollectable", invoice_ids=[written_off])
    rows = aging_rows(session, collector_id)
    assert rows == from_the_invoices(session, collector_id)
    assert {(row["group_key"], row["currency"]): row["total"] for row in rows} == {
        (str(a), "PHP"): Decimal("850.00"),
        (str(b), "USD"): Decimal("80.00"),
    }

    payments.reverse_payment(session, SYSTEM, paid_partly, reason="Cheque bounced")
    assert aging_rows(session, collector_id) == from_the_invoices(session, collector_id)
    assert aging_rows(session, collector_id)[0]["1-30"] == Decimal("1000.00")


def test_a_rebuild_replaces_every_row_and_moves_the_day(session):
    collector_id, [customer_id, *_] = own_book(session)
    invoice(session, customer_id, "700.00", DAY - timedelta(days=20))
    aging_snapshot.rebuild(session, DAY)
    assert aging_rows(session, collector_id)[0]["1-30"] == Decimal("700.00")

    assert aging_snapshot.rebuild(session, DAY + timedelta(days=15), unless_current=True)
    assert not aging_snapshot.rebuild(session, DAY + timedelta(days=15), unless_current=True)

    assert aging_snapshot.snapshot_days(session) == [DAY + timedelta(days=15), DAY]  # DAY: its last month end
    assert set(session.scalars(select(AgingBalance.day).distinct())) == {DAY + timedelta(days=15), DAY}
    [row] = aging_rows(session, collector_id, DAY + timedelta(days=15))
    assert (row["1-30"], row["31-60"]) == (Decimal(0), Decimal("700.00"))
    assert row == from_the_invoices(session, collector_id, DAY + timedelta(days=15))[0]


def test_before_the_first_rebuild_a_refresh_writes_nothing(session):
    _, [customer_id, *_] = own_book(session)
    session.execute(text("DELETE FROM aging_snapshot"))
    invoice(session, customer_id, "10.00", DAY)
    assert session.scalar(select(AgingBalance.customer_id).where(AgingBalance.customer_id == customer_id)) is None


@pytest.fixture
def committed_snapshot(database):
    """For tests that commit: the snapshot they build is gone afterwards, for the tests after them."""
    yield
    with db.transaction() as session:
        session.execute(text("DELETE FROM aging_snapshot"))
        session.execute(text("DELETE FROM aging_balances"))


@dataclass
class Background:
    """A rebuild running in a thread of its own, on its own connection."""

    done: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> Background:
        def rebuild() -> None:
            try:
                with db.transaction() as other:
                    other.execute(text("SET LOCAL lock_timeout = '20s'"))
                    aging_snapshot.rebuild(other, DAY)
            except BaseException as error:  # reported in the test's own thread
                self.errors.append(error)
            finally:
                self.done.set()

        self.thread = threading.Thread(target=rebuild)
        self.thread.start()
        return self

    def finished(self) -> bool:
        assert self.thread is not None
        self.thread.join(30)
        return self.done.is_set() and not self.errors


def committed_customer(amount: str) -> tuple[int, int, int]:
    with db.transaction() as session:
        collector_id, [customer_id, *_] = own_book(session)
        invoice_id = invoice(session, customer_id, amount, DAY - timedelta(days=5))
    return collector_id, customer_id, invoice_id


def test_a_rebuild_waits_for_a_payment_in_flight_and_counts_it(committed_snapshot):
    collector_id, customer_id, invoice_id = committed_customer("900.00")
    with db.transaction() as session:
        aging_snapshot.rebuild(session, DAY)

    with db.transaction() as session:
        pay(session, customer_id, [invoice_id], "300.00", DAY)  # refreshed, not yet committed
        rebuilding = Background().start()
        assert not rebuilding.done.wait(1.0), "the rebuild did not wait for the payment's transaction"
    assert rebuilding.finished(), rebuilding.errors

    with db.transaction() as session:
        [row] = aging_rows(session, collector_id)
        assert row["1-30"] == Decimal("600.00")  # 5 days past due, 300 of 900 paid
        assert [row] == from_the_invoices(session, collector_id)


def test_build_aging_and_the_reminder_batch_build_the_day_once(committed_snapshot):
    built = cli("build-aging", "--as-of", "2026-06-30")
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("Aging as of 2026-06-30 built:")
    assert "Aging as of 2026-05-31 built:" in built.stdout
    with db.transaction() as session:
        assert aging_snapshot.snapshot_days(session) == [DAY, date(2026, 5, 31)]

    utc = {"TZ": "UTC"}  # the batch's day is the server's
    first = cli("remind", "--now", "2026-07-01T01:00:00+00:00", env=utc)
    again = cli("remind", "--now", "2026-07-01T01:15:00+00:00", env=utc)
    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    with db.transaction() as session:
        assert aging_snapshot.snapshot_days(session) == [date(2026, 7, 1), DAY]  # DAY: the last month end
    assert "aging as of 2026-07-01 rebuilt" in first.stdout
    assert "aging as of 2026-06-30" not in first.stdout  # built already, by build-aging
    assert "aging as of" not in again.stdout  # the day's snapshot stands

    refused = cli("build-aging", "--as-of", "30/06/2026")
    assert refused.returncode != 0 and "--as-of must be a date such as" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("group_by", ["collector", "country", "segment"])
def test_grouped_aging_from_the_snapshot_equals_the_invoices(session, group_by):
    collector_id, [a, b, c] = own_book(session)
    for customer_id, amount, days in ((a, "100.00", 3), (b, "200.00", 40), (c, "300.00", 400)):
        invoice(session, customer_id, amount, DAY - timedelta(days=days))
    aging_snapshot.rebuild(session, DAY)
    chosen = ReportFilter(DAY, DAY, DAY, collector_id=collector_id)

    snapshot = reports.aging_overview(session, SYSTEM, chosen, group_by=group_by)
    computed = without_snapshot(session, lambda: reports.aging_overview(session, SYSTEM, chosen, group_by=group_by))

    assert snapshot.largest.to_dict("records") == computed.largest.to_dict("records")
    assert snapshot.totals.to_dict("records") == computed.totals.to_dict("records")
    assert snapshot.totals["total"].sum() == Decimal("600.00")


def test_the_dashboard_reads_the_snapshot_for_its_day_and_agrees_with_the_invoices(session):
    collector_id, [a, b, c] = own_book(session)
    for customer_id, amount, days in ((a, "100.00", -3), (b, "200.00", 40), (c, "300.00", 400)):
        invoice(session, customer_id, amount, DAY - timedelta(days=days))
    invoice(session, a, "50.00", DAY - timedelta(days=10), currency="USD")
    aging_snapshot.rebuild(session, DAY)
    me = Actor(username="me", role=Role.COLLECTOR, user_id=collector_id)

    from_snapshot = dashboard.book_summary(session, me, as_of=DAY)
    from_invoices = without_snapshot(session, lambda: dashboard.book_summary(session, me, as_of=DAY))

    assert from_snapshot == from_invoices
    php, usd = from_snapshot.currencies
    assert (php.open_balance, php.overdue_balance, php.open_invoices, php.overdue_invoices) == (
        Money("600", "PHP"),
        Money("500", "PHP"),
        3,
        2,
    )
    assert (usd.open_balance, usd.overdue_invoices) == (Money("50", "USD"), 1)
    assert (from_snapshot.customers_with_balance, from_snapshot.customers_overdue) == (3, 3)

    session.execute(update(AgingBalance).where(AgingBalance.customer_id == c).values(total=Decimal(0), due_over_180=0))
    tampered = dashboard.book_summary(session, me, as_of=DAY)
    assert tampered.currencies[0].open_balance == Money("300", "PHP")  # only the snapshot says so


def test_a_rebuild_never_waits_on_a_customer_a_payment_has_locked(committed_snapshot):
    """A write-off or credit locks the customer, then refreshes: the rebuild in between must not
    need that customer (no foreign key), or the two would deadlock."""
    collector_id, customer_id, invoice_id = committed_customer("400.00")

    with db.transaction() as session:
        session.execute(select(Customer).where(Customer.id == customer_id).with_for_update())
        rebuilding = Background().start()
        assert rebuilding.done.wait(20), "the rebuild waited on the locked customer"
        pay(session, customer_id, [invoice_id], "150.00", DAY)  # refreshes after the rebuild
    assert rebuilding.finished(), rebuilding.errors

    with db.transaction() as session:
        [row] = aging_rows(session, collector_id)
        assert row["1-30"] == Decimal("250.00")
        assert [row] == from_the_invoices(session, collector_id)


def test_a_current_snapshot_is_left_alone_without_waiting_for_the_lock(committed_snapshot):
    _, customer_id, invoice_id = committed_customer("90.00")
    with db.transaction() as session:
        aging_snapshot.rebuild(session, DAY)

    with db.transaction() as session:
        pay(session, customer_id, [invoice_id], "10.00", DAY)  # holds ROW EXCLUSIVE until commit
        with db.transaction() as other:  # another connection: it would queue behind the payment
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            assert not aging_snapshot.rebuild(other, DAY, unless_current=True)


def test_a_snapshot_written_by_another_version_of_the_query_is_not_read(session):
    collector_id, [customer_id, *_] = own_book(session)
    invoice(session, customer_id, "500.00", DAY - timedelta(days=45))
    aging_snapshot.rebuild(session, DAY)
    tamper(session, customer_id, DAY)
    assert aging_rows(session, collector_id)[0]["31-60"] == Decimal("1.00")

    session.execute(update(AgingSnapshot).values(definition="0" * 32))

    assert aging_snapshot.snapshot_days(session) == []
    assert aging_rows(session, collector_id)[0]["31-60"] == Decimal("500.00")


LATER = date(2026, 7, 10)  # DAY is its last month end


def test_the_snapshot_holds_the_last_month_end_too(session):
    collector_id, [customer_id, *_] = own_book(session)
    invoice(session, customer_id, "500.00", DAY - timedelta(days=45))
    assert aging_snapshot.rebuild(session, LATER) == [LATER, DAY]
    assert aging_rows(session, collector_id) == from_the_invoices(session, collector_id)

    tamper(session, customer_id, DAY)
    assert aging_rows(session, collector_id, DAY)[0]["31-60"] == Decimal("1.00")
    assert aging_rows(session, collector_id, LATER)[0]["31-60"] == Decimal("500.00")  # its own row, untouched
    assert aging_rows(session, collector_id, DAY - timedelta(days=1))[0]["31-60"] == Decimal("500.00")


def test_every_change_keeps_the_month_end_equal_to_the_invoices(session):
    collector_id, [a, b, c] = own_book(session)
    aging_snapshot.rebuild(session, LATER)  # before any invoice: everything after is a refresh
    first = invoice(session, a, "1000.00", DAY - timedelta(days=10))
    invoice(session, a, "250.00", DAY + timedelta(days=5))  # issued before the month end, due after
    invoice(session, b, "80.00", DAY - timedelta(days=200), currency="USD")
    written_off = invoice(session, c, "300.00", DAY - timedelta(days=65))

    pay(session, a, [first], "400.00", DAY - timedelta(days=1))  # before the month end: counts then
    pay(session, a, [first], "100.00", DAY + timedelta(days=2))  # after it: counts today only
    adjustments.write_off(session, SYSTEM, c, currency="PHP", reason="Uncollectable", invoice_ids=[written_off])

    for day in (DAY, LATER):
        assert aging_rows(session, collector_id, day) == from_the_invoices(session, collector_id, day)
    assert aging_snapshot.snapshot_days(session) == [LATER, DAY]
    month_end = {(row["group_key"], row["currency"]): row["total"] for row in aging_rows(session, collector_id, DAY)}
    assert month_end == {(str(a), "PHP"): Decimal("850.00"), (str(b), "USD"): Decimal("80.00")}
    assert aging_rows(session, collector_id, LATER)[0]["total"] == Decimal("750.00")


def test_a_change_to_many_customers_drops_the_month_end_until_the_next_rebuild(session, monkeypatch):
    collector_id, [a, b, _] = own_book(session)
    invoice(session, a, "100.00", DAY - timedelta(days=70))  # 61-90 on both days
    aging_snapshot.rebuild(session, LATER)
    monkeypatch.setattr(aging_snapshot, "PAST_REFRESH_LIMIT", 1)  # an import of two customers is "many"
    invoice(session, b, "200.00", DAY - timedelta(days=50))  # one customer: both days refreshed
    assert aging_snapshot.snapshot_days(session) == [LATER, DAY]
    tamper(session, a, DAY)
    tamper(session, a, LATER)

    aging_snapshot.refresh(session, [a, b])

    assert aging_snapshot.snapshot_days(session) == [LATER]
    assert aging_rows(session, collector_id, LATER)[0]["31-60"] == Decimal(0)  # recomputed
    assert aging_rows(session, collector_id, DAY) == from_the_invoices(session, collector_id, DAY)
    assert aging_rows(session, collector_id, DAY)[0]["31-60"] == Decimal(0)  # not the dropped row
    assert aging_snapshot.rebuild(session, LATER, unless_current=True) == [DAY]
    assert aging_rows(session, collector_id, DAY) == from_the_invoices(session, collector_id, DAY)


def test_home_counts_only_the_customers_owing_on_the_day_asked_about(session):
    collector_id, [paid_since, new_since, both] = own_book(session)
    settled = invoice(session, paid_since, "100.00", DAY - timedelta(days=20))
    pay(session, paid_since, [settled], "100.00", DAY + timedelta(days=3))  # owed on the month end only
    invoice(session, new_since, "200.00", DAY + timedelta(days=35))  # issued 5 days after the month end
    invoice(session, both, "300.00", DAY - timedelta(days=40))
    aging_snapshot.rebuild(session, LATER)
    me = Actor(username="me", role=Role.COLLECTOR, user_id=collector_id)

    for day, owing, overdue in ((DAY, 2, 2), (LATER, 2, 1)):
        summary = dashboard.book_summary(session, me, as_of=day)
        assert (summary.customers_with_balance, summary.customers_overdue) == (owing, overdue), day
        assert summary == without_snapshot(session, lambda d=day: dashboard.book_summary(session, me, as_of=d))


def test_the_calendar_moving_promises_on_leaves_aging_alone(session, monkeypatch):
    collector_id, [customer_id, *_] = own_book(session)
    owed = invoice(session, customer_id, "500.00", DAY - timedelta(days=30))
    promises.make_promise(
        session, SYSTEM, customer_id, amount=Money("100.00", "PHP"), due_on=LATER - timedelta(days=2), today=DAY
    )
    aging_snapshot.rebuild(session, LATER)
    monkeypatch.setattr(aging_snapshot, "PAST_REFRESH_LIMIT", 0)  # any refresh of aging drops the month end

    assert summaries.settle_promises(session, as_of=LATER) == 1  # broken: nobody owes more or less
    summaries.settle_plans(session, as_of=LATER)
    assert aging_snapshot.snapshot_days(session) == [LATER, DAY]

    pay(session, customer_id, [owed], "50.00", LATER)  # what is owed changes: aging is refreshed
    assert aging_snapshot.snapshot_days(session) == [LATER]
