"""The admin page: creating users, changing roles, and browsing and filtering the audit log."""

from __future__ import annotations

import pytest

from core import db
from core.roles import Role
from core.services import signin, users
from core.services.users import UserView
from tests.factories import PASSWORD, make_user
from tests.ui.helpers import app, audit_table, commit_staff, option_for, sign_in, signed_in, texts, users_table


@pytest.fixture(scope="module")
def staff(database: str) -> dict[Role, str]:
    return commit_staff("ui_adm")


@pytest.fixture(scope="module")
def admin(staff: dict[Role, str]) -> str:
    return staff[Role.ADMIN]


def committed_user(role: Role, username: str) -> UserView:
    with db.transaction() as session:
        return make_user(session, role, username=username)


def find(username: str) -> UserView | None:
    with db.transaction() as session:
        return users.find_active_user(session, username)


def fill_new_user(at, *, username: str, password: str = PASSWORD, role: str = "viewer"):
    at.text_input(key="admin_new_username").input(username)
    at.text_input(key="admin_new_name").input("Nina Navarro")
    at.text_input(key="admin_new_email").input(f"{username}@recoup.example")
    at.selectbox(key="admin_new_role").select(role)
    at.text_input(key="admin_new_user_password").input(password)
    return at.button(key="admin_create_submit").click()


def test_an_admin_creates_a_user_through_the_form(admin):
    at = signed_in(admin, "admin")

    at = fill_new_user(at, username="ui_adm_new", role="manager").run()

    assert not at.exception
    assert not at.error
    assert texts(at.success) == ["Created manager ui_adm_new."]
    created = find("ui_adm_new")
    assert created is not None and created.role is Role.MANAGER and created.name == "Nina Navarro"
    assert "ui_adm_new" in set(users_table(at)["Username"])


def test_the_created_user_can_sign_in(admin):
    at = fill_new_user(signed_in(admin, "admin"), username="ui_adm_fresh").run()
    assert find("ui_adm_fresh") is not None

    at = sign_in(app().run(), "ui_adm_fresh", PASSWORD)

    assert texts(at.title) == ["Dashboard"]


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "at least 10 characters"), ("x" * 73, "72 bytes"), (" padded-password ", "space")],
    ids=["too short", "over 72 bytes", "surrounding spaces"],
)
def test_a_bad_password_shows_an_error_and_creates_nobody(admin, password, message):
    at = signed_in(admin, "admin")

    at = fill_new_user(at, username="ui_adm_badpw", password=password).run()

    assert not at.exception
    (error,) = texts(at.error)
    assert message in error
    assert not at.success
    assert find("ui_adm_badpw") is None


def test_a_taken_username_shows_an_error(admin, staff):
    at = fill_new_user(signed_in(admin, "admin"), username=staff[Role.VIEWER]).run()

    (error,) = texts(at.error)
    assert "is taken" in error


def test_an_invalid_username_shows_an_error(admin):
    at = fill_new_user(signed_in(admin, "admin"), username="no spaces please").run()

    (error,) = texts(at.error)
    assert error.startswith("Usernames are 2–64 characters")
    assert find("no spaces please") is None


def test_an_admin_changes_a_users_role(admin):
    target = committed_user(Role.COLLECTOR, "ui_adm_promoted")
    at = signed_in(admin, "admin")

    picker = at.selectbox(key="admin_user_pick")
    at = picker.select(option_for(picker.options, target.username)).run()
    at.selectbox(key=f"admin_role_pick_{target.id}").select("manager")
    at = at.button(key="admin_change_role").click().run()

    assert not at.exception
    assert texts(at.success) == ["ui_adm_promoted is now manager."]
    changed = find(target.username)
    assert changed is not None and changed.role is Role.MANAGER
    table = users_table(at)
    assert table.loc[table["Username"] == target.username, "Role"].tolist() == ["manager"]


