"""The reminder batch as cron runs it, `python -m core remind` in real processes: killed with SIGKILL
in the middle of a send and run again, and two runs started together. Each message goes out once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from core import db
from core.models import Contact, Customer, MessageTemplate, Send
from core.money import Money
from core.services.dunning import NewStep, create_sequence
from core.services.ledger import record_payment
from tests.factories import SYSTEM, make_customer, make_invoice
from tests.smtp import SmtpSink

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Manila


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


def remind(sink: SmtpSink, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "core", "remind", "--now", NOW.isoformat(), *args],
        cwd=ROOT,
        env={**os.environ, **sink.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def debtors(count: int) -> tuple[list[int], int]:
    """Customers with one overdue invoice each, following a sequence of their own (committed)."""
    tag = uuid.uuid4().hex[:8]
    with db.transaction() as session:
        sequence_id = create_sequence(
            session,
            SYSTEM,
            name=f"Process test {tag}",
            steps=[NewStep(offset_days=2, channel="email", stage="reminder")],
        )
        # A template of this test's own: other tests' templates stay untouched.
        session.add(
            MessageTemplate(
                key=f"process-{tag}",
                channel="email",
                language="en",
                subject="Reminder",
                body="Please pay. {{ opt_out }}",
                updated_by="tests",
            )
        )
        ids = []
        for _ in range(count):
            customer_id = make_customer(session)
            session.get(Customer, customer_id).sequence_id = sequence_id
            make_invoice(session, customer_id, amount="2468.02", due_in_days=-5, as_of=NOW.date())
            ids.append(customer_id)
    return ids, sequence_id


def sends(customer_ids: list[int]) -> list[Send]:
    with db.transaction() as session:
        return list(session.scalars(select(Send).where(Send.customer_id.in_(customer_ids)).order_by(Send.id)))


def test_a_run_killed_mid_send_never_sends_twice_and_the_in_flight_one_is_uncertain(database, sink):
    customers, _ = debtors(3)
    sink.inbox.delay = 4.0  # slow enough to kill the run while it waits on the server
    first = remind(sink)
    deadline = time.monotonic() + 30
    while not any(s.status == "sending" for s in sends(customers)):
        assert time.monotonic() < deadline, "the run never started sending"
        assert first.poll() is None, first.communicate()
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    in_flight = next(s for s in sends(customers) if s.status == "sending")
    time.sleep(4.5)  # the kill left the lease to run out (3 s under test)
    sink.inbox.delay = 0.0

    second = remind(sink)
    out, err = second.communicate(timeout=60)

    assert second.returncode == 1, out + err  # an uncertain send needs a manager: the run says so
    assert "marked uncertain" in out
    by_id = {s.id: s for s in sends(customers)}
    assert by_id[in_flight.id].status == "uncertain"
    assert all(s.status == "sent" for i, s in by_id.items() if i != in_flight.id)
    for send in by_id.values():
        received = len(sink.inbox.to(send.address or ""))
        assert received == 1 if send.id != in_flight.id else received <= 1  # never twice


def test_two_runs_started_together_send_every_message_exactly_once(database, sink):
    customers, _ = debtors(24)

    runs = [remind(sink, "--workers", "2", "--quiet") for _ in range(2)]
    results = [run.communicate(timeout=120) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], results
    rows = sends(customers)
    assert len(rows) == 24
    assert all(s.status == "sent" for s in rows)
    addresses = [s.address for s in rows]
    assert len(set(addresses)) == 24
    for address in addresses:
        assert len(sink.inbox.to(address)) == 1


def test_a_payment_arriving_while_the_run_works_its_chunk_stops_that_customers_reminder(database, sink):
    """The batch reads a whole chunk's facts at once; the statement that marks each message
    "sending" re-reads the account's state, so a payment recorded after the chunk was read (here,
    while the first message is held up at the mail server) still stops the second reminder."""
    (first, second), _ = debtors(2)
    sink.inbox.delay = 2.0
    run = remind(sink)
    deadline = time.monotonic() + 30
    while not any(s.status == "sending" for s in sends([first])):
        assert time.monotonic() < deadline, "the run never started sending"
        assert run.poll() is None, run.communicate()
        time.sleep(0.05)
    with db.transaction() as session:
        record_payment(
            session,
            SYSTEM,
            second,
            amount=Money(Decimal("2468.02"), "PHP"),
            received_on=NOW.date(),
            reference=f"PAID-{uuid.uuid4().hex[:8]}",
            today=NOW.date(),
        )
    out, err = run.communicate(timeout=60)

    assert run.returncode == 0, out + err
    [sent], [skipped] = sends([first]), sends([second])
    assert sent.status == "sent"
    assert skipped.status == "skipped"
    assert skipped.reasons == [{"code": "skipped", "text": "nothing is overdue any more"}]
    assert len(sink.inbox.to(sent.address or "")) == 1
    with db.transaction() as session:
        address = session.scalar(select(Contact.email).where(Contact.customer_id == second))
    assert address and sink.inbox.to(address) == []
