"""`python -m core import …` for scheduled syncs: same rules and messages, honest exit codes."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from core import db
from core.models import Invoice
from tests.integration.test_cli import cli

HEADER = "customer_ref,invoice_number,issue_date,due_date,amount,currency\n"


def invoices_numbered(prefix: str) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count(Invoice.id)).where(Invoice.number.like(f"{prefix}%"))) or 0


def test_a_dry_run_reports_counts_and_writes_nothing(database, tmp_path):
    tag = uuid.uuid4().hex[:8]
    path = tmp_path / "ok.csv"
    path.write_text(HEADER + f"CLI-{tag},{tag}-1,2024-03-01,2024-03-31,10.00,PHP\n")

    result = cli("import", "invoices", str(path), "--country", "PH", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "1 rows: 1 new, 0 updated, 0 unchanged, 0 refused" in result.stdout
    assert "Dry run: nothing was written." in result.stdout
    assert invoices_numbered(tag) == 0


def test_refused_rows_exit_non_zero_and_write_nothing_unless_valid_only(database, tmp_path):
    tag = uuid.uuid4().hex[:8]
    path = tmp_path / "mixed.csv"
    path.write_text(
        HEADER + f"CLI-{tag},{tag}-1,2024-03-01,2024-03-31,10.00,PHP\nCLI-{tag},{tag}-2,2024-03-01,2024-03-31,-4,PHP\n"
    )
    listed = tmp_path / "refused.csv"

    refused = cli("import", "invoices", str(path), "--country", "PH", "--rejects", str(listed))

    assert refused.returncode == 1
    assert "row 3, amount: '-4' must be more than zero" in refused.stderr
    assert "Nothing was written" in refused.stdout
    assert listed.read_text(encoding="utf-8-sig").splitlines() == [
        "row,column,value,reason",
        "3,amount,'-4,'-4' must be more than zero",  # a cell starting with - is neutralised
    ]
    assert invoices_numbered(tag) == 0

    valid = cli("import", "invoices", str(path), "--country", "PH", "--valid-only")

    assert valid.returncode == 0, valid.stderr
    assert "Imported 1 rows." in valid.stdout
    assert invoices_numbered(tag) == 1
    again = cli("import", "invoices", str(path), "--country", "PH", "--valid-only")
    assert "0 new, 0 updated, 1 unchanged, 1 refused" in again.stdout


def test_ambiguous_dates_unknown_profiles_and_kinds_are_one_line_errors(database, tmp_path):
    path = tmp_path / "ambiguous.csv"
    path.write_text(HEADER + "CLI-X,X-1,03/04/2024,05/04/2024,10.00,PHP\n")

    ambiguous = cli("import", "invoices", str(path), "--country", "PH")
    no_profile = cli("import", "invoices", str(path), "--mapping", "Nope")
    wrong_kind = cli("import", "debts", str(path))

    assert ambiguous.returncode == 1 and "Choose the date format" in ambiguous.stderr
    assert no_profile.returncode == 1 and "No mapping profile named 'Nope'" in no_profile.stderr
    assert wrong_kind.returncode == 1 and "'debts' is not something Recoup imports" in wrong_kind.stderr
    for result in (ambiguous, no_profile, wrong_kind):
        assert "Traceback" not in result.stderr
