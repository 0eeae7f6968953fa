"""Alembic is the only road to a schema: head equals the models, and downgrade works."""

import warnings
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import DatabaseError

from portal import migrate
from portal.models import Base


def _diff(engine: Engine) -> list:
    with engine.connect() as connection, warnings.catch_warnings():
        # SQLite cannot reflect an expression index; migrate.HAND_WRITTEN_INDEXES are left out anyway
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        opts = {"compare_type": True, "include_object": migrate.include_object}
        context = MigrationContext.configure(connection, opts=opts)
        return compare_metadata(context, Base.metadata)


def _check_roundtrip(engine: Engine) -> None:
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert _diff(engine) == []
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)  # and up again after a downgrade
    assert _diff(engine) == []


def test_sqlite_empty_to_head_equals_models_and_downgrades(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    _check_roundtrip(engine)
    engine.dispose()


@pytest.mark.postgres
def test_postgres_empty_to_head_equals_models_and_downgrades(postgres_template):
    from tests.conftest import PG_ADMIN_URL, _drop_pg_database, _pg_url

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('CREATE DATABASE "portal_empty_migration"'))
    try:
        engine = create_engine(_pg_url("portal_empty_migration"))
        _check_roundtrip(engine)
        engine.dispose()
    finally:
        _drop_pg_database(admin, "portal_empty_migration")
        admin.dispose()


def _audit_row(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_events (occurred_at, actor_type, actor_role, action, object_type, object_id,"
                " reason, request_id, ip_address) VALUES (CURRENT_TIMESTAMP, 'system', '', 'test', '', '', '', '', '')"
            )
        )


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_database_refuses_to_change_audit_rows(backend, app):
    engine = app.extensions["engine"]
    assert engine.dialect.name == backend
    _audit_row(engine)
    for statement in ("UPDATE audit_events SET action = 'forged'", "DELETE FROM audit_events"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT action FROM audit_events")).scalars().all() == ["test"]
