"""Contacts as each role reads them: viewers get emails and phone numbers masked."""

import pytest

from core.roles import Role
from core.services import customers
from tests.factories import make_customer, make_user


@pytest.mark.parametrize(
    ("role", "masked"), [("admin", False), ("manager", False), ("collector", False), ("viewer", True)]
)
def test_only_viewers_get_contact_details_masked(session, role, masked):
    customer_id = make_customer(session, country="PH")  # its contact: contact<n>@example.ph, 0917 123 4567
    reader = make_user(session, Role(role)).as_actor()

    [contact] = customers.list_contacts(session, reader, customer_id)

    assert contact.masked is masked
    if masked:
        assert contact.phone == "+63•••••67" and "•••@example.ph" in contact.email
        assert contact.email.count("@") == 1 and "contact" not in contact.email
    else:
        assert contact.phone == "+639171234567" and contact.email.startswith("contact")
    assert contact.consent == ("email", "call", "letter") and contact.opted_out == ()
