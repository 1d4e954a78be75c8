"""Who may do what: roles, permissions and the acting user. Pure rules, no database."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    COLLECTOR = "collector"
    VIEWER = "viewer"


class Permission(StrEnum):
    MANAGE_USERS = "manage users"
    VIEW_AUDIT_LOG = "view the audit log"
    MANAGE_SETTINGS = "change settings"
    VIEW_ACCOUNTS = "view accounts"
    SEE_CONTACT_DETAILS = "see unmasked emails and phone numbers"
    WORK_ASSIGNED_ACCOUNTS = "act on accounts assigned to you"
    WORK_ANY_ACCOUNT = "act on any account"
    MANAGE_ACCOUNTS = "create and change accounts, invoices and payments"
    ASSIGN_ACCOUNTS = "assign accounts to collectors"
    TUNE_QUEUE = "change the work queue's weights and assignment rules"
    WRITE_OFF = "write off balances"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {
            Permission.MANAGE_USERS,
            Permission.VIEW_AUDIT_LOG,
            Permission.MANAGE_SETTINGS,
            Permission.VIEW_ACCOUNTS,
            Permission.SEE_CONTACT_DETAILS,
        }
    ),
    Role.MANAGER: frozenset(
        {
            Permission.VIEW_ACCOUNTS,
            Permission.SEE_CONTACT_DETAILS,
            Permission.WORK_ASSIGNED_ACCOUNTS,
            Permission.WORK_ANY_ACCOUNT,
            Permission.MANAGE_ACCOUNTS,
            Permission.ASSIGN_ACCOUNTS,
            Permission.TUNE_QUEUE,
            Permission.WRITE_OFF,
        }
    ),
    Role.COLLECTOR: frozenset(
        {Permission.VIEW_ACCOUNTS, Permission.SEE_CONTACT_DETAILS, Permission.WORK_ASSIGNED_ACCOUNTS}
    ),
    Role.VIEWER: frozenset({Permission.VIEW_ACCOUNTS}),
}


# What a debtor may do on their own account through the portal, by the action name services pass
# to customers.require_work; anything else (resolving a dispute, flags, cancelling…) is refused.
DEBTOR_ACTIONS = frozenset(
    {
        "promise.make",
        "invoice.dispute",
        "document.attach",
        "plan.propose",
        "contact.preferences",
        "contact.stop_address",
        "checkout.start",
        "checkout.complete",
    }
)


@dataclass(frozen=True)
class Actor:
    """The user (or system process) on whose behalf a service acts."""

    username: str
    role: Role
    user_id: int | None = None
    name: str = ""
    system: bool = False
    debtor_of: int | None = None  # the debtor themselves, through the portal: this customer only

    @classmethod
    def system_process(cls, name: str) -> Actor:
        """The CLI and the batch act as a system actor: allowed everything, audited by name."""
        return cls(username=f"system:{name}", role=Role.ADMIN, name=name, system=True)

    @classmethod
    def debtor(cls, customer_id: int, name: str) -> Actor:
        """A debtor acting through the portal, audited as the portal. Holds no staff permission at
        all: it may only take the DEBTOR_ACTIONS, on its own account (customers.require_work)."""
        return cls(username="portal", role=Role.VIEWER, name=f"{name} (portal)", debtor_of=customer_id)

    def may(self, permission: Permission) -> bool:
        if self.debtor_of is not None:
            return False
        return self.system or permission in GRANTS[self.role]

    @property
    def assigned_only(self) -> int | None:
        """Whose assigned accounts are all this actor works and sees listed (a collector: their
        own user id); None: every account."""
        if self.may(Permission.WORK_ANY_ACCOUNT) or not self.may(Permission.WORK_ASSIGNED_ACCOUNTS):
            return None
        return self.user_id

    def may_work_account(self, collector_id: int | None) -> bool:
        """Managers act on any account; collectors on those assigned to them."""
        if self.may(Permission.WORK_ANY_ACCOUNT):
            return True
        return self.may(Permission.WORK_ASSIGNED_ACCOUNTS) and collector_id is not None and collector_id == self.user_id
