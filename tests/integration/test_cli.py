"""`python -m core`, run as a user runs it: exit codes and one-line errors, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core import db
from core.roles import Role
from core.services import signin, users
from tests.factories import SYSTEM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_migrate_is_idempotent(database):
    result = cli("migrate")
    assert result.returncode == 0, result.stderr
    assert "newest schema" in result.stdout


def test_create_user_reads_the_password_from_stdin_and_the_user_can_sign_in(database):
    result = cli(
        "create-user",
        "--username",
        "Cli_Collector",
        "--role",
        "collector",
        "--name",
        "Cli Collector",
        "--password-stdin",
        stdin="a-long-enough-password\n",
    )

    assert result.returncode == 0, result.stderr
    assert "Created collector cli_collector" in result.stdout
    with db.transaction() as session:
        user = users.find_active_user(session, "cli_collector")
        assert user is not None and user.role is Role.COLLECTOR and user.name == "Cli Collector"
        assert signin.sign_in(session, "cli_collector", "a-long-enough-password").user is not None


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("--username", "cli_short", "--role", "viewer", "--password-stdin"), "short\n", "at least 10 characters"),
        (("--username", "cli_long", "--role", "viewer", "--password-stdin"), "x" * 73 + "\n", "72 bytes"),
        (("--username", "e", "--role", "viewer", "--password-stdin"), "a-long-enough-password\n", "2–64 characters"),
    ],
    ids=["short-password", "73-byte-password", "bad-username"],
)
def test_create_user_refusals_are_one_clear_line(database, args, stdin, message):
    result = cli("create-user", *args, stdin=stdin)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_role_is_a_usage_error(database):
    result = cli("create-user", "--username", "cli_x", "--role", "superuser", "--password-stdin", stdin="pw\n")
    assert result.returncode == 2
    assert "superuser" in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_database_is_one_clear_line(database):
    result = cli("migrate", env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere"})
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot reach the database:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_non_postgres_database_url_is_refused(database):
    result = cli("migrate", env={"DATABASE_URL": "mysql://root@127.0.0.1/test"})
    assert result.returncode == 1
    assert "PostgreSQL only" in result.stderr


def test_seed_demo_refuses_a_database_that_has_users(database):
    with db.transaction() as session:
        users.create_user(
            session,
            SYSTEM,
            username="cli_existing",
            name="Existing",
            email="e@example.com",
            role=Role.VIEWER,
            password="a-long-enough-password",
        )
    result = cli("seed-demo")
    assert result.returncode == 1
    assert "already has users" in result.stderr

    if_empty = cli("seed-demo", "--if-empty")
    assert if_empty.returncode == 0
    assert "not seeded" in if_empty.stdout


def test_an_unmigrated_database_says_to_migrate(database):
    from sqlalchemy import make_url

    from tests.conftest import _create_database

    server = make_url(database).set(database="postgres").render_as_string(hide_password=False)
    url, drop = _create_database(server)
    try:
        result = cli(
            "create-user",
            "--username",
            "cli_early",
            "--role",
            "viewer",
            "--password-stdin",
            stdin="a-long-enough-password\n",
            env={"DATABASE_URL": url},
        )
    finally:
        drop()
    assert result.returncode == 1
    assert result.stderr.strip() == "error: the database has no Recoup tables yet; run `python -m core migrate` first."


@pytest.mark.parametrize("command", ["settle-plans", "settle-promises"])
def test_the_daily_settle_commands_run_and_refuse_a_bad_date_in_one_line(database, command):
    result = cli(command, "--as-of", "2026-11-24")
    assert result.returncode == 0, result.stderr
    assert "plan" in result.stdout or "promise" in result.stdout

    refused = cli(command, "--as-of", "24/11/2026")
    assert refused.returncode != 0
    assert "--as-of must be a date such as" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_report_writes_aging_as_csv_and_xlsx_and_refuses_an_unknown_report(database, tmp_path):
    from datetime import date
    from io import BytesIO

    from openpyxl import load_workbook

    from tests.factories import make_customer, make_invoice

    with db.transaction() as session:
        customer_id = make_customer(session, name="Cli Report Debtor")
        make_invoice(session, customer_id, amount="4321.00", due_in_days=-40, as_of=date(2026, 10, 1))

    shown = cli("report", "aging", "--as-of", "2026-10-01", "--currency", "php", "--format", "csv")
    written = cli("report", "aging", "--as-of", "2026-10-01", "--format", "xlsx", "--out", str(tmp_path / "a.xlsx"))
    unknown = cli("report", "profits")
    no_file = cli("report", "dso", "--format", "xlsx")

    assert shown.returncode == 0, shown.stderr
    [line] = [row for row in shown.stdout.splitlines() if "Cli Report Debtor" in row]
    assert ",PHP," in line and "4321.0000" in line
    assert written.returncode == 0, written.stderr
    sheet = load_workbook(BytesIO((tmp_path / "a.xlsx").read_bytes())).active
    assert "Cli Report Debtor" in [row[1] for row in sheet.iter_rows(values_only=True)]
    assert unknown.returncode != 0 and "No report 'profits'" in unknown.stderr and "Traceback" not in unknown.stderr
    assert no_file.returncode != 0 and "--out FILE" in no_file.stderr
