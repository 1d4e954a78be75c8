"""Who may do what: every role against every permission, and whose accounts each may work."""

from __future__ import annotations

import pytest

from core.roles import Actor, Permission, Role

P = Permission
EXPECTED: dict[Role, set[Permission]] = {
    Role.ADMIN: {
        P.MANAGE_USERS,
        P.VIEW_AUDIT_LOG,
        P.MANAGE_SETTINGS,
        P.VIEW_ACCOUNTS,
        P.SEE_CONTACT_DETAILS,
    },
    Role.MANAGER: {
        P.VIEW_ACCOUNTS,
        P.SEE_CONTACT_DETAILS,
        P.WORK_ASSIGNED_ACCOUNTS,
        P.WORK_ANY_ACCOUNT,
        P.MANAGE_ACCOUNTS,
        P.ASSIGN_ACCOUNTS,
        P.TUNE_QUEUE,
        P.WRITE_OFF,
    },
    Role.COLLECTOR: {P.VIEW_ACCOUNTS, P.SEE_CONTACT_DETAILS, P.WORK_ASSIGNED_ACCOUNTS},
    Role.VIEWER: {P.VIEW_ACCOUNTS},
}


def actor(role: Role, user_id: int | None = 7) -> Actor:
    return Actor(username=f"{role}-user", role=role, user_id=user_id)


@pytest.mark.parametrize("permission", list(Permission))
@pytest.mark.parametrize("role", list(Role))
def test_role_has_exactly_its_expected_permissions(role: Role, permission: Permission) -> None:
    assert actor(role).may(permission) is (permission in EXPECTED[role])


def test_admin_manages_users_and_sees_the_audit_log_but_not_accounts() -> None:
    admin = actor(Role.ADMIN)
    assert admin.may(P.MANAGE_USERS)
    assert admin.may(P.VIEW_AUDIT_LOG)
    assert not admin.may(P.MANAGE_ACCOUNTS)
    assert not admin.may_work_account(admin.user_id)


def test_viewer_only_views_accounts_and_sees_no_contact_details() -> None:
    viewer = actor(Role.VIEWER)
    assert [p for p in Permission if viewer.may(p)] == [P.VIEW_ACCOUNTS]
    assert not viewer.may(P.SEE_CONTACT_DETAILS)
    assert not viewer.may_work_account(viewer.user_id)


@pytest.mark.parametrize("collector_id", [7, 8, None])
def test_manager_works_any_account(collector_id: int | None) -> None:
    assert actor(Role.MANAGER, user_id=7).may_work_account(collector_id)


@pytest.mark.parametrize(("collector_id", "allowed"), [(7, True), (8, False), (None, False)])
def test_collector_works_only_accounts_assigned_to_them(collector_id: int | None, allowed: bool) -> None:
    assert actor(Role.COLLECTOR, user_id=7).may_work_account(collector_id) is allowed


def test_collector_without_a_user_id_works_no_unassigned_account() -> None:
    assert not actor(Role.COLLECTOR, user_id=None).may_work_account(None)


def test_system_actor_may_do_everything() -> None:
    system = Actor.system_process("reminders")
    assert system.username == "system:reminders"
    assert all(system.may(p) for p in Permission)
    assert system.may_work_account(None)
    assert system.may_work_account(123)
