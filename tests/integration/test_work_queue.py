"""The work queue and the account's actions against real PostgreSQL: ranking, filters, promises
kept and broken, disputes, holds, documents, write-offs, assignment, and who may do what."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from core.errors import Conflict, PermissionDenied, ValidationError
from core.models import AccountSummary, Invoice
from core.money import Money
from core.priority import Weights, priority
from core.roles import Role
from core.services import (
    accounts,
    adjustments,
    assignment,
    customers,
    disputes,
    documents,
    ledger,
    promises,
    queue,
    settings,
    summaries,
)
from core.services.activities import CallLog
from core.services.queue import QueueFilter
from tests.factories import SYSTEM, make_customer, make_invoice, make_user

TODAY = date.today()
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 32


def mine(session, user, **filters):
    """This test's accounts in the queue of `user`, in queue order (other tests' rows are left out)."""
    page = queue.list_work_queue(
        session, user.as_actor(), QueueFilter(mine=True, **filters), as_of=TODAY, page_size=100
    )
    return [row.customer_id for row in page.rows], page


@pytest.fixture
def collector(session):
    return make_user(session, Role.COLLECTOR)


def overdue_account(session, collector, *, amount="1000.00", days=40, **kwargs):
    customer = make_customer(session, collector_id=collector.id, **kwargs)
    invoice = make_invoice(session, customer, amount=amount, due_in_days=-days)
    return customer, invoice


def test_the_queue_lists_only_overdue_accounts_and_explains_each_score(session, collector):
    late, _ = overdue_account(session, collector, days=100)
    current = make_customer(session, collector_id=collector.id)
    make_invoice(session, current, due_in_days=10)

    ids, page = mine(session, collector)

    assert ids == [late]
    [row] = page.rows
    assert "91–180 days past due" in row.priority.explain()
    assert row.priority.score == sum(reason.points for reason in row.priority.reasons)
    assert mine(session, collector, include_not_overdue=True)[0] == [late, current]


def test_the_database_score_agrees_with_the_python_rule_for_every_account(session, collector):
    for days in (5, 45, 75, 120, 400):
        overdue_account(session, collector, days=days, amount=str(days * 100))
    broken, _ = overdue_account(session, collector, days=10)
    promises.make_promise(
        session,
        collector.as_actor(),
        broken,
        amount=Money("50", "PHP"),
        due_on=TODAY - timedelta(days=2),
        today=TODAY - timedelta(days=5),
    )
    settings.save_weights(session, SYSTEM, Weights(broken_promise=45, never_contacted=3), version=0)
    weights = settings.get_weights(session)

    scores = queue.sql_scores(session, as_of=TODAY)

    assert scores
    assert all(priority(facts, weights).score == score for score, facts in scores.values())
    assert scores[broken][0] >= 45


def test_a_promise_made_for_yesterday_and_not_paid_is_broken_and_lifts_the_account(session, collector):
    quiet, _ = overdue_account(session, collector, days=40)
    promised, _ = overdue_account(session, collector, days=40)
    promises.make_promise(
        session,
        collector.as_actor(),
        promised,
        amount=Money("400", "PHP"),
        due_on=TODAY - timedelta(days=1),
        today=TODAY - timedelta(days=4),
    )
    customers.set_next_action(session, SYSTEM, promised, on=None)  # the promise scheduled a follow-up for today

    ids, page = mine(session, collector)

    assert ids == [promised, quiet]
    top = page.rows[0]
    assert f"broken promise on {(TODAY - timedelta(days=1)).day}" in top.priority.explain()
    assert top.promise.endswith("broken")
    assert mine(session, collector, broken_promise=True)[0] == [promised]
    view = accounts.view_account(session, SYSTEM, promised, as_of=TODAY)
    assert [p.status for p in view.promises] == ["broken"]
    assert summaries.settle_promises(session, as_of=TODAY) >= 1
    kinds = [e.summary for e in accounts.account_timeline(session, SYSTEM, promised, kinds=("promise",))]
    assert any(summary.endswith("broken") for summary in kinds)


def test_a_payment_covering_a_promise_by_its_date_keeps_it(session, collector):
    customer, invoice = overdue_account(session, collector, days=40)
    promises.make_promise(
        session, collector.as_actor(), customer, amount=Money("300", "PHP"), due_on=TODAY, today=TODAY
    )
    ledger.record_payment(session, SYSTEM, customer, amount=Money("300", "PHP"), received_on=TODAY, reference="PTP-1")

    view = accounts.view_account(session, SYSTEM, customer, as_of=TODAY + timedelta(days=3))
    assert [p.status for p in view.promises] == ["kept"]
    summary = session.get(AccountSummary, customer)
    assert summary.promise_status == "kept"
    assert (
        "promise"
        not in queue.list_work_queue(
            session, SYSTEM, QueueFilter(search=view.external_ref), as_of=TODAY + timedelta(days=3)
        )
        .rows[0]
        .priority.explain()
    )


def test_a_call_with_a_promise_is_one_action_and_sets_the_next_action(session, collector):
    customer, invoice = overdue_account(session, collector)

    call_id, promise_id = promises.log_call_with_promise(
        session,
        collector.as_actor(),
        customer,
        CallLog(outcome="promise_made", minutes=4, note="Will pay Friday", invoice_id=invoice),
        amount=Money("500", "PHP"),
        due_on=TODAY + timedelta(days=3),
    )

    assert promise_id is not None
    entries = accounts.account_timeline(session, SYSTEM, customer, kinds=("call", "promise"))
    assert sorted(e.kind for e in entries) == ["call", "promise"]
    assert any("Promise made, 4 min. Will pay Friday" in e.summary for e in entries)
    view = accounts.view_account(session, SYSTEM, customer, as_of=TODAY)
    assert view.next_action_on == TODAY + timedelta(days=4)
    assert mine(session, collector)[0] == []  # out of today's queue until the day after the promise
    assert mine(session, collector, include_scheduled=True)[0] == [customer]
    with pytest.raises(ValidationError, match="needs the promised amount"):
        promises.log_call_with_promise(session, collector.as_actor(), customer, CallLog(outcome="promise_made"))


def test_a_disputed_invoice_is_marked_left_out_of_the_balance_chased_and_resolved_either_way(session, collector):
    customer = make_customer(session, collector_id=collector.id)
    disputed = make_invoice(session, customer, amount="900.00", due_in_days=-60)
    other = make_invoice(session, customer, amount="100.00", due_in_days=-5)

    dispute_id = disputes.open_dispute(
        session, collector.as_actor(), disputed, category="wrong_amount", note="Billed twice"
    )

    [row] = mine(session, collector)[1].rows
    assert row.days_past_due == 5  # the disputed invoice no longer counts as the oldest debt
    assert "disputed" in row.flags
    view = accounts.view_account(session, SYSTEM, customer, as_of=TODAY)
    [line] = [i for i in view.invoices if i.id == disputed]
    assert (line.disputed, line.dispute_category) == (True, "wrong_amount")
    assert view.balances[0].disputed == Money("900", "PHP")

    disputes.resolve_dispute(
        session,
        collector.as_actor(),
        dispute_id,
        resolution="upheld",
        note="Duplicate line",
        credit=Money("400", "PHP"),
    )
    assert ledger.open_balance(session, disputed) == Money("500", "PHP")
    assert session.get(Invoice, disputed).disputed is False
    assert mine(session, collector)[1].rows[0].days_past_due == 60
    with pytest.raises(Conflict, match="already upheld"):
        disputes.resolve_dispute(session, collector.as_actor(), dispute_id, resolution="rejected", note="x")
    again = disputes.open_dispute(session, collector.as_actor(), other, category="not_delivered")
    disputes.resolve_dispute(session, collector.as_actor(), again, resolution="rejected", note="Signed delivery note")
    assert ledger.open_balance(session, other) == Money("100", "PHP")


def test_an_upheld_credit_cannot_exceed_what_the_invoice_owes(session, collector):
    customer, invoice = overdue_account(session, collector, amount="100.00")
    dispute_id = disputes.open_dispute(session, collector.as_actor(), invoice, category="pricing")
    with pytest.raises(ValidationError, match="more than invoice"):
        disputes.resolve_dispute(
            session, collector.as_actor(), dispute_id, resolution="upheld", note="x", credit=Money("100.01", "PHP")
        )


def test_holds_and_flags_record_who_and_why_and_a_dated_hold_leaves_today_until_then(session, collector):
    customer, _ = overdue_account(session, collector)

    customers.set_flag(
        session, collector.as_actor(), customer, "on_hold", on=True, why="Awaiting CFO", until=TODAY + timedelta(days=5)
    )

    [flag] = accounts.view_account(session, SYSTEM, customer, as_of=TODAY).flags
    assert (flag.name, flag.by, flag.why, flag.until) == (
        "on_hold",
        collector.username,
        "Awaiting CFO",
        TODAY + timedelta(days=5),
    )
    assert mine(session, collector)[0] == []
    assert mine(session, collector, include_scheduled=True, flags=("on_hold",))[0] == [customer]
    customers.set_flag(session, collector.as_actor(), customer, "on_hold", on=False, why="CFO called back")
    assert mine(session, collector)[0] == [customer]
    with pytest.raises(ValidationError, match="Reason"):
        customers.set_flag(session, collector.as_actor(), customer, "deceased", on=True, why=" ")


def test_contact_preferences_opt_out_per_channel_with_hours_and_language(session, collector):
    customer, _ = overdue_account(session, collector)
    [contact] = customers.list_contacts(session, SYSTEM, customer)
    from datetime import time

    customers.set_contact_preferences(
        session,
        collector.as_actor(),
        contact.id,
        customers.ContactPreferences(
            opted_out=("email",), preferred_from=time(9), preferred_until=time(17), language="fil"
        ),
    )

    [saved] = customers.list_contacts(session, SYSTEM, customer)
    assert (saved.opted_out, saved.preferred_from, saved.preferred_until, saved.language) == (
        ("email",),
        time(9),
        time(17),
        "fil",
    )
    with pytest.raises(ValidationError, match="start before"):
        customers.set_contact_preferences(
            session,
            collector.as_actor(),
            contact.id,
            customers.ContactPreferences(preferred_from=time(18), preferred_until=time(9)),
        )


def test_documents_are_checked_by_content_and_read_back(session, collector):
    customer, invoice = overdue_account(session, collector)

    doc = documents.attach_document(
        session, collector.as_actor(), customer, file_name="C:\\scans\\proof.pdf", content=PDF, invoice_id=invoice
    )
    image = documents.attach_document(session, collector.as_actor(), customer, file_name="photo.bin", content=PNG)

    assert documents.read_document(session, SYSTEM, doc).content == PDF
    assert documents.read_document(session, SYSTEM, image).media_type == "image/png"
    listed = accounts.view_account(session, SYSTEM, customer, as_of=TODAY).documents
    assert {(d.file_name, d.media_type) for d in listed} == {
        ("proof.pdf", "application/pdf"),
        ("photo.bin", "image/png"),
    }
    with pytest.raises(ValidationError, match="Only PDFs and images"):
        documents.attach_document(
            session, collector.as_actor(), customer, file_name="invoice.pdf", content=b"MZ\x90\x00 not a pdf"
        )
    with pytest.raises(ValidationError, match="at most 10 MB"):
        documents.attach_document(
            session, collector.as_actor(), customer, file_name="big.pdf", content=PDF + b"0" * (10 * 1024 * 1024)
        )


def test_documents_can_live_in_a_configured_folder(session, collector, tmp_path, monkeypatch):
    from core.config import get_settings

    customer, _ = overdue_account(session, collector)
    monkeypatch.setenv("RECOUP_DOCUMENTS_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        doc = documents.attach_document(session, collector.as_actor(), customer, file_name="a.pdf", content=PDF)
        assert [p.read_bytes() for p in tmp_path.iterdir()] == [PDF]
        assert documents.read_document(session, SYSTEM, doc).content == PDF
    finally:
        monkeypatch.delenv("RECOUP_DOCUMENTS_DIR")
        get_settings.cache_clear()


def test_a_manager_writes_off_a_balance_and_a_collector_may_not(session, collector):
    manager = make_user(session, Role.MANAGER)
    customer, invoice = overdue_account(session, collector, amount="750.00")
    with pytest.raises(PermissionDenied, match="may not write off"):
        adjustments.write_off(session, collector.as_actor(), customer, currency="PHP", reason="Gone")

    total = adjustments.write_off(session, manager.as_actor(), customer, currency="PHP", reason="Company dissolved")

    assert total == Money("750", "PHP")
    assert session.get(Invoice, invoice).status == "written_off"
    assert mine(session, collector)[0] == []
    assert accounts.view_account(session, SYSTEM, customer, as_of=TODAY).balances == ()


def test_a_collector_reads_another_collectors_account_but_every_action_is_refused(session, collector):
    other = make_user(session, Role.COLLECTOR)
    customer, invoice = overdue_account(session, other)
    actor = collector.as_actor()

    view = accounts.view_account(session, actor, customer, as_of=TODAY)

    assert not view.may_act and "assigned to another collector" in view.refusal
    [contact] = view.contacts
    refused = [
        lambda: promises.log_call_with_promise(session, actor, customer, CallLog(outcome="no_answer")),
        lambda: promises.make_promise(session, actor, customer, amount=Money("1", "PHP"), due_on=TODAY),
        lambda: disputes.open_dispute(session, actor, invoice, category="pricing"),
        lambda: customers.set_flag(session, actor, customer, "bankrupt", on=True, why="Court notice"),
        lambda: customers.set_next_action(session, actor, customer, on=TODAY),
        lambda: customers.set_contact_preferences(session, actor, contact.id, customers.ContactPreferences()),
        lambda: documents.attach_document(session, actor, customer, file_name="a.pdf", content=PDF),
        lambda: adjustments.write_off(session, actor, customer, currency="PHP", reason="x"),
        lambda: assignment.assign_collectors(session, actor, [customer], collector.id),
    ]
    for action in refused:
        with pytest.raises(PermissionDenied, match="may not"):
            action()


def test_a_viewer_sees_the_account_with_contacts_masked(session, collector):
    viewer = make_user(session, Role.VIEWER)
    customer, _ = overdue_account(session, collector)
    [contact] = accounts.view_account(session, viewer.as_actor(), customer, as_of=TODAY).contacts
    assert contact.masked and "•" in (contact.email or "")


def test_filters_and_search_narrow_the_queue(session, collector):
    ph, ph_invoice = overdue_account(session, collector, days=100, name="Quezon Hardware")
    us = make_customer(session, collector_id=collector.id, country="US", time_zone="America/Chicago", name="Ohio Tools")
    make_invoice(session, us, amount="50.00", currency="USD", due_in_days=-10, number="OH-7781")
    [contact] = customers.list_contacts(session, SYSTEM, ph)

    assert mine(session, collector, currencies=("USD",))[0] == [us]
    assert mine(session, collector, countries=("PH",))[0] == [ph]
    assert mine(session, collector, buckets=("91-180",))[0] == [ph]
    assert mine(session, collector, buckets=("1-30", "91-180"))[0] == [ph, us]
    assert mine(session, collector, search="quezon")[0] == [ph]
    assert mine(session, collector, search="OH-7781")[0] == [us]
    assert mine(session, collector, search=contact.email.upper())[0] == [ph]
    assert mine(session, collector, search="0917 123 4567")[0] == [ph]
    names = queue.list_work_queue(session, collector.as_actor(), QueueFilter(mine=True), as_of=TODAY, sort="name").rows
    assert [r.name for r in names] == ["Ohio Tools", "Quezon Hardware"]
    with pytest.raises(ValidationError, match="Unknown aging bucket"):
        mine(session, collector, buckets=("1-10",))


def test_paging_happens_in_the_database(session, collector):
    ids = [overdue_account(session, collector, days=10 + n)[0] for n in range(30)]
    first = queue.list_work_queue(session, collector.as_actor(), QueueFilter(mine=True), as_of=TODAY, page_size=25)
    second = queue.list_work_queue(
        session, collector.as_actor(), QueueFilter(mine=True), as_of=TODAY, page=2, page_size=25
    )
    assert (first.total, len(first.rows), len(second.rows)) == (30, 25, 5)
    assert {r.customer_id for r in first.rows + second.rows} == set(ids)
    beyond = queue.list_work_queue(
        session, collector.as_actor(), QueueFilter(mine=True), as_of=TODAY, page=3, page_size=25
    )
    assert (beyond.rows, beyond.total) == ([], 30)


def test_managers_assign_in_bulk_and_rules_assign_new_accounts(session, collector):
    manager = make_user(session, Role.MANAGER)
    a = make_customer(session)
    b = make_customer(session)
    make_invoice(session, a, amount="20000.00")
    make_invoice(session, b, amount="50.00")

    assert assignment.assign_collectors(session, manager.as_actor(), [a, b], collector.id) == 2
    assert {session.get(AccountSummary, a).customer_id} == {a}
    assert mine(session, collector)[0] and set(mine(session, collector)[0]) == {a, b}
    with pytest.raises(PermissionDenied):
        assignment.assign_collectors(session, collector.as_actor(), [a], None)

    big = make_customer(session)
    make_invoice(session, big, amount="15000.00")
    assignment.add_rule(
        session, manager.as_actor(), assignment.NewRule(collector_id=collector.id, currency="PHP", min_balance=10000)
    )
    small = make_customer(session)
    make_invoice(session, small, amount="10.00")
    assert assignment.assign_by_rules(session, manager.as_actor(), [big, small]) == 1
    assert customers.get_customer_row(session, big).collector_id == collector.id
    assert customers.get_customer_row(session, small).collector_id is None
    with pytest.raises(ValidationError, match="needs a currency"):
        assignment.add_rule(session, manager.as_actor(), assignment.NewRule(collector_id=collector.id, min_balance=1))


def test_weights_are_versioned_so_two_managers_cannot_overwrite_each_other(session):
    settings.save_weights(session, SYSTEM, Weights(broken_promise=35), version=settings.weights_version(session))
    version = settings.weights_version(session)
    settings.save_weights(session, SYSTEM, Weights(broken_promise=36), version=version)
    with pytest.raises(Conflict, match="changed the weights"):
        settings.save_weights(session, SYSTEM, Weights(broken_promise=37), version=version)
    assert settings.get_weights(session).broken_promise == 36
    with pytest.raises(ValidationError, match="whole number"):
        settings.weights_from_dict({"broken_promise": 2.5})


def test_summaries_match_a_full_rebuild_after_every_kind_of_change(session, collector):
    customer, invoice = overdue_account(session, collector)
    ledger.record_payment(session, SYSTEM, customer, amount=Money("200", "PHP"), received_on=TODAY, reference="SUM-1")
    disputes.open_dispute(session, collector.as_actor(), invoice, category="other", note="Says paid in cash")
    promises.make_promise(session, collector.as_actor(), customer, amount=Money("5", "PHP"), due_on=TODAY)
    kept = session.execute(select(AccountSummary).where(AccountSummary.customer_id == customer)).scalar_one()
    before = {c.key: getattr(kept, c.key) for c in AccountSummary.__table__.columns if c.key != "refreshed_at"}

    summaries.refresh_accounts(session, None)

    rebuilt = session.get(AccountSummary, customer)
    assert before == {
        c.key: getattr(rebuilt, c.key) for c in AccountSummary.__table__.columns if c.key != "refreshed_at"
    }
