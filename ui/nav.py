"""The page registry: which pages exist, where they live and which roles may open them."""

from __future__ import annotations

from dataclasses import dataclass

from core.roles import Role

ALL_ROLES = frozenset(Role)


@dataclass(frozen=True)
class PageSpec:
    key: str
    path: str
    title: str
    icon: str
    roles: frozenset[Role]
    default: bool = False
    in_menu: bool = True  # pages reached by a link (one account) stay out of the menu


PAGES = (
    PageSpec("dashboard", "pages/dashboard.py", "Dashboard", ":material/dashboard:", ALL_ROLES, default=True),
    PageSpec("queue", "pages/queue.py", "Work queue", ":material/checklist:", ALL_ROLES),
    PageSpec("account", "pages/account.py", "Account", ":material/person:", ALL_ROLES, in_menu=False),
    PageSpec(
        "plans",
        "pages/plans.py",
        "Payment plans",
        ":material/event_repeat:",
        frozenset({Role.MANAGER, Role.COLLECTOR, Role.VIEWER}),
    ),
    PageSpec(
        "reports",
        "pages/reports.py",
        "Reports",
        ":material/monitoring:",
        frozenset({Role.MANAGER, Role.COLLECTOR, Role.VIEWER}),
    ),
    PageSpec("import", "pages/imports.py", "Import", ":material/upload_file:", frozenset({Role.MANAGER})),
    PageSpec(
        "unapplied",
        "pages/unapplied.py",
        "Unapplied payments",
        ":material/account_balance_wallet:",
        frozenset({Role.MANAGER}),
    ),
    PageSpec("workflows", "pages/workflows.py", "Workflows", ":material/campaign:", frozenset({Role.MANAGER})),
    PageSpec("admin", "pages/admin.py", "Admin", ":material/admin_panel_settings:", frozenset({Role.ADMIN})),
)
BY_KEY = {page.key: page for page in PAGES}


def pages_for(role: Role) -> list[PageSpec]:
    return [page for page in PAGES if role in page.roles]
