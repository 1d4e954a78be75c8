"""Two imports settling the same invoice at the same moment record what is owed once."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

from sqlalchemy import func, select

from core import db
from core.imports.fields import Mapping, guess_columns
from core.imports.reading import headers, inspect
from core.models import Allocation, Customer, Invoice
from core.services import imports
from tests.factories import SYSTEM


def test_two_imports_settling_one_invoice_at_once_never_pay_it_twice(database, tmp_path):
    ref = f"RACE-{uuid.uuid4().hex[:8]}"
    opened = tmp_path / "open.csv"
    opened.write_text(
        f"customer_ref,invoice_number,issue_date,due_date,amount,currency\n{ref},R-1,2026-01-01,2026-02-01,100.00,PHP\n"
    )
    settled = tmp_path / "settled.csv"
    settled.write_text(
        "customer_ref,invoice_number,issue_date,due_date,amount,currency,settled_date\n"
        f"{ref},R-1,2026-01-01,2026-02-01,100.00,PHP,2026-02-10\n"
    )

    def mapping(path, source):
        columns = guess_columns("invoices", headers(path, inspect(path)))
        return Mapping(kind="invoices", columns=columns, country="PH", source=source)

    with db.transaction() as session:
        imports.import_file(session, SYSTEM, opened, mapping=mapping(opened, "first"))

    first_done, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with db.transaction() as session:
                imports.import_file(session, SYSTEM, settled, mapping=mapping(settled, "bank-a"))
                first_done.set()
                release.wait(10)  # hold the transaction open while the second import runs
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
            first_done.set()

    def second() -> None:
        try:
            with db.transaction() as session:
                imports.import_file(session, SYSTEM, settled, mapping=mapping(settled, "bank-b"))
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    a = threading.Thread(target=first)
    a.start()
    first_done.wait(10)
    b = threading.Thread(target=second)
    b.start()
    b.join(1.5)  # the second import waits on the first one's lock
    release.set()
    a.join(10)
    b.join(10)

    assert errors == []
    with db.transaction() as session:
        invoice = session.scalar(select(Invoice).join(Customer).where(Customer.external_ref == ref))
        paid = session.scalar(select(func.sum(Allocation.amount)).where(Allocation.invoice_id == invoice.id))
    assert (invoice.status, paid) == ("paid", Decimal("100.0000"))
