"""Shared fixtures: a fresh PostgreSQL database for the run (TEST_DATABASE_URL's server, or an
embedded pgserver), per-test isolation by a rolled-back savepoint, and signed-in actors."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core import config, db, migrations

PASSWORD = "correct-horse-battery"


def _create_database(server_url: str) -> tuple[str, object]:
    admin = create_engine(db.normalize_url(server_url), isolation_level="AUTOCOMMIT")
    name = f"recoup_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(db.normalize_url(server_url)).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def _reset_caches() -> None:
    config.get_settings.cache_clear()
    db.database_url.cache_clear()
    db.engine.cache_clear()
    db.session_factory.cache_clear()


@contextmanager
def pointed_at(url: str, data_dir: Path) -> Iterator[None]:
    """Point the app code (and child processes, through the environment) at a database and a data
    folder; put the environment back afterwards. Shared with `make bench`."""
    keys = ("DATABASE_URL", "RECOUP_ENV", "RECOUP_DATA_DIR", "RECOUP_LOGIN_SLEEP")
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update(DATABASE_URL=url, RECOUP_ENV="test", RECOUP_DATA_DIR=str(data_dir), RECOUP_LOGIN_SLEEP="0")
    _reset_caches()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reset_caches()


@pytest.fixture(scope="session")
def database() -> Iterator[str]:
    """A migrated, empty database for this test run; the app code is pointed at it."""
    data_dir = Path(tempfile.mkdtemp(prefix="recoup-test-"))
    server_url = os.environ.get("TEST_DATABASE_URL")
    if server_url:
        url, drop = _create_database(server_url)
    else:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            import pgserver

        server = pgserver.get_server(data_dir / "pg", cleanup_mode="stop")
        url, drop = _create_database(str(server.get_uri()))
    with pointed_at(url, data_dir):
        migrations.upgrade()
        yield url
        db.engine().dispose()
        drop()  # type: ignore[operator]
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def session(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test. db.transaction()
    joins it through savepoints, so code under test may commit and nothing leaks."""
    connection = db.engine().connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    monkeypatch.setattr(db, "session_factory", lambda: factory)
    current = factory()
    yield current
    current.close()
    outer.rollback()
    connection.close()


# --- end to end: Debian's Chromium driven by Playwright against `streamlit run` ---------------

CHROMIUM = os.environ.get("RECOUP_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (see .ci/run).")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def e2e_users(database: str) -> dict[str, str]:
    """One committed user per role, for the browser tests: role -> username."""
    from core.roles import Role
    from tests.factories import make_user

    with db.transaction() as s:
        return {role.value: make_user(s, role, username=f"e2e_{role.value}").username for role in Role}


@pytest.fixture(scope="session")
def app_server(e2e_users: dict[str, str]) -> Iterator[object]:
    from tests.e2e.server import start_server

    server = start_server(e2e_users, PASSWORD)
    yield server
    server.stop()


@pytest.fixture
def fresh_server(e2e_users: dict[str, str]) -> Iterator[object]:
    """A server no session has visited yet: pages/ is still served directly."""
    from tests.e2e.server import start_server

    server = start_server(e2e_users, PASSWORD)
    yield server
    server.stop()
