"""Alembic environment: the URL comes from the portal's settings (or an explicit connection)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from portal.config import load_settings
from portal.db import make_engine
from portal.migrate import include_object
from portal.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    settings = load_settings(**({"database_url": url} if url else {}))
    engine = make_engine(settings)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run flask --app wsgi init-db")
run_migrations_online()