def test_picking_a_user_shows_their_current_role(admin):
    viewer = committed_user(Role.VIEWER, "ui_adm_pick_viewer")
    collector = committed_user(Role.COLLECTOR, "ui_adm_pick_collector")
    at = signed_in(admin, "admin")
    picker = at.selectbox(key="admin_user_pick")

    at = picker.select(option_for(picker.options, viewer.username)).run()
    assert at.selectbox(key=f"admin_role_pick_{viewer.id}").value == "viewer"

    picker = at.selectbox(key="admin_user_pick")
    at = picker.select(option_for(picker.options, collector.username)).run()
    assert at.selectbox(key=f"admin_role_pick_{collector.id}").value == "collector"


def test_change_role_right_after_picking_a_user_does_not_apply_the_previous_users_role(admin):
    promoted = committed_user(Role.COLLECTOR, "ui_adm_first")
    untouched = committed_user(Role.VIEWER, "ui_adm_second")
    at = signed_in(admin, "admin")
    picker = at.selectbox(key="admin_user_pick")
    at = picker.select(option_for(picker.options, promoted.username)).run()
    at.selectbox(key=f"admin_role_pick_{promoted.id}").select("manager")
    at = at.button(key="admin_change_role").click().run()
    assert texts(at.success) == ["ui_adm_first is now manager."]

    picker = at.selectbox(key="admin_user_pick")
    at = picker.select(option_for(picker.options, untouched.username)).run()
    at = at.button(key="admin_change_role").click().run()  # the admin did not touch the role box

    after = find(untouched.username)
    assert after is not None and after.role is Role.VIEWER
    assert texts(at.error) == ["ui_adm_second already has the role viewer."]


def test_the_audit_tab_lists_entries(admin):
    at = signed_in(admin, "admin")

    table = audit_table(at)
    assert not table.empty
    assert "user.create" in set(table["Action"])
    assert any(caption.endswith("entries match; newest first; 100 a page.") for caption in texts(at.caption))


def test_the_audit_tab_offers_the_page_as_csv_and_as_xlsx(admin):
    at = signed_in(admin, "admin")

    assert not at.exception
    assert at.download_button(key="audit_download_csv").label == "Download CSV"
    assert at.download_button(key="audit_download_xlsx").label == "Download XLSX"


def test_the_users_table_offers_csv_and_xlsx_downloads(admin):
    at = signed_in(admin, "admin")

    labels = {button.key: button.label for button in at.get("download_button")}
    assert labels["admin_users_download_csv"] == "Download CSV"
    assert labels["admin_users_download_xlsx"] == "Download XLSX"


def test_filtering_the_audit_log_by_who_shows_only_that_actor(admin):
    at = sign_in(app().run(), admin)  # signing in is audited under the admin's name
    at.switch_page("pages/admin.py").run()

    at = at.selectbox(key="audit_actor").select(admin).run()

    table = audit_table(at)
    assert not table.empty
    assert set(table["Who"]) == {admin}
    assert "user.sign_in" in set(table["Action"])

    at = at.selectbox(key="audit_actor").select("system:tests").run()

    table = audit_table(at)
    assert set(table["Who"]) == {"system:tests"}


def test_an_admin_sees_a_lockout_and_lifts_it(admin):
    locked = committed_user(Role.COLLECTOR, "ui_adm_locked")
    with db.transaction() as session:
        for _ in range(5):
            signin.sign_in(session, locked.username, "not-the-password")
    at = signed_in(admin, "admin")
    assert users_table(at).set_index("Username").loc[locked.username, "Locked until"] != ""

    picker = at.selectbox(key="admin_user_pick")
    at = picker.select(option_for(picker.options, locked.username)).run()
    at = at.button(key="admin_unlock").click().run()

    assert texts(at.success) == ["ui_adm_locked can sign in again."]
    assert users_table(at).set_index("Username").loc[locked.username, "Locked until"] == ""
    with db.transaction() as session:
        assert signin.sign_in(session, locked.username, PASSWORD).user is not None
