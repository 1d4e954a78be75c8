"""Who sees what: the sign-in form guards every page, and every page renders for every role,
refusing the roles it is not for without showing them any data."""

from __future__ import annotations

import pytest

from core.roles import Role
from tests.ui.helpers import PAGE_PATHS, app, commit_staff, shows_sign_in_form, signed_in, tables_with, texts
from ui.nav import BY_KEY

TITLES = {
    "dashboard": "Dashboard",
    "queue": "Work queue",
    "account": "Account",
    "plans": "Payment plans",
    "reports": "Reports",
    "import": "Import",
    "unapplied": "Unapplied payments",
    "workflows": "Workflows",
    "admin": "Admin",
}


@pytest.fixture(scope="module")
def staff(database: str) -> dict[Role, str]:
    return commit_staff("ui_access")


def test_every_registered_page_is_covered_by_these_tests():
    assert set(PAGE_PATHS) == set(BY_KEY) == set(TITLES)
    assert all(PAGE_PATHS[key] == BY_KEY[key].path for key in BY_KEY)


def test_signed_out_home_shows_the_sign_in_form_and_no_metrics(database):
    at = app().run()

    assert not at.exception
    assert shows_sign_in_form(at)
    assert not at.metric
    assert not at.dataframe
    assert not at.get("page_link")
    assert "sign_out" not in {button.key for button in at.button}


@pytest.mark.parametrize("page_key", sorted(PAGE_PATHS))
def test_a_page_run_directly_while_signed_out_shows_only_the_sign_in_form(database, page_key):
    at = app(PAGE_PATHS[page_key]).run()

    assert not at.exception
    assert shows_sign_in_form(at)
    assert not at.metric
    assert not at.dataframe
    assert TITLES[page_key] not in texts(at.title)


@pytest.mark.parametrize("page_key", sorted(PAGE_PATHS))
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_every_page_renders_for_every_role(staff, role, page_key):
    at = signed_in(staff[role], page_key)

    assert not at.exception
    assert not shows_sign_in_form(at)
    if role in BY_KEY[page_key].roles:
        assert TITLES[page_key] in texts(at.title)
        assert not at.error
    else:
        assert texts(at.error) == [f"Your role ({role.value}) cannot open {TITLES[page_key]}."]
        assert TITLES[page_key] not in texts(at.title)
        assert not at.dataframe
        assert not at.metric


def test_an_admin_sees_the_users_and_audit_tables(staff):
    at = signed_in(staff[Role.ADMIN], "admin")

    assert staff[Role.ADMIN] in set(tables_with(at, "Username")[0]["Username"])
    assert tables_with(at, "Action")


def test_a_refused_page_is_audited(staff):
    from sqlalchemy import select

    from core import db
    from core.models import AuditEntry

    viewer = staff[Role.VIEWER]
    with db.transaction() as session:
        before = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) or 0

    signed_in(viewer, "admin")

    with db.transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.id > before, AuditEntry.actor == viewer)).all()
    assert [(r.action, r.entity_type, r.entity_id) for r in rows] == [("page.admin.refused", "page", "admin")]
    assert rows[0].after == {"reason": "Your role (viewer) cannot open Admin."}
