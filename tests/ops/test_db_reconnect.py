"""The portal's pool skips the per-checkout ping under load, yet survives a database restart.

Every connection is cut (as a PostgreSQL restart does) while the pool holds it; the next page
after that must still answer 200, not a 500 from a dead connection.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import Session

from portal import db as portal_db
from portal.models import WorkerHeartbeat
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.postgres


def _fresh_heartbeat(app: Flask) -> None:
    with Session(app.extensions["engine"]) as db:
        now = datetime.now(UTC)
        db.merge(WorkerHeartbeat(worker_id="host:1", hostname="host", pid=1, started_at=now, last_beat_at=now))
        db.commit()


def _cut_every_connection(database: str) -> int:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        cut = conn.scalar(
            text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                 "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": database})  # fmt: skip
    admin.dispose()
    return int(cut or 0)


def test_page_after_a_database_restart_still_answers(app: Flask, client: FlaskClient,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(portal_db, "PING_AFTER_IDLE_SECONDS", 0.05)
    _fresh_heartbeat(app)
    assert client.get("/readyz").status_code == 200  # the pool now holds a working connection
    assert _cut_every_connection(app.extensions["engine"].url.database) >= 1
    time.sleep(0.1)
    assert client.get("/readyz").status_code == 200


def test_a_connection_in_use_a_moment_ago_is_not_pinged(app: Flask, client: FlaskClient) -> None:
    pings: list[object] = []
    dialect = app.extensions["engine"].dialect
    original = dialect.do_ping
    dialect.do_ping = lambda connection: pings.append(connection) or original(connection)  # type: ignore[method-assign]
    _fresh_heartbeat(app)
    for _ in range(5):
        assert client.get("/readyz").status_code == 200
    assert pings == []
    time.sleep(portal_db.PING_AFTER_IDLE_SECONDS + 0.2)
    assert client.get("/readyz").status_code == 200
    assert pings  # each connection the page took from the pool, now idle, was pinged first


def test_the_pool_opens_a_fresh_connection_when_the_ping_fails(app: Flask) -> None:
    engine = app.extensions["engine"]
    opened: list[object] = []
    event.listen(engine, "connect", lambda *_: opened.append(1))
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    _cut_every_connection(engine.url.database)
    time.sleep(portal_db.PING_AFTER_IDLE_SECONDS + 0.2)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT 1")) == 1
    assert len(opened) == 2
