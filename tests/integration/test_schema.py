"""The schema: migrations match the models, and the audit log cannot be rewritten."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core import db
from core.models import Base
from core.roles import Role
from tests.factories import make_user


def test_models_and_migrations_agree(database):
    with db.engine().connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET action = 'tampered'", "DELETE FROM audit_log", "TRUNCATE audit_log"],
)
def test_audit_log_refuses_changes_through_the_apps_connection(database, statement):
    with db.transaction() as session:  # committed for real: another connection must see the row
        make_user(session, Role.VIEWER)
    with db.engine().connect() as connection, pytest.raises(DBAPIError, match="append-only"):
        connection.execute(text(statement))


def test_audit_log_accepts_new_rows(session):
    before = session.scalar(text("SELECT count(*) FROM audit_log"))
    make_user(session, Role.VIEWER)
    assert session.scalar(text("SELECT count(*) FROM audit_log")) == before + 1
