"""May a collector phone now? The account page asks the compliance guard about a live call: the
debtor's hours, Regulation F's 7 attempts in 7 days and 7 quiet days after a conversation, counting
the calls collectors logged by hand; a stopped number is never called."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.services import customers, opt_outs
from core.services.activities import NewActivity, log_activity
from core.services.customers import NewContact
from core.services.reminder_facts import may_call_now
from tests.factories import SYSTEM, make_customer, make_invoice

# Tuesday 24 Nov 2026, 15:00 UTC: 10:00 in New York, 23:00 in Manila.
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
PHONE = "+1 212 555 0148"


def us_debtor(session) -> tuple[int, int]:
    customer_id = make_customer(session, country="US", time_zone="America/New_York", with_contact=False)
    contact_id = customers.add_contact(session, SYSTEM, customer_id, NewContact(name="Dana Reyes", phone=PHONE))
    make_invoice(session, customer_id, amount="800.00", currency="USD", due_in_days=-30, as_of=NOW.date())
    return customer_id, contact_id


def called(session, customer_id: int, contact_id: int, at: datetime, outcome: str = "no_answer") -> None:
    log_activity(
        session,
        SYSTEM,
        customer_id,
        NewActivity(kind="call", outcome=outcome, direction="outbound", contact_id=contact_id, occurred_at=at),
    )


def test_a_first_call_in_the_debtors_morning_is_allowed(session):
    customer_id, _ = us_debtor(session)

    assert may_call_now(session, customer_id, now=NOW).allowed


def test_the_eighth_call_attempt_in_seven_days_is_refused_until_the_first_falls_out(session):
    customer_id, contact_id = us_debtor(session)
    first = NOW - timedelta(days=6)
    for n in range(7):
        called(session, customer_id, contact_id, first + timedelta(hours=20 * n))

    verdict = may_call_now(session, customer_id, now=NOW)

    assert not verdict.allowed
    assert [r.code for r in verdict.reasons] == ["call_attempts"]
    assert verdict.retry_at is not None and verdict.retry_at >= first + timedelta(days=7)


def test_no_call_within_seven_days_of_a_conversation(session):
    customer_id, contact_id = us_debtor(session)
    called(session, customer_id, contact_id, NOW - timedelta(days=3), outcome="rpc")

    verdict = may_call_now(session, customer_id, now=NOW)

    assert [r.code for r in verdict.reasons] == ["recent_conversation"]
    assert may_call_now(session, customer_id, now=NOW + timedelta(days=4, hours=1)).allowed


def test_a_manila_debtor_is_not_called_at_eleven_at_night_and_a_stopped_number_never(session):
    customer_id = make_customer(session)  # PH, with a mobile number
    make_invoice(session, customer_id, amount="5000.00", due_in_days=-5, as_of=NOW.date())

    night = may_call_now(session, customer_id, now=NOW)
    assert [r.code for r in night.reasons] == ["quiet_hours"]
    assert may_call_now(session, customer_id, now=NOW - timedelta(hours=8)).allowed  # 15:00 in Manila

    contact = customers.list_contacts(session, SYSTEM, customer_id)[0]
    opt_outs.stop_address(session, SYSTEM, customer_id, contact.phone or "", why="asked not to be called")
    stopped = may_call_now(session, customer_id, now=NOW - timedelta(hours=8))
    assert [r.code for r in stopped.reasons] == ["opted_out_address"]
