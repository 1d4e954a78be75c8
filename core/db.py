"""Engine, sessions and the unit of work. Created lazily, once: importing core needs no database."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.config import get_settings
from core.errors import ConfigError, Conflict, PermissionDenied, ValidationError

log = logging.getLogger(__name__)


def normalize_url(url: str) -> str:
    """Accept the plain postgres:// or postgresql:// URL providers hand out; use psycopg 3."""
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError(f"DATABASE_URL is not a valid database URL: {url!r}") from None
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ConfigError(f"Recoup runs on PostgreSQL only; DATABASE_URL uses {parsed.drivername!r}.")


def embedded_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL kept under data_dir/pg and return its URL."""
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
        warnings.simplefilter("ignore")
        import pgserver  # imported here: only needed when no server is configured

    pg_dir = data_dir / "pg"
    pg_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(pg_dir, cleanup_mode=None)
    log.info("using embedded PostgreSQL in %s", pg_dir)
    return str(server.get_uri())


@cache
def database_url() -> str:
    settings = get_settings()
    return normalize_url(settings.database_url or embedded_url(settings.data_dir))


@cache
def engine() -> Engine:
    return create_engine(database_url(), pool_pre_ping=True, pool_size=5, max_overflow=10)


@cache
def session_factory() -> sessionmaker[Session]:
    return sessionmaker(engine(), expire_on_commit=False)


@contextmanager
def transaction() -> Iterator[Session]:
    """One user action: commit on success, roll back on error.

    A refused action is rolled back like any error, then its refusal is written to the
    audit log in a transaction of its own, so the record survives the rollback.
    """
    session = session_factory()()
    try:
        with session.begin():
            yield session
    except PermissionDenied as denied:
        session.close()
        _record_refusal(denied)
        raise
    except IntegrityError as error:  # a race past a service's own check, e.g. two equal imports
        log.warning("integrity error, reported as a conflict: %s", error.orig)
        raise Conflict("Someone saved a conflicting change at the same moment; nothing was saved. Try again.") from None
    except DataError as error:  # a value a service should have refused; never a traceback
        log.error("data error escaped validation: %s", error.orig)
        raise ValidationError("A value is too long or out of range; nothing was saved.") from None
    except OperationalError as error:
        if not isinstance(error.orig, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)):
            raise
        # Two actions locked the same rows in opposite orders (e.g. an import and a payment match).
        log.warning("deadlock, reported as a conflict: %s", error.orig)
        raise Conflict(
            "Someone was changing the same records at the same moment; nothing was saved. Try again."
        ) from None
    finally:
        session.close()


def _record_refusal(denied: PermissionDenied) -> None:
    from core.services.audit import record_refusal

    session = session_factory()()
    try:
        with session.begin():
            record_refusal(session, denied)
    finally:
        session.close()
