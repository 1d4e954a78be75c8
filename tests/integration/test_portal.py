"""The debtor portal's services: a link opens one customer's account and nothing else; every
action the debtor takes lands on the timeline as theirs and in the audit log as the portal's."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.config import get_settings
from core.errors import PermissionDenied, RecoupError
from core.models import Activity, AddressOptOut, AuditEntry, Contact, Customer, Invoice, PaymentPlan
from core.money import Money
from core.portal_links import LinkNotValid, mint, read
from core.roles import Actor, Role
from core.services import accounts, customers, disputes, documents, portal
from core.services.customers import ContactPreferences, NewContact
from core.services.portal_settings import PortalSettings, save_portal_settings
from tests.factories import SYSTEM, make_customer, make_invoice, make_user

NOT_VALID = str(LinkNotValid())
TODAY = date.today()


def token_of(session, customer_id: int) -> str:
    link = portal.portal_link(session, SYSTEM, customer_id)
    return link.split("?t=", 1)[1]


def opened(session, token: str, client: str = "10.0.0.1"):
    return portal.open_link(session, token, client=client)


def test_a_link_opens_its_own_customers_account_and_no_one_elses(session):
    mine, theirs = make_customer(session), make_customer(session)
    make_invoice(session, mine, amount="500.00", number="MINE-1")
    make_invoice(session, theirs, amount="900.00", number="THEIRS-1")

    debtor = opened(session, token_of(session, mine)).debtor

    assert debtor is not None and debtor.debtor_of == mine
    seen = portal.account(session, debtor)
    assert [line.number for line in seen.account.invoices] == ["MINE-1"]
    their_invoice = session.scalar(select(Invoice.id).where(Invoice.customer_id == theirs))
    with pytest.raises(RecoupError, match="No such invoice on your account"):  # another's, by its id
        portal.dispute_invoice(session, debtor, their_invoice, category="other", note="not mine")


@pytest.mark.parametrize("spoil", ["tampered", "other secret", "garbage", "empty"])
def test_a_wrong_or_tampered_link_sees_nothing_and_says_only_that_it_does_not_open(session, spoil):
    customer_id = make_customer(session)
    good = token_of(session, customer_id)
    bad = {
        "tampered": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "other secret": mint("someone else's secret", customer_id, 0),
        "garbage": "not-a-token",
        "empty": "",
    }[spoil]

    opening = opened(session, bad)

    assert opening.debtor is None and opening.refusal == NOT_VALID


def test_a_link_older_than_its_lifetime_no_longer_opens(session, monkeypatch):
    customer_id = make_customer(session)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 31 * 24 * 3600)  # made 31 days ago
    old = token_of(session, customer_id)
    monkeypatch.setattr(time, "time", real)

    assert opened(session, old).refusal == NOT_VALID
    assert opened(session, token_of(session, customer_id)).debtor is not None


def test_revoking_closes_every_earlier_link_and_new_links_work(session):
    customer_id = make_customer(session)
    earlier = token_of(session, customer_id)

    portal.revoke_links(session, SYSTEM, customer_id)

    assert opened(session, earlier).refusal == NOT_VALID
    assert opened(session, token_of(session, customer_id)).debtor is not None
    revoked = session.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == str(customer_id))).all()
    assert "portal.revoke" in revoked


def test_a_collector_cannot_revoke_links(session):
    customer_id = make_customer(session)
    collector = make_user(session, Role.COLLECTOR)

    with pytest.raises(RecoupError):
        portal.revoke_links(session, Actor(collector.username, Role.COLLECTOR, collector.id), customer_id)


def test_too_many_failures_from_one_address_turn_even_a_good_link_away(session):
    customer_id = make_customer(session)
    good = token_of(session, customer_id)
    for _ in range(portal.ATTEMPTS_ALLOWED):
        assert opened(session, "guess", client="203.0.113.9").refusal == NOT_VALID

    assert opened(session, good, client="203.0.113.9").refusal == portal.TOO_MANY
    assert opened(session, good, client="198.51.100.1").debtor is not None  # another address is not


def test_the_second_factor_asks_for_the_phones_last_digits_first(session):
    customer_id = make_customer(session)  # its contact's phone is 0917 123 4567
    save_portal_settings(session, SYSTEM, PortalSettings(second_factor="phone_last4"), version=0)
    token = token_of(session, customer_id)

    assert opened(session, token).needs_second_factor
    assert portal.open_link(session, token, client="x", second_factor="0000").refusal == NOT_VALID
    assert portal.open_link(session, token, client="x", second_factor="4567").debtor is not None


def test_every_debtor_action_is_on_the_timeline_as_theirs_and_audited_as_the_portal(session):
    today = date.today()
    customer_id = make_customer(session)
    first = make_invoice(session, customer_id, amount="3000.00")
    make_invoice(session, customer_id, amount="1200.00")
    debtor = opened(session, token_of(session, customer_id)).debtor
    [contact_id] = session.scalars(select(Contact.id).where(Contact.customer_id == customer_id)).all()

    portal.promise_to_pay(
        session, debtor, amount=Money("1000.00", "PHP"), due_on=today + timedelta(days=7), today=today
    )
    portal.dispute_invoice(
        session,
        debtor,
        first,
        category="pricing",
        note="We agreed a lower price",
        file=("agreed.pdf", b"%PDF-1.4 agreed 2,500"),
    )
    portal.ask_for_plan(session, debtor, currency="PHP", instalments=3, today=today)
    portal.set_preferences(session, debtor, contact_id, ContactPreferences(opted_out=("sms",)))
    portal.stop_address(session, debtor, contact_id, "email")

    timeline = session.execute(
        select(Activity.kind, Activity.actor, Activity.summary).where(Activity.customer_id == customer_id)
    ).all()
    by_portal = [row for row in timeline if row.actor == "portal"]
    kinds = {row.kind for row in by_portal}
    assert {"promise", "dispute"} <= kinds, timeline
    summaries = " | ".join(row.summary for row in by_portal)
    assert "plan" in summaries.lower() and "Contact preferences changed by the debtor" in summaries
    assert "Stopped contacting" in summaries
    audited = set(session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "portal")))
    assert {"promise.make", "invoice.dispute", "contact.preferences", "contact.stop_address"} <= audited, audited
    assert session.scalar(select(PaymentPlan.status).where(PaymentPlan.customer_id == customer_id)) == "proposed"
    assert "Made by the debtor through the portal" in next(row.summary for row in by_portal if row.kind == "promise")
    assert session.scalar(select(AddressOptOut.created_by).where(AddressOptOut.customer_id == customer_id)) == "portal"


def test_a_promise_beyond_the_portals_limits_is_refused_with_the_limit(session):
    today = date.today()
    customer_id = make_customer(session)
    make_invoice(session, customer_id, amount="1000.00")
    debtor = opened(session, token_of(session, customer_id)).debtor

    with pytest.raises(RecoupError, match="within 30 days"):
        portal.promise_to_pay(
            session, debtor, amount=Money("100", "PHP"), due_on=today + timedelta(days=45), today=today
        )
    with pytest.raises(RecoupError, match="promise at most"):
        portal.promise_to_pay(
            session, debtor, amount=Money("5000", "PHP"), due_on=today + timedelta(days=5), today=today
        )


def test_the_statement_is_a_pdf_and_documents_are_the_debtors_own(session):
    customer_id, other = make_customer(session), make_customer(session)
    make_invoice(session, customer_id)
    debtor = opened(session, token_of(session, customer_id)).debtor

    assert portal.statement_pdf(session, debtor).startswith(b"%PDF")
    theirs = documents.attach_document(session, SYSTEM, other, file_name="x.pdf", content=b"%PDF-1.4 private")
    with pytest.raises(RecoupError):
        portal.document(session, debtor, theirs)


def test_a_token_carries_the_customer_and_generation_it_was_made_for():
    secret = "s" * 40
    claim = read(secret, mint(secret, 42, 3))
    assert (claim.customer_id, claim.generation) == (42, 3)
    assert get_settings().portal_url.startswith("http")


def test_a_debtor_holds_no_staff_permission_and_may_only_take_the_portals_own_actions(session):
    customer_id, other = make_customer(session), make_customer(session)
    invoice_id = make_invoice(session, customer_id)
    debtor = opened(session, token_of(session, customer_id)).debtor
    dispute_id = portal.dispute_invoice(session, debtor, invoice_id, category="pricing", note="too dear")

    refused = {
        "resolve a dispute with a credit": lambda: disputes.resolve_dispute(
            session, debtor, dispute_id, resolution="upheld", note="mine now"
        ),
        "set a flag": lambda: customers.set_flags(session, debtor, customer_id, do_not_contact=True),
        "make a portal link": lambda: portal.portal_link(session, debtor, customer_id),
        "read their own account as staff": lambda: accounts.view_account(
            session, debtor, customer_id, as_of=date.today()
        ),
        "read another account": lambda: accounts.view_account(session, debtor, other, as_of=date.today()),
        "read another timeline": lambda: accounts.account_timeline(session, debtor, other),
    }
    for what, attempt in refused.items():
        with pytest.raises(PermissionDenied):
            attempt()
            pytest.fail(f"a debtor could {what}")


def test_the_portal_shows_the_debtors_own_contacts_and_invoice_documents_only(session):
    customer_id = make_customer(session)
    invoice_id = make_invoice(session, customer_id)
    customers.add_contact(
        session, SYSTEM, customer_id, NewContact(name="Gina Guarantor", role="guarantor", email="g@example.ph")
    )
    for_invoice = documents.attach_document(
        session, SYSTEM, customer_id, file_name="invoice.pdf", content=b"%PDF-1.4 inv", invoice_id=invoice_id
    )
    internal = documents.attach_document(
        session, SYSTEM, customer_id, file_name="credit-check.pdf", content=b"%PDF-1.4 x"
    )
    debtor = opened(session, token_of(session, customer_id)).debtor

    seen = portal.account(session, debtor).account

    assert "Gina Guarantor" not in [c.name for c in seen.contacts] and seen.contacts
    assert [d.id for d in seen.documents] == [for_invoice]
    assert portal.document(session, debtor, for_invoice).content == b"%PDF-1.4 inv"
    with pytest.raises(RecoupError):
        portal.document(session, debtor, internal)
    [guarantor] = session.scalars(select(Contact.id).where(Contact.name == "Gina Guarantor")).all()
    with pytest.raises(RecoupError):
        portal.stop_address(session, debtor, guarantor, "email")


def test_saving_preferences_keeps_the_language_and_clears_hours_when_asked(session):
    customer_id = make_customer(session)
    [contact_id] = session.scalars(select(Contact.id).where(Contact.customer_id == customer_id)).all()
    customers.set_contact_preferences(
        session,
        SYSTEM,
        contact_id,
        ContactPreferences(preferred_from=clock(10), preferred_until=clock(12), language="fil"),
    )
    debtor = opened(session, token_of(session, customer_id)).debtor

    portal.set_preferences(session, debtor, contact_id, ContactPreferences(opted_out=("sms",), language="fil"))

    contact = session.get(Contact, contact_id)
    assert (contact.language, contact.preferred_from, contact.opted_out_sms) == ("fil", None, True)


def test_wrong_digits_from_many_addresses_lock_the_second_factor_of_that_account(session):
    customer_id = make_customer(session)
    save_portal_settings(session, SYSTEM, PortalSettings(second_factor="phone_last4"), version=0)
    token = token_of(session, customer_id)
    for n in range(portal.SECOND_FACTOR_TRIES):
        assert portal.open_link(session, token, client=f"10.0.0.{n}", second_factor="0000").refusal == NOT_VALID

    assert portal.open_link(session, token, client="10.9.9.9", second_factor="4567").refusal == portal.TOO_MANY


def test_making_a_link_is_audited_with_who_made_it(session):
    customer_id = make_customer(session)
    manager = make_user(session, Role.MANAGER)

    portal.portal_link(session, manager.as_actor(), customer_id)

    made = session.scalars(
        select(AuditEntry.actor).where(AuditEntry.action == "portal.link", AuditEntry.entity_id == str(customer_id))
    ).all()
    assert made == [manager.username]


def test_the_postal_code_as_second_factor_ignores_spaces_and_case_and_needs_one_on_file(session):
    customer_id, without = make_customer(session), make_customer(session)
    session.get(Customer, customer_id).postal_code = "S 238823"
    save_portal_settings(session, SYSTEM, PortalSettings(second_factor="postal_code"), version=0)
    token = token_of(session, customer_id)

    asked = opened(session, token)
    assert asked.needs_second_factor and "postal code" in asked.question
    assert portal.open_link(session, token, client="x", second_factor="s238823").debtor is not None
    assert portal.open_link(session, token_of(session, without), client="y", second_factor="").needs_second_factor
    assert portal.open_link(session, token_of(session, without), client="y", second_factor="1234").refusal == NOT_VALID


def test_a_second_promise_waits_for_the_first_so_the_follow_up_is_not_pushed_back_again(session):
    customer_id = make_customer(session)
    make_invoice(session, customer_id, amount="1000.00")
    debtor = opened(session, token_of(session, customer_id)).debtor
    portal.promise_to_pay(session, debtor, amount=Money("300", "PHP"), due_on=TODAY + timedelta(5), today=TODAY)

    with pytest.raises(RecoupError, match="already promised ₱300.00"):
        portal.promise_to_pay(session, debtor, amount=Money("200", "PHP"), due_on=TODAY + timedelta(9), today=TODAY)


def test_the_portal_counts_days_in_the_debtors_time_zone(session):
    manila = make_customer(session)
    new_york = make_customer(session, country="US", time_zone="America/New_York")
    for customer_id, zone in ((manila, "Asia/Manila"), (new_york, "America/New_York")):
        debtor = opened(session, token_of(session, customer_id)).debtor
        assert portal.debtor_today(session, debtor) == datetime.now(ZoneInfo(zone)).date()
