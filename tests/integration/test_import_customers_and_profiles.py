"""Customer files upsert by ref and touch only mapped columns; mapping profiles are saved and reused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core.errors import NotFound, PermissionDenied, ValidationError
from core.imports.fields import Mapping, guess_columns
from core.imports.reading import headers, inspect
from core.models import Contact, Customer
from core.roles import Role
from core.services import imports, mappings
from tests.factories import SYSTEM, make_user


def load(session, tmp_path: Path, body: str, **options):
    path = tmp_path / "customers.csv"
    path.write_text(body)
    mapping = Mapping(kind="customers", columns=guess_columns("customers", headers(path, inspect(path))))
    return imports.import_file(session, SYSTEM, path, mapping=mapping.with_options(**options))


def customer(session, ref: str) -> Customer:
    return session.scalar(select(Customer).where(Customer.external_ref == ref))


def test_customers_are_created_with_their_contact_and_a_time_zone_from_the_country(session, tmp_path):
    result = load(
        session,
        tmp_path,
        "Customer ID,Customer Name,Country,Email,Mobile,Segment\n"
        "K1,Sari-Sari Santos,PH,Ana@Example.PH,0917 123 4567,SME\n"
        "K2,Lim Trading,SG,ops@lim.sg,,Corporate\n",
    )

    assert (result.new, result.updated, result.details["contacts_created"]) == (2, 0, 2)
    santos = customer(session, "K1")
    assert (santos.name, santos.country, santos.time_zone, santos.segment) == (
        "Sari-Sari Santos",
        "PH",
        "Asia/Manila",
        "SME",
    )
    contact = session.scalar(select(Contact).where(Contact.customer_id == santos.id))
    assert (contact.email, contact.phone, contact.name) == ("Ana@example.ph", "+639171234567", "Sari-Sari Santos")
    assert customer(session, "K2").time_zone == "Asia/Singapore"


def test_a_second_customer_file_updates_only_what_changed_and_only_mapped_columns(session, tmp_path):
    load(session, tmp_path, "ref,name,country,segment,risk\nK3,Old Name,PH,SME,high\nK4,Same,PH,SME,low\n")
    unchanged_version = customer(session, "K4").version

    result = load(session, tmp_path, "ref,name,country\nK3,New Name,PH\nK4,Same,PH\n")

    assert (result.new, result.updated, result.unchanged) == (0, 1, 1)
    renamed = customer(session, "K3")
    assert (renamed.name, renamed.segment, renamed.risk_tier) == ("New Name", "SME", "high")
    assert customer(session, "K4").version == unchanged_version


def test_bad_customer_cells_are_refused_one_by_one(session, tmp_path):
    result = load(
        session,
        tmp_path,
        "ref,name,country,email,phone,time zone,type\nK5,A,PH,not-an-email,12,Mars/Olympus,alien\nK6,,XX,,,,\n",
    )

    assert sorted((p.row, p.column) for p in result.problems) == [
        (2, "email"),
        (2, "phone"),
        (2, "time zone"),
        (2, "type"),
        (3, "country"),
        (3, "name"),
    ]
    assert result.written is False and customer(session, "K5") is None


def test_the_ibm_profile_ships_and_cannot_be_overwritten(session):
    profile = mappings.get_profile(session, "ibm accounts receivable")

    assert (profile.builtin, profile.kind, profile.mapping.date_format) == (True, "invoices", "MM/DD/YYYY")
    with pytest.raises(ValidationError, match="ships with Recoup"):
        mappings.save_profile(session, SYSTEM, "IBM accounts receivable", profile.mapping)


def test_a_saved_profile_is_listed_and_reused(session):
    manager = make_user(session, Role.MANAGER).as_actor()
    mapping = Mapping(
        kind="payments",
        columns={"reference": "Ref", "received_on": "Value Date", "amount": "Credit"},
        currency="PHP",
        date_format="DD/MM/YYYY",
        source="bdo",
    )

    mappings.save_profile(session, manager, "BDO statement", mapping)
    mappings.save_profile(session, manager, "BDO statement", mapping.with_options(source="bdo-2"))

    reused = mappings.get_profile(session, "bdo statement").mapping
    assert (reused.columns, reused.currency, reused.source) == (mapping.columns, "PHP", "bdo-2")
    assert "BDO statement" in [p.name for p in mappings.list_profiles(session, "payments")]
    with pytest.raises(NotFound, match="No mapping profile named 'Nope'"):
        mappings.get_profile(session, "Nope")


def test_a_profile_missing_a_required_field_or_saved_by_a_viewer_is_refused(session):
    viewer = make_user(session, Role.VIEWER).as_actor()
    incomplete = Mapping(kind="payments", columns={"reference": "Ref"})

    with pytest.raises(ValidationError, match="missing required column: Received on"):
        mappings.save_profile(session, SYSTEM, "Half", incomplete)
    with pytest.raises(PermissionDenied):
        mappings.save_profile(session, viewer, "Half", incomplete)


def test_a_customers_own_time_zone_and_country_survive_a_file_that_does_not_change_them(session, tmp_path):
    load(session, tmp_path, "ref,name,country,time zone\nK7,West Coast Co,US,America/Los_Angeles\nK8,Lim,SG,\n")

    again = load(session, tmp_path, "ref,name,country\nK7,West Coast Co,US\n")
    names_only = load(session, tmp_path, "ref,name\nK7,West Coast Co\nK8,Lim Trading\n", country="PH")

    assert (again.updated, again.unchanged) == (0, 1)
    assert (customer(session, "K7").country, customer(session, "K7").time_zone) == ("US", "America/Los_Angeles")
    assert (names_only.new, names_only.updated) == (0, 1)
    assert (customer(session, "K8").country, customer(session, "K8").time_zone) == ("SG", "Asia/Singapore")


def test_moving_a_customer_to_another_country_moves_their_time_zone_unless_one_is_given(session, tmp_path):
    load(session, tmp_path, "ref,name,country\nK9,Mover,SG\nK10,Mover Two,SG\n")

    load(session, tmp_path, "ref,name,country,tz\nK9,Mover,PH,\nK10,Mover Two,US,America/Chicago\n")

    assert (customer(session, "K9").country, customer(session, "K9").time_zone) == ("PH", "Asia/Manila")
    assert (customer(session, "K10").country, customer(session, "K10").time_zone) == ("US", "America/Chicago")


def test_empty_cells_never_erase_what_recoup_knows(session, tmp_path):
    load(session, tmp_path, "ref,name,country,risk,language,segment\nK11,Keep,PH,high,tl,SME\n")

    result = load(session, tmp_path, "ref,name,country,risk,language,segment\nK11,Keep,,,,\n")

    kept = customer(session, "K11")
    assert (result.updated, result.unchanged, result.rejected) == (0, 1, 0)
    assert (kept.country, kept.risk_tier, kept.language, kept.segment) == ("PH", "high", "tl", "SME")


def test_a_credit_limit_without_a_currency_is_refused_row_by_row(session, tmp_path):
    result = load(session, tmp_path, "ref,name,country,limit\nK12,Lim,PH,5000\nK13,Ok,PH,\n")

    assert [(p.row, p.column) for p in result.problems] == [(2, "limit")]
    assert "needs its currency" in result.problems[0].reason
    assert (result.rejected, result.written) == (1, False)


def test_a_new_contact_on_an_existing_customer_counts_as_an_update(session, tmp_path):
    load(session, tmp_path, "ref,name,country\nK14,No Contact Yet,PH\n")

    result = load(session, tmp_path, "ref,name,email\nK14,No Contact Yet,pay@k14.ph\n")

    assert (result.new, result.updated, result.details["contacts_created"]) == (0, 1, 1)


def test_a_new_customer_needs_a_country(session, tmp_path):
    result = load(session, tmp_path, "ref,name\nK15,Nowhere\n")

    assert result.problems[0].reason == (
        "customer K15 is new and the file gives no country: map a country column or choose a country for new customers"
    )


def test_a_postal_code_is_imported_with_the_customer_and_updated_by_a_later_file(session, tmp_path):
    load(session, tmp_path, "ref,name,country,zip code\nK21,Zip Trading,PH,1634\nK22,No Zip,SG,\n")
    assert (customer(session, "K21").postal_code, customer(session, "K22").postal_code) == ("1634", None)

    result = load(session, tmp_path, "ref,name,postcode\nK21,Zip Trading,1630\nK22,No Zip,\n")

    assert (result.updated, result.unchanged) == (1, 1)
    assert customer(session, "K21").postal_code == "1630"
