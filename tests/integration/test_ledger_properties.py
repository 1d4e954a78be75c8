"""The ledger's invariants under random sequences of invoices, payments, reversals, credit applied
and credit refunded, in PHP, JPY and KWD, against real PostgreSQL; and the refusals that guard them.

Each hypothesis example works on a fresh customer inside its own savepoint, rolled back after it,
and looks only at that customer's rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core.errors import Conflict, ValidationError
from core.models import AccountBalance, AgingBalance, Allocation, Invoice, Payment, Refund
from core.money import Money, minor_unit
from core.services import aging_snapshot, ledger, payments
from tests.factories import SYSTEM, make_customer, make_invoice

CURRENCIES = ("PHP", "JPY", "KWD")
TODAY = date.today()

# No example database: hypothesis would write it into the working directory.
_examples = settings(
    max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def money(minor_units: int, currency: str) -> Money:
    return Money(Decimal(minor_units).scaleb(-minor_unit(currency)), currency)


def minor_units(amount: Money) -> int:
    return int(amount.amount.scaleb(minor_unit(amount.currency)))


def reference() -> str:
    return f"PROP-{uuid.uuid4().hex[:16]}"


# The operations a sequence is made of. Picks are indexes into what exists when the operation runs
# (taken modulo its length), so every generated sequence can run and shrinks well.


@dataclass(frozen=True)
class NewInvoice:
    currency: str
    minor_units: int
    due_in_days: int


@dataclass(frozen=True)
class Pay:
    currency: str
    minor_units: int
    days_ago: int
    picks: tuple[int, ...] | None  # None: oldest due first; else these open invoices, in this order


@dataclass(frozen=True)
class Reverse:
    pick: int


@dataclass(frozen=True)
class ApplyCredit:
    currency: str


@dataclass(frozen=True)
class RefundCredit:
    currency: str
    percent: int


@dataclass(frozen=True)
class ReverseAndPayAgain:
    pick: int


# Round sums meet exactly (an invoice paid off, credit left over) more often than random ones.
amounts = st.integers(min_value=1, max_value=8).map(lambda n: n * 250) | st.integers(min_value=1, max_value=20_000)
picks = st.integers(min_value=0, max_value=9)


@st.composite
def sequences(draw: st.DrawFn) -> list[object]:
    """Operations in one or two of the currencies, after an invoice or three, so that payments and
    invoices meet often."""
    in_use = draw(st.lists(st.sampled_from(CURRENCIES), min_size=1, max_size=2, unique=True))
    currencies = st.sampled_from(in_use)
    new_invoice = st.builds(NewInvoice, currencies, amounts, st.integers(min_value=-90, max_value=30))
    pay = st.builds(
        Pay,
        currencies,
        amounts,
        st.integers(min_value=0, max_value=60),
        st.none() | st.lists(picks, min_size=1, max_size=3).map(tuple),
    )
    operation = st.one_of(
        new_invoice,
        pay,
        new_invoice,
        pay,
        st.builds(Reverse, picks),
        st.builds(ApplyCredit, currencies),
        st.builds(RefundCredit, currencies, st.integers(min_value=1, max_value=100)),
        st.builds(ReverseAndPayAgain, picks),
    )
    return draw(st.lists(new_invoice, min_size=1, max_size=3)) + draw(st.lists(operation, min_size=3, max_size=20))


# What the database holds for one customer


@dataclass(frozen=True)
class Ledger:
    invoices: dict[int, tuple[Money, str]]  # id -> amount, status
    payments: dict[int, tuple[Money, bool]]  # id -> amount, reversed
    allocated_to: dict[int, Money]  # invoice id -> sum of its allocations
    allocated_from: dict[int, Money]  # payment id -> sum of its allocations
    refunded: dict[int, Money]  # payment id -> sum of its refunds
    account_balances: dict[str, Money]  # currency -> account_balances.open_amount
    stored_amounts: list[tuple[Decimal, str]]  # every amount column with its currency

    def open_balance(self, invoice_id: int) -> Money:
        amount, _ = self.invoices[invoice_id]
        return amount - self.allocated_to.get(invoice_id, Money.zero(amount.currency))

    def open_invoices(self, currency: str) -> list[int]:
        return [i for i, (amount, status) in self.invoices.items() if status == "open" and amount.currency == currency]


def read_ledger(session: Session, customer_id: int) -> Ledger:
    session.expire_all()
    invoice_rows = session.execute(
        select(Invoice.id, Invoice.amount, Invoice.currency, Invoice.status)
        .where(Invoice.customer_id == customer_id)
        .order_by(Invoice.id)
    ).all()
    payment_rows = session.execute(
        select(Payment.id, Payment.amount, Payment.currency, Payment.reversed_on)
        .where(Payment.customer_id == customer_id)
        .order_by(Payment.id)
    ).all()
    invoice_ids = [row.id for row in invoice_rows]
    payment_ids = [row.id for row in payment_rows]
    allocation_rows = session.execute(
        select(Allocation.payment_id, Allocation.invoice_id, Allocation.amount, Invoice.currency)
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .where(Allocation.invoice_id.in_(invoice_ids) | Allocation.payment_id.in_(payment_ids))
    ).all()
    refund_rows = session.execute(
        select(Refund.payment_id, Refund.amount, Refund.currency).where(Refund.customer_id == customer_id)
    ).all()
    balance_rows = session.execute(
        select(AccountBalance.currency, AccountBalance.open_amount).where(AccountBalance.customer_id == customer_id)
    ).all()

    allocated_to: dict[int, Money] = {}
    allocated_from: dict[int, Money] = {}
    for row in allocation_rows:
        amount = Money(row.amount, row.currency)
        allocated_to[row.invoice_id] = allocated_to.get(row.invoice_id, Money.zero(row.currency)) + amount
        allocated_from[row.payment_id] = allocated_from.get(row.payment_id, Money.zero(row.currency)) + amount
    refunded: dict[int, Money] = {}
    for row in refund_rows:
        refunded[row.payment_id] = refunded.get(row.payment_id, Money.zero(row.currency)) + Money(
            row.amount, row.currency
        )
    return Ledger(
        invoices={row.id: (Money(row.amount, row.currency), row.status) for row in invoice_rows},
        payments={row.id: (Money(row.amount, row.currency), row.reversed_on is not None) for row in payment_rows},
        allocated_to=allocated_to,
        allocated_from=allocated_from,
        refunded=refunded,
        account_balances={row.currency: Money(row.open_amount, row.currency) for row in balance_rows},
        stored_amounts=[
            *((row.amount, row.currency) for row in invoice_rows),
            *((row.amount, row.currency) for row in payment_rows),
            *((row.amount, row.currency) for row in allocation_rows),
            *((row.amount, row.currency) for row in refund_rows),
            *((row.open_amount, row.currency) for row in balance_rows),
        ],
    )


def net_position(session: Session, customer_id: int) -> dict[str, Money]:
    """Per currency, what the customer owes less the credit they hold."""
    book = read_ledger(session, customer_id)
    credit = payments.customer_credit(session, customer_id)
    net = {currency: Money.zero(currency) for currency in CURRENCIES}
    for invoice_id, (amount, _) in book.invoices.items():
        net[amount.currency] += book.open_balance(invoice_id)
    for currency, money_held in credit.items():
        net[currency] -= money_held
    return net


def aging_of(session: Session, customer_id: int) -> list[tuple]:
    session.expire_all()
    rows = session.scalars(select(AgingBalance).where(AgingBalance.customer_id == customer_id))
    columns = AgingBalance.__table__.columns.keys()
    return sorted(tuple(getattr(row, column) for column in columns) for row in rows)


def assert_ledger_holds(session: Session, customer_id: int) -> None:
    """Nothing is allocated twice, balances and credit add up per currency, amounts are whole."""
    book = read_ledger(session, customer_id)
    credit = payments.customer_credit(session, customer_id)

    for payment_id, (amount, reversed_) in book.payments.items():
        zero = Money.zero(amount.currency)
        taken = book.allocated_from.get(payment_id, zero) + book.refunded.get(payment_id, zero)
        assert taken <= amount, f"payment {payment_id} of {amount} gave out {taken}"
        if reversed_:
            assert payment_id not in book.allocated_from, f"reversed payment {payment_id} still pays invoices"
            assert ledger.unallocated(session, session.get(Payment, payment_id)).is_zero()

    for invoice_id, (amount, status) in book.invoices.items():
        paid = book.allocated_to.get(invoice_id, Money.zero(amount.currency))
        assert paid <= amount, f"invoice {invoice_id} of {amount} has {paid} allocated"
        assert status == ("paid" if paid == amount else "open"), f"invoice {invoice_id}: {paid} of {amount}, {status}"

    # The cached settlement days (triggers on allocations, migration 0007) equal the ledger's own
    # answer, through every payment, reversal, credit and refund.
    settled = {s.invoice_id: s.settled_on for s in ledger.settled_invoices(session, customer_id=customer_id)}
    cached = session.execute(
        select(Invoice.id, Invoice.settled_on, Invoice.first_paid_on).where(Invoice.customer_id == customer_id)
    ).all()
    for row in cached:
        assert row.settled_on == settled.get(row.id), f"invoice {row.id}: cached {row.settled_on}"
        assert (row.first_paid_on is not None) == (row.id in book.allocated_to), f"invoice {row.id}: first paid"
    # And what payments have covered, with the latest payment's day (migration 0009), equal the
    # allocations themselves.
    covered = session.execute(
        select(
            Invoice.id,
            Invoice.paid_amount,
            Invoice.last_paid_on,
            func.sum(Allocation.amount),
            func.max(Payment.received_on),
        )
        .outerjoin(Allocation, and_(Allocation.invoice_id == Invoice.id, Allocation.payment_id.is_not(None)))
        .outerjoin(Payment, Payment.id == Allocation.payment_id)
        .where(Invoice.customer_id == customer_id)
        .group_by(Invoice.id)
    ).all()
    for invoice_id, paid_amount, last_paid_on, allocated, last_received in covered:
        assert paid_amount == (allocated or 0), (
            f"invoice {invoice_id}: cached paid {paid_amount}, allocated {allocated}"
        )
        assert last_paid_on == last_received, f"invoice {invoice_id}: cached last paid {last_paid_on}"

    for currency in CURRENCIES:
        zero = Money.zero(currency)
        invoiced = sum((a for a, _ in book.invoices.values() if a.currency == currency), zero)
        allocated = sum((m for m in book.allocated_to.values() if m.currency == currency), zero)
        open_total = sum(
            (
                book.open_balance(i)
                for i, (a, status) in book.invoices.items()
                if a.currency == currency and status == "open"
            ),
            zero,
        )
        assert invoiced - allocated == open_total
        assert book.account_balances.get(currency, zero) == open_total

        received = sum((a for a, reversed_ in book.payments.values() if a.currency == currency and not reversed_), zero)
        refunded = sum((m for m in book.refunded.values() if m.currency == currency), zero)
        assert received - allocated - refunded == credit.get(currency, zero)

    # The aging snapshot (migration 0012), today's and the last month end's, was refreshed with
    # every change: computing this customer's rows afresh from the invoices changes none of them.
    kept = aging_of(session, customer_id)
    # ... and, when there is one for today (the sequences build it), adds up per currency to what the
    # ledger itself says is open: every invoice here is issued and every payment received by today.
    totals = dict(
        session.execute(
            select(AgingBalance.currency, AgingBalance.total).where(
                AgingBalance.customer_id == customer_id, AgingBalance.day == TODAY
            )
        ).all()
    )
    for currency in CURRENCIES if TODAY in aging_snapshot.snapshot_days(session) else ():
        open_total = sum(
            (book.open_balance(i) for i, (a, status) in book.invoices.items() if a.currency == currency),
            Money.zero(currency),
        )
        assert Money(totals.get(currency, 0), currency) == open_total, f"aging total in {currency}"
    savepoint = session.begin_nested()
    aging_snapshot.refresh(session, [customer_id])
    assert aging_of(session, customer_id) == kept
    savepoint.rollback()

    for amount, currency in book.stored_amounts:
        step = Decimal(1).scaleb(-minor_unit(currency))
        assert amount == amount.quantize(step), f"{amount} is not whole in {currency}'s minor unit"


# Running a sequence


class Desk:
    """Runs operations for one customer and checks each service's own answer on the way."""

    def __init__(self, session: Session, customer_id: int) -> None:
        self.session = session
        self.customer_id = customer_id

    def run(self, operation: object) -> None:
        match operation:
            case NewInvoice(currency, units, due_in_days):
                amount = money(units, currency)
                make_invoice(
                    self.session,
                    self.customer_id,
                    amount=str(amount.amount),
                    currency=currency,
                    due_in_days=due_in_days,
                )
            case Pay(currency, units, days_ago, picks):
                self.pay(money(units, currency), days_ago, picks)
            case Reverse(pick):
                self.reverse(pick)
            case ApplyCredit(currency):
                self.apply_credit(currency)
            case RefundCredit(currency, percent):
                self.refund(currency, percent)
            case ReverseAndPayAgain(pick):
                self.reverse_and_pay_again(pick)

    def pay(self, amount: Money, days_ago: int, picks: tuple[int, ...] | None) -> None:
        open_ids = read_ledger(self.session, self.customer_id).open_invoices(amount.currency)
        chosen = [open_ids[p % len(open_ids)] for p in picks] if picks is not None and open_ids else None
        result = ledger.record_payment(
            self.session,
            SYSTEM,
            self.customer_id,
            amount=amount,
            received_on=TODAY - timedelta(days=days_ago),
            reference=reference(),
            invoice_ids=chosen,
        )
        assert sum(result.allocated.values(), Money.zero(amount.currency)) + result.credit == amount
        assert result.credit >= Money.zero(amount.currency)
        if chosen is not None:
            assert set(result.allocated) <= set(chosen)

    def reverse(self, pick: int) -> None:
        book = read_ledger(self.session, self.customer_id)
        if not book.payments:
            return
        payment_id = list(book.payments)[pick % len(book.payments)]
        if book.payments[payment_id][1]:
            event("reverse: refused, already reversed")
            with pytest.raises(Conflict, match="already reversed"):
                payments.reverse_payment(self.session, SYSTEM, payment_id, reason="Bounced")
        elif payment_id in book.refunded:
            event("reverse: refused, credit refunded")
            with pytest.raises(ValidationError, match="already refunded"):
                payments.reverse_payment(self.session, SYSTEM, payment_id, reason="Bounced")
        else:
            zero = Money.zero(book.payments[payment_id][0].currency)
            reopened = payments.reverse_payment(self.session, SYSTEM, payment_id, reason="Bounced")
            assert sum(reopened.values(), zero) == book.allocated_from.get(payment_id, zero)

    def apply_credit(self, currency: str) -> None:
        book = read_ledger(self.session, self.customer_id)
        credit = payments.customer_credit(self.session, self.customer_id).get(currency)
        open_total = sum((book.open_balance(i) for i in book.open_invoices(currency)), Money.zero(currency))
        if credit is None or open_total.is_zero():
            event("apply credit: refused, nothing to apply")
            with pytest.raises(ValidationError, match=f"no (open )?{currency}"):
                payments.apply_credit(self.session, SYSTEM, self.customer_id, currency=currency)
            return
        applied = payments.apply_credit(self.session, SYSTEM, self.customer_id, currency=currency)
        assert sum(applied.values(), Money.zero(currency)) == min(credit, open_total)

    def refund(self, currency: str, percent: int) -> None:
        credit = payments.customer_credit(self.session, self.customer_id).get(currency, Money.zero(currency))
        amount = money(max(minor_units(credit) * percent // 100, 1), currency)
        if credit.is_zero():
            event("refund: refused, no credit")
            with pytest.raises(ValidationError, match="credit is"):
                self.refund_money(amount)
            return
        self.refund_money(amount)
        assert payments.credit_total(self.session, self.customer_id, currency) == credit - amount

    def refund_money(self, amount: Money) -> None:
        payments.refund_credit(
            self.session, SYSTEM, self.customer_id, amount=amount, refunded_on=TODAY, reference=reference()
        )

    def reverse_and_pay_again(self, pick: int) -> None:
        """Reverse a payment and record it again (same amount and date, new reference) on the
        invoices it had paid, in the order it paid them. The customer's net position never moves.
        Each invoice is back where it was when the replay cannot go elsewhere: every invoice the
        payment paid was settled (all but the last, if the payment had no money left over).
        Otherwise an invoice reopened since by another payment's reversal takes more this time."""
        book = read_ledger(self.session, self.customer_id)
        candidates = [i for i, (_, reversed_) in book.payments.items() if not reversed_ and i not in book.refunded]
        if not candidates:
            return
        payment_id = candidates[pick % len(candidates)]
        amount, _ = book.payments[payment_id]
        received_on = self.session.get(Payment, payment_id).received_on
        paid_in_order = list(
            dict.fromkeys(
                self.session.scalars(
                    select(Allocation.invoice_id).where(Allocation.payment_id == payment_id).order_by(Allocation.id)
                )
            )
        )
        had_credit = not ledger.unallocated(self.session, self.session.get(Payment, payment_id)).is_zero()
        settled = [book.open_balance(i).is_zero() for i in paid_in_order]
        replays_exactly = all(settled) or (not had_credit and all(settled[:-1]))
        net_before = net_position(self.session, self.customer_id)

        payments.reverse_payment(self.session, SYSTEM, payment_id, reason="Cheque bounced")
        ledger.record_payment(
            self.session,
            SYSTEM,
            self.customer_id,
            amount=amount,
            received_on=received_on,
            reference=reference(),
            invoice_ids=paid_in_order,
        )

        assert net_position(self.session, self.customer_id) == net_before
        event(f"paid again: {'exactly as before' if replays_exactly else 'elsewhere'}")
        if replays_exactly:
            after = read_ledger(self.session, self.customer_id)
            assert {i: (after.open_balance(i), after.invoices[i][1]) for i in book.invoices} == {
                i: (book.open_balance(i), book.invoices[i][1]) for i in book.invoices
            }


@_examples
@given(sequences())
def test_every_sequence_keeps_allocations_balances_and_credit_consistent(session, steps):
    savepoint = session.begin_nested()
    try:
        customer_id = make_customer(session)
        aging_snapshot.rebuild(session, TODAY)
        desk = Desk(session, customer_id)
        for step in steps:
            desk.run(step)
            assert_ledger_holds(session, customer_id)
    finally:
        savepoint.rollback()


# Examples


def php(amount: str) -> Money:
    return Money(amount, "PHP")


def pay(session: Session, customer_id: int, amount: Money, ref: str, *, source: str = "manual") -> ledger.PaymentResult:
    return ledger.record_payment(
        session, SYSTEM, customer_id, amount=amount, received_on=TODAY, reference=ref, source=source
    )


def test_an_overpayment_becomes_credit_and_the_balance_never_goes_below_zero(session):
    customer = make_customer(session)
    invoice = make_invoice(session, customer, amount="1000.00")

    first = pay(session, customer, php("1500.00"), reference())
    second = pay(session, customer, php("200.00"), reference())

    assert first.allocated == {invoice: php("1000.00")}
    assert first.credit == php("500.00")
    assert second.allocated == {}
    assert second.credit == php("200.00")
    assert ledger.open_balance(session, invoice) == php("0.00")
    assert payments.customer_credit(session, customer) == {"PHP": php("700.00")}
    assert session.scalars(select(AccountBalance).where(AccountBalance.customer_id == customer)).all() == []
    assert_ledger_holds(session, customer)


def test_the_same_reference_from_the_same_source_is_refused_naming_the_first_payment(session):
    customer = make_customer(session)
    invoice = make_invoice(session, customer, amount="1000.00")
    ref = reference()
    first = pay(session, customer, php("400.00"), ref)

    with pytest.raises(Conflict, match=f"payment #{first.payment_id} of ₱400.00") as refused:
        pay(session, customer, php("250.00"), ref)

    assert ref in str(refused.value)
    assert list(read_ledger(session, customer).payments) == [first.payment_id]
    assert ledger.open_balance(session, invoice) == php("600.00")


def test_the_same_reference_from_another_source_is_another_payment(session):
    customer = make_customer(session)
    ref = reference()
    pay(session, customer, php("400.00"), ref)

    pay(session, customer, php("400.00"), ref, source="gcash")

    assert payments.customer_credit(session, customer) == {"PHP": php("800.00")}


def test_reversing_a_payment_twice_is_refused(session):
    customer = make_customer(session)
    invoice = make_invoice(session, customer, amount="1000.00")
    payment = pay(session, customer, php("1000.00"), reference())
    payments.reverse_payment(session, SYSTEM, payment.payment_id, reason="Cheque bounced")

    with pytest.raises(Conflict, match="already reversed .* Cheque bounced"):
        payments.reverse_payment(session, SYSTEM, payment.payment_id, reason="Bounced again")

    assert ledger.open_balance(session, invoice) == php("1000.00")
    assert_ledger_holds(session, customer)


def test_refunding_more_than_the_credit_is_refused(session):
    customer = make_customer(session)
    make_invoice(session, customer, amount="1000", currency="JPY")
    pay(session, customer, Money("1500", "JPY"), reference())

    with pytest.raises(ValidationError, match="credit is ¥500; ¥501 is more"):
        payments.refund_credit(
            session, SYSTEM, customer, amount=Money("501", "JPY"), refunded_on=TODAY, reference=reference()
        )

    assert payments.customer_credit(session, customer) == {"JPY": Money("500", "JPY")}


def test_a_payment_whose_credit_was_refunded_cannot_be_reversed(session):
    customer = make_customer(session)
    invoice = make_invoice(session, customer, amount="1.000", currency="KWD")
    payment = ledger.record_payment(
        session, SYSTEM, customer, amount=Money("1.500", "KWD"), received_on=TODAY, reference=reference()
    )
    payments.refund_credit(
        session, SYSTEM, customer, amount=Money("0.250", "KWD"), refunded_on=TODAY, reference=reference()
    )

    with pytest.raises(ValidationError, match="already refunded"):
        payments.reverse_payment(session, SYSTEM, payment.payment_id, reason="Chargeback")

    assert ledger.open_balance(session, invoice) == Money("0", "KWD")
    assert payments.customer_credit(session, customer) == {"KWD": Money("0.250", "KWD")}
    assert_ledger_holds(session, customer)


def test_a_payment_dated_tomorrow_is_refused(session):
    customer = make_customer(session)

    with pytest.raises(ValidationError, match="received in the future"):
        ledger.record_payment(
            session, SYSTEM, customer, amount=php("1.00"), received_on=TODAY + timedelta(days=1), reference=reference()
        )


def test_a_reversed_payment_recorded_again_on_the_same_invoices_puts_every_balance_back(session):
    customer = make_customer(session)
    oldest = make_invoice(session, customer, amount="1.000", currency="KWD", due_in_days=-60)
    middle = make_invoice(session, customer, amount="0.500", currency="KWD", due_in_days=-30)
    newest = make_invoice(session, customer, amount="0.800", currency="KWD", due_in_days=-5)
    paid = ledger.record_payment(
        session, SYSTEM, customer, amount=Money("1.700", "KWD"), received_on=TODAY, reference=reference()
    )
    before = read_ledger(session, customer)

    payments.reverse_payment(session, SYSTEM, paid.payment_id, reason="Chargeback")
    assert_ledger_holds(session, customer)
    ledger.record_payment(
        session,
        SYSTEM,
        customer,
        amount=Money("1.700", "KWD"),
        received_on=TODAY,
        reference=reference(),
        invoice_ids=[oldest, middle, newest],
    )

    after = read_ledger(session, customer)
    assert [after.open_balance(i) for i in (oldest, middle, newest)] == [
        Money("0", "KWD"),
        Money("0", "KWD"),
        Money("0.600", "KWD"),
    ]
    assert {i: status for i, (_, status) in after.invoices.items()} == {
        i: status for i, (_, status) in before.invoices.items()
    }
    assert_ledger_holds(session, customer)
