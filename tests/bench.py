"""`make bench`: times seeding the demo book and building the dashboard on it.
Prints figures; asserts nothing (speed is reported, never a test)."""

from __future__ import annotations

import time
from datetime import date

from core import db
from core.demo import seed_demo
from core.roles import Actor
from core.services.dashboard import book_summary
from tests.conftest import _create_database, _reset_caches


def main() -> None:
    import os

    server = os.environ.get("TEST_DATABASE_URL")
    if not server:  # like the tests: an embedded PostgreSQL in a temporary folder
        import tempfile

        import pgserver

        server = str(pgserver.get_server(tempfile.mkdtemp(prefix="recoup-bench-"), cleanup_mode="stop").get_uri())
    print(f"database server: {server.split('@')[-1]}")
    url, drop = _create_database(server)
    os.environ["DATABASE_URL"] = url
    _reset_caches()
    try:
        from core import migrations

        migrations.upgrade()
        started = time.perf_counter()
        with db.transaction() as session:
            result = seed_demo(
                session, customer_count=400, as_of=date(2026, 11, 24), password_for=lambda u: "bench-" + u * 3
            )
        seeded = time.perf_counter() - started
        print(
            f"seed-demo: {result.customers} customers, {result.invoices} invoices, {result.payments} payments "
            f"in {seeded:.1f} s"
        )
        timings = []
        for _ in range(20):
            started = time.perf_counter()
            with db.transaction() as session:
                book_summary(session, Actor.system_process("bench"), as_of=date(2026, 11, 24))
            timings.append(time.perf_counter() - started)
        timings.sort()
        print(f"dashboard summary on that book: median {timings[10] * 1000:.0f} ms, worst {timings[-1] * 1000:.0f} ms")
    finally:
        db.engine().dispose()
        drop()  # type: ignore[operator]


if __name__ == "__main__":
    main()
