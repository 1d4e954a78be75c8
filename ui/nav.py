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


PAGES = (
    PageSpec("dashboard", "pages/dashboard.py", "Dashboard", ":material/dashboard:", ALL_ROLES, default=True),
    PageSpec("import", "pages/imports.py", "Import", ":material/upload_file:", frozenset({Role.MANAGER})),
    PageSpec(
        "unapplied",
        "pages/unapplied.py",
        "Unapplied payments",
        ":material/account_balance_wallet:",
        frozenset({Role.MANAGER}),
    ),
    PageSpec("admin", "pages/admin.py", "Admin", ":material/admin_panel_settings:", frozenset({Role.ADMIN})),
)
BY_KEY = {page.key: page for page in PAGES}


def pages_for(role: Role) -> list[PageSpec]:
    return [page for page in PAGES if role in page.roles]
