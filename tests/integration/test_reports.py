"""The reports on small books whose figures are worked out by hand: aging at every bucket edge
and as of a past date, receivables, countback and standard DSO and CEI month by month, recovery,
the promise kept-rate and the cash forecast weighted by it, open disputes, and a collector seeing
only their own accounts. Each test's customers belong to a collector of its own, so the rest of
the test database stays out of its figures."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from core.errors import ValidationError
from core.models import Customer, DunningStep, Promise, Send
from core.money import Money
from core.roles import Actor, Role
from core.services import aging_snapshot, dashboard, disputes, ledger, reports
from core.services.dunning import NewStep, create_sequence
from core.services.reports import ReportFilter, countback_dso
from tests.factories import SYSTEM, make_customer, make_user

AS_OF = date(2026, 6, 30)


def collector(session) -> int:
    return make_user(session, Role.COLLECTOR).id


def customer_of(session, collector_id: int) -> int:
    customer_id = make_customer(session, collector_id=collector_id)
    session.get(Customer, customer_id).collector_id = collector_id
    return customer_id


def invoice(session, customer_id: int, amount: str, issued: date, due: date, currency: str = "PHP") -> int:
    return ledger.create_invoice(
        session,
        SYSTEM,
        customer_id,
        number=f"R-{uuid.uuid4().hex[:8]}",
        issue_date=issued,
        due_date=due,
        amount=Money(amount, currency),
    )


def pay(session, customer_id: int, invoice_id: int, amount: str, on: date, currency: str = "PHP") -> None:
    ledger.record_payment(
        session,
        SYSTEM,
        customer_id,
        amount=Money(amount, currency),
        received_on=on,
        reference=f"P-{uuid.uuid4().hex[:8]}",
        invoice_ids=[invoice_id],
        today=max(on, date.today()),
    )


def test_aging_puts_each_edge_day_in_its_bucket_and_counts_a_later_payment_as_not_yet_received(session):
    mine = collector(session)
    customer_id = customer_of(session, mine)
    edges = {0: "current", 1: "1-30", 30: "1-30", 31: "31-60", 60: "31-60", 61: "61-90", 90: "61-90"}
    edges |= {91: "91-180", 180: "91-180", 181: "180+"}
    expected = dict.fromkeys(("current", "1-30", "31-60", "61-90", "91-180", "180+"), Decimal(0))
    for days, bucket in edges.items():
        due = AS_OF - timedelta(days=days)
        invoice(session, customer_id, f"{100 + days}.00", due - timedelta(days=30), due)
        expected[bucket] += Decimal(100 + days)
    late = invoice(session, customer_id, "999.00", date(2026, 5, 1), date(2026, 5, 31))  # 30 days past due
    pay(session, customer_id, late, "999.00", AS_OF + timedelta(days=1))  # received the day after: still owed
    expected["1-30"] += Decimal(999)
    paid = invoice(session, customer_id, "555.00", date(2026, 5, 1), date(2026, 5, 31))
    pay(session, customer_id, paid, "555.00", AS_OF)  # received that day: settled
    invoice(session, customer_id, "777.00", AS_OF + timedelta(days=1), AS_OF + timedelta(days=31))  # not issued yet

    frame = reports.aging(session, SYSTEM, ReportFilter(AS_OF, AS_OF, AS_OF, collector_id=mine), group_by="collector")

    [row] = frame.to_dict("records")
    assert {bucket: row[bucket] for bucket in expected} == expected
    assert row["total"] == sum(expected.values()) and row["overdue"] == row["total"] - expected["current"]
    assert (row["invoices"], row["customers"]) == (len(edges) + 1, 1)


def test_receivables_dso_and_cei_month_by_month(session):
    mine = collector(session)
    customer_id = customer_of(session, mine)
    a = invoice(session, customer_id, "1000.00", date(2026, 1, 10), date(2026, 2, 9))
    invoice(session, customer_id, "2000.00", date(2026, 2, 5), date(2026, 3, 7))
    pay(session, customer_id, a, "1000.00", date(2026, 2, 20))
    period = ReportFilter(date(2026, 3, 31), date(2026, 1, 1), date(2026, 3, 31), currency="PHP", collector_id=mine)

    frame = reports.monthly(session, SYSTEM, period)

    rows = frame.to_dict("records")
    assert [r["month"] for r in rows] == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    figures = [(r["receivables"], r["current_receivables"], r["credit_sales"], r["collected"]) for r in rows]
    assert figures == [
        (Decimal(1000), Decimal(1000), Decimal(1000), Decimal(0)),
        (Decimal(2000), Decimal(2000), Decimal(2000), Decimal(1000)),  # A paid and past due; B current
        (Decimal(2000), Decimal(0), Decimal(0), Decimal(0)),  # B overdue since 7 March
    ]
    assert [r["dso_countback"] for r in rows] == [Decimal("31.0"), Decimal("28.0"), Decimal("59.0")]
    assert [r["dso_standard"] for r in rows] == [Decimal("31.0"), Decimal("28.0"), None]  # no sales in March
    assert [r["average_days_delinquent"] for r in rows] == [Decimal("0.0"), Decimal("0.0"), None]
    # CEI: January has nothing to collect yet; February collected all it could; March nothing.
    assert [r["cei"] for r in rows] == [None, Decimal("100.0"), Decimal("0.0")]


def test_countback_walks_back_through_months_and_gives_up_after_its_limit():
    months = [(date(2026, 3, 1), Decimal(100)), (date(2026, 2, 1), Decimal(0)), (date(2026, 1, 1), Decimal(400))]
    assert countback_dso(Decimal(300), months) == Decimal(31) + Decimal(28) + Decimal(200) / 400 * 31
    assert countback_dso(Decimal(0), months) == 0
    assert countback_dso(Decimal(10_000), months) is None  # more owed than the months it may look back on


def test_recovery_is_the_share_of_what_was_overdue_at_the_start_collected_in_the_period(session):
    mine = collector(session)
    customer_id = customer_of(session, mine)
    c = invoice(session, customer_id, "500.00", date(2026, 1, 1), date(2026, 1, 31))
    pay(session, customer_id, c, "100.00", date(2026, 2, 10))  # before the period: not counted
    pay(session, customer_id, c, "300.00", date(2026, 3, 15))
    invoice(session, customer_id, "900.00", date(2026, 2, 20), date(2026, 3, 20))  # not overdue on 1 March
    invoice(session, customer_id, "200.00", date(2026, 1, 2), date(2026, 2, 1))  # overdue and never paid

    frame = reports.recovery(
        session, SYSTEM, ReportFilter(date(2026, 3, 31), date(2026, 3, 1), date(2026, 3, 31), collector_id=mine)
    )

    [row] = frame.to_dict("records")
    assert (row["currency"], row["invoices"], row["overdue_at_start"], row["collected"]) == (
        "PHP",
        2,
        Decimal(600),
        Decimal(300),
    )
    assert row["recovery_rate"] == Decimal("50.0")


def test_the_forecast_weights_a_promise_by_the_customers_own_kept_rate(session):
    mine = collector(session)
    customer_id = customer_of(session, mine)
    for status in ("kept", "kept", "kept", "broken"):  # history: kept 3 of 4
        session.add(
            Promise(
                customer_id=customer_id,
                made_on=AS_OF - timedelta(days=90),
                due_on=AS_OF - timedelta(days=80),
                currency="PHP",
                amount=Decimal(50),
                status=status,
                actor="tests",
            )
        )
    session.add(
        Promise(
            customer_id=customer_id,
            made_on=AS_OF,
            due_on=AS_OF + timedelta(days=9),
            currency="PHP",
            amount=Decimal(400),
            status="pending",
            actor="tests",
        )
    )
    session.flush()

    frame = reports.forecast(session, SYSTEM, ReportFilter(AS_OF, AS_OF, AS_OF, collector_id=mine))

    [row] = frame.to_dict("records")
    monday = AS_OF - timedelta(days=AS_OF.weekday())
    assert (row["week"], row["source"], row["amount"], row["weighted"]) == (
        monday + timedelta(weeks=1),
        "promises",
        Decimal(400),
        Decimal("300.00"),
    )
    promised = reports.promises(
        session, SYSTEM, ReportFilter(AS_OF, AS_OF - timedelta(days=100), AS_OF, collector_id=mine)
    )
    [taken] = promised.to_dict("records")
    assert (taken["made"], taken["kept"], taken["broken"], taken["pending"], taken["kept_rate"]) == (
        5,
        3,
        1,
        1,
        Decimal("75.0"),
    )


def test_open_disputes_are_counted_by_reason_and_age(session):
    mine = collector(session)
    customer_id = customer_of(session, mine)
    today = date.today()
    first = invoice(session, customer_id, "120.00", today - timedelta(days=60), today - timedelta(days=30))
    second = invoice(session, customer_id, "80.00", today - timedelta(days=60), today - timedelta(days=30))
    disputes.open_dispute(session, SYSTEM, first, category="wrong_amount")
    disputes.open_dispute(session, SYSTEM, second, category="wrong_amount")

    frame = reports.disputes(session, SYSTEM, ReportFilter(today, today, today, collector_id=mine))

    assert frame.to_dict("records") == [
        {
            "currency": "PHP",
            "category": "wrong_amount",
            "age": "0-7 days",
            "disputes": 2,
            "owed": Decimal("200.0000"),
            "oldest_days": 0,
        }
    ]


def test_a_collector_sees_only_their_own_accounts_whatever_they_ask_for(session):
    mine, theirs = collector(session), collector(session)
    for owner, amount in ((mine, "100.00"), (theirs, "9000.00")):
        invoice(session, customer_of(session, owner), amount, date(2026, 5, 1), date(2026, 5, 31))
    me = Actor(username="me", role=Role.COLLECTOR, user_id=mine)

    frame = reports.aging(session, me, ReportFilter(AS_OF, AS_OF, AS_OF, collector_id=theirs), group_by="collector")

    assert list(frame["total"]) == [Decimal("100.0000")]


def test_a_bad_choice_is_refused_with_a_clear_message(session):
    with pytest.raises(ValidationError, match="must start on or before its end"):
        ReportFilter(AS_OF, AS_OF, AS_OF - timedelta(days=1))
    with pytest.raises(ValidationError, match="not a currency code"):
        ReportFilter(AS_OF, AS_OF, AS_OF, currency="pesos")
    with pytest.raises(ValidationError, match="Group aging by one of"):
        reports.aging(session, SYSTEM, ReportFilter(AS_OF, AS_OF, AS_OF), group_by="planet")


def test_the_dashboard_shows_a_collector_this_months_dso_cei_and_collections_of_their_own_accounts(session):
    mine = collector(session)
    customer_id = customer_of(session, mine)
    a = invoice(session, customer_id, "1000.00", date(2026, 1, 10), date(2026, 2, 9))
    invoice(session, customer_id, "2000.00", date(2026, 2, 5), date(2026, 3, 7))
    pay(session, customer_id, a, "1000.00", date(2026, 2, 20))
    invoice(session, customer_of(session, collector(session)), "5000.00", date(2026, 2, 1), date(2026, 2, 2))
    me = Actor(username="me", role=Role.COLLECTOR, user_id=mine)

    [february] = dashboard.month_figures(session, me, as_of=date(2026, 2, 28))
    state = dashboard.health(session, me, as_of=date(2026, 2, 28))

    assert (february.currency, february.dso, february.cei) == ("PHP", Decimal("28.0"), Decimal("100.0"))
    assert (february.collected, february.collected_last_month) == (Money("1000", "PHP"), Money("0", "PHP"))
    assert state.plans == {"current": 0, "late": 0, "broken": 0}
    assert state.sends == {"sent": 0, "blocked": 0, "failed": 0, "uncertain": 0}


def test_a_steps_reminded_customers_are_compared_with_those_in_the_same_bucket_sent_nothing(session):
    mine = collector(session)
    sequence_id = create_sequence(
        session, SYSTEM, name=f"Effect {uuid.uuid4().hex[:6]}", steps=[NewStep(10, "email", "reminder")]
    )
    step_id = session.scalar(select(DunningStep.id).where(DunningStep.sequence_id == sequence_id))
    reminded, waits, never = (customer_of(session, mine) for _ in range(3))
    a = invoice(session, reminded, "300.00", date(2026, 1, 29), date(2026, 2, 28))
    b = invoice(session, waits, "300.00", date(2026, 1, 26), date(2026, 2, 25))
    invoice(session, never, "300.00", date(2026, 1, 26), date(2026, 2, 25))
    session.add(
        Send(
            send_key=f"effect-{uuid.uuid4().hex}",
            customer_id=reminded,
            step_id=step_id,
            currency="PHP",
            cycle=date(2026, 2, 28),
            channel="email",
            status="sent",
            sent_at=datetime(2026, 3, 10, 2, 0, tzinfo=UTC),  # 10 days past due: bucket 1-30
        )
    )
    session.flush()
    pay(session, reminded, a, "300.00", date(2026, 3, 12))  # 2 days after the reminder
    pay(session, waits, b, "100.00", date(2026, 3, 20))  # 11 days after that Monday, 9 March

    frame = reports.channels(
        session, SYSTEM, ReportFilter(date(2026, 3, 31), date(2026, 3, 1), date(2026, 3, 31), collector_id=mine)
    )

    [row] = frame.to_dict("records")
    assert (row["step"], row["stage"], row["channel"], row["bucket"], row["sends"]) == (
        1,
        "reminder",
        "email",
        "1-30",
        1,
    )
    assert (row["paid_within_3_days"], row["paid_within_7_days"], row["paid_within_14_days"]) == (
        Decimal("100.0"),
        Decimal("100.0"),
        Decimal("100.0"),
    )
    assert row["not_contacted"] == 2
    assert (row["not_contacted_paid_3_days"], row["not_contacted_paid_7_days"], row["not_contacted_paid_14_days"]) == (
        Decimal("0.0"),
        Decimal("0.0"),
        Decimal("50.0"),
    )


def test_a_collectors_dashboard_balances_count_only_their_own_accounts(session):
    mine, theirs = collector(session), collector(session)
    invoice(session, customer_of(session, mine), "100.00", date(2026, 5, 1), date(2026, 5, 31))
    invoice(session, customer_of(session, theirs), "9000.00", date(2026, 5, 1), date(2026, 5, 31))
    me = Actor(username="me", role=Role.COLLECTOR, user_id=mine)

    book = dashboard.book_summary(session, me, as_of=AS_OF)

    [php] = book.currencies
    assert (php.currency, php.open_balance, php.overdue_balance) == ("PHP", Money("100", "PHP"), Money("100", "PHP"))
    assert (book.customers, book.customers_with_balance, book.customers_overdue) == (1, 1, 1)


def test_aging_of_a_part_paid_invoice_counts_only_the_payments_received_by_the_day(session):
    mine = collector(session)
    customer_id = customer_of(session, mine)
    owed = invoice(session, customer_id, "1000.00", date(2026, 5, 1), date(2026, 5, 31))
    pay(session, customer_id, owed, "300.00", date(2026, 6, 15))
    pay(session, customer_id, owed, "200.00", date(2026, 7, 15))
    mine_only = ReportFilter(AS_OF, AS_OF, AS_OF, collector_id=mine)

    before = reports.aging(session, SYSTEM, mine_only, group_by="customer")
    after = reports.aging(session, SYSTEM, replace(mine_only, as_of=date(2026, 8, 1)), group_by="customer")

    assert before["1-30"].tolist() == [Decimal("700.0000")]  # the July payment is not in yet
    assert after["61-90"].tolist() == [Decimal("500.0000")]


def test_the_aging_overview_draws_the_largest_groups_of_each_currency_and_totals_them_all(session):
    mine = collector(session)
    for n in range(4):
        customer_id = customer_of(session, mine)
        invoice(session, customer_id, f"{100 * (n + 1)}.00", date(2026, 5, 1), date(2026, 5, 31))
        invoice(session, customer_id, f"{10 * (n + 1)}.00", date(2026, 5, 1), date(2026, 5, 31), currency="USD")
    mine_only = ReportFilter(AS_OF, AS_OF, AS_OF, collector_id=mine)

    overview = reports.aging_overview(session, SYSTEM, mine_only, group_by="customer", shown=2)

    largest = overview.largest.groupby("currency")["total"].apply(list).to_dict()
    assert largest == {
        "PHP": [Decimal("400.0000"), Decimal("300.0000")],
        "USD": [Decimal("40.0000"), Decimal("30.0000")],
    }
    totals = overview.totals.set_index("currency")
    assert totals.loc["PHP", "total"] == Decimal("1000.0000") and totals.loc["USD", "1-30"] == Decimal("100.0000")
    assert totals["groups"].tolist() == [4, 4] and overview.group_count == 8
    every = reports.aging(session, SYSTEM, mine_only, group_by="customer")
    assert len(every) == 8 and every.groupby("currency")["total"].sum().to_dict() == totals["total"].to_dict()


def credit_note(session, invoice_id: int, amount: str, on: date) -> None:
    """An upheld dispute: the way a credit note is made."""
    dispute_id = disputes.open_dispute(session, SYSTEM, invoice_id, category=disputes.DISPUTE_CATEGORIES[0])
    disputes.resolve_dispute(
        session, SYSTEM, dispute_id, resolution="upheld", credit=Money(amount, "PHP"), note="Goods returned", today=on
    )


@pytest.mark.parametrize("snapshot", [False, True], ids=["from the invoices", "from today's snapshot"])
def test_a_credit_note_is_no_longer_owed_from_the_day_it_was_made_in_every_balance(session, snapshot):
    mine = collector(session)
    customer_id = customer_of(session, mine)
    if snapshot:  # built first: the credit notes below reach it as refreshes
        aging_snapshot.rebuild(session, AS_OF)
    whole = invoice(session, customer_id, "1000.00", date(2026, 4, 1), date(2026, 5, 1))
    part = invoice(session, customer_id, "500.00", date(2026, 4, 1), date(2026, 5, 1))
    later = invoice(session, customer_id, "300.00", date(2026, 4, 1), date(2026, 5, 1))
    credit_note(session, whole, "1000.00", date(2026, 6, 10))  # closes it: status paid, never settled by payment
    pay(session, customer_id, part, "100.00", date(2026, 6, 1))
    credit_note(session, part, "150.00", date(2026, 6, 20))
    credit_note(session, later, "300.00", date(2026, 7, 10))  # after the day: still owed on it
    mine_only = ReportFilter(AS_OF, date(2026, 4, 1), AS_OF, collector_id=mine)

    [row] = reports.aging(session, SYSTEM, mine_only, group_by="customer").to_dict("records")
    before_any = reports.aging(session, SYSTEM, replace(mine_only, as_of=date(2026, 6, 5)), group_by="customer")
    book = dashboard.book_summary(session, Actor(username="me", role=Role.COLLECTOR, user_id=mine), as_of=AS_OF)
    months = reports.monthly(session, SYSTEM, replace(mine_only, currency="PHP"))
    recovery = reports.recovery(session, SYSTEM, replace(mine_only, start=date(2026, 6, 15), end=AS_OF))

    assert (row["31-60"], row["invoices"]) == (Decimal("550.0000"), 2)  # 500 − 100 − 150, and 300
    assert before_any["31-60"].tolist() == [Decimal("1700.0000")]  # only the payment was in by 5 June
    [php] = book.currencies
    assert php.open_balance == Money("550", "PHP") and php.open_invoices == 2
    assert book.customers_with_balance == 1
    june = months[months["month"] == date(2026, 6, 1)].iloc[0]
    assert (june["receivables"], june["collected"]) == (Decimal("550.00"), Decimal("100.00"))  # credits collect nothing
    # CEI: collected 100 of the 650 collectable (1800 owed, less 1150 credited); not 1250 of 1800.
    assert (june["credited"], june["cei"]) == (Decimal("1150.00"), Decimal("15.4"))
    [cohort] = recovery.to_dict("records")
    assert cohort["overdue_at_start"] == Decimal("700.0000")  # on 15 June: 400 and 300; the 1000 was credited


def test_an_invoice_fully_credited_leaves_no_customer_with_a_balance(session):
    mine = collector(session)
    customer_id = customer_of(session, mine)
    credit_note(session, invoice(session, customer_id, "80.00", date(2026, 4, 1), date(2026, 5, 1)), "80.00", AS_OF)
    me = Actor(username="me", role=Role.COLLECTOR, user_id=mine)

    book = dashboard.book_summary(session, me, as_of=AS_OF)
    aging = reports.aging(session, SYSTEM, ReportFilter(AS_OF, AS_OF, AS_OF, collector_id=mine))

    assert (book.currencies, book.customers_with_balance, book.customers_overdue) == ([], 0, 0)
    assert aging.empty


def test_a_credit_notes_day_corrected_by_hand_moves_what_its_invoice_owed_when(session):
    mine = collector(session)
    customer_id = customer_of(session, mine)
    owed = invoice(session, customer_id, "400.00", date(2026, 4, 1), date(2026, 5, 1))
    credit_note(session, owed, "400.00", date(2026, 6, 10))
    mine_only = ReportFilter(AS_OF, AS_OF, AS_OF, collector_id=mine)
    assert reports.aging(session, SYSTEM, mine_only).empty

    # A correction straight in the database (no service edits a credit note): the trigger on
    # adjustments (migration 0013) re-settles the invoice.
    session.execute(
        text("UPDATE adjustments SET made_on = :day WHERE customer_id = :customer"),
        {"day": date(2026, 7, 10), "customer": customer_id},
    )

    assert reports.aging(session, SYSTEM, mine_only)["31-60"].tolist() == [Decimal("400.0000")]
