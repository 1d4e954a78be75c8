"""A throwaway database for one bench run, on TEST_DATABASE_URL's server or an embedded PostgreSQL."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core import db
from tests.conftest import pointed_at

log = logging.getLogger(__name__)


@cache
def _server_url(*, keep: bool) -> str:
    server = os.environ.get("TEST_DATABASE_URL")
    if server:
        return server
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
        warnings.simplefilter("ignore")
        import pgserver

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    data_dir = tempfile.mkdtemp(prefix="recoup-bench-pg-")
    # Deleted at exit, a full-scale book is gigabytes; a kept database needs its server left running.
    server = str(pgserver.get_server(data_dir, cleanup_mode=None if keep else "delete").get_uri())
    log.info("embedded PostgreSQL in %s%s", data_dir, ", left running" if keep else "")
    return server


@contextmanager
def throwaway_database(*, keep: bool = False) -> Iterator[str]:
    """Create an empty database and point core at it (and any child process that inherits the
    environment); yield its URL; drop it afterwards unless kept."""
    admin = create_engine(db.normalize_url(_server_url(keep=keep)), isolation_level="AUTOCOMMIT")
    name = f"recoup_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))  # an identifier: cannot be a bound parameter
    url = make_url(admin.url).set(database=name).render_as_string(hide_password=False)
    log.info("database %s created", name)
    data_dir = Path(tempfile.mkdtemp(prefix="recoup-bench-data-"))
    try:
        with pointed_at(url, data_dir):
            try:
                yield url
            finally:
                db.engine().dispose()
    finally:
        if keep:
            log.warning("database kept: %s", make_url(url).render_as_string(hide_password=True))
        else:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            log.info("database %s dropped", name)
        admin.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)
