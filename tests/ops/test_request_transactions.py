"""How a request's database transaction ends: read-only requests commit (psycopg forgets its
prepared statements on ROLLBACK, so pages would re-plan every statement on every request);
anything written and not committed by the view, or a failure, is still rolled back."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text

from portal.config import load_settings
from portal.db import make_engine
from portal.extensions import db_session
from portal.models import WorkerHeartbeat
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.postgres

PATTERN = "%" + "probe_marker" + "%"


def _probe_routes(app: Flask) -> None:
    @app.get("/_probe/read")
    def read() -> str:
        return str(db_session().execute(text("SELECT 'probe_marker', CAST(:n AS int)"), {"n": 1}).scalar())

    @app.get("/_probe/prepared")
    def prepared() -> str:
        found = db_session().execute(text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :p"),
                                     {"p": PATTERN}).scalar()  # fmt: skip
        return str(found)

    @app.get("/_probe/write")
    def write() -> str:
        _heartbeat()
        return "flushed, not committed"

    @app.get("/_probe/cut")
    def cut() -> str:
        pid = db_session().execute(text("SELECT pg_backend_pid()")).scalar()
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:  # the database goes away after the page's last read
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
        time.sleep(0.1)
        return "built"

    @app.get("/_probe/fail")
    def fail() -> str:
        _heartbeat()
        raise RuntimeError("after a write")


def _heartbeat() -> None:
    now = datetime.now(UTC)
    db_session().add(WorkerHeartbeat(worker_id="probe:1", hostname="probe", pid=1, started_at=now, last_beat_at=now))
    db_session().flush()


@pytest.fixture
def probed(app: Flask) -> Flask:
    _probe_routes(app)
    return app


def test_read_only_requests_keep_the_connections_prepared_statements(probed: Flask) -> None:
    client = probed.test_client()
    for _ in range(8):  # psycopg prepares a statement on its fifth run on a connection
        assert client.get("/_probe/read").status_code == 200
    assert client.get("/_probe/prepared").get_data(as_text=True) == "1"


def test_what_a_view_wrote_without_committing_is_rolled_back(probed: Flask) -> None:
    client = probed.test_client()
    assert client.get("/_probe/write").status_code == 200
    with pytest.raises(RuntimeError):
        client.get("/_probe/fail")
    with probed.app_context():
        assert db_session().scalar(select(func.count()).select_from(WorkerHeartbeat)) == 0


def test_a_page_already_built_is_answered_when_its_read_only_commit_fails(probed: Flask) -> None:
    response = probed.test_client().get("/_probe/cut")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "built")


@pytest.mark.parametrize(("threshold", "prepared"), [("", 1), ("0", 0)])
def test_prepared_statements_can_be_turned_off_for_an_older_pooler(app: Flask, tmp_path, threshold, prepared):
    url = app.extensions["engine"].url.render_as_string(hide_password=False)
    settings = load_settings(environ={"DB_PREPARE_THRESHOLD": threshold}, database_url=url,
                             secret_key="prepare-test-" + "0123456789" * 4, instance_path=tmp_path)  # fmt: skip
    engine = make_engine(settings)
    with engine.connect() as conn:
        for n in range(8):
            conn.execute(text("SELECT 'probe_marker', CAST(:n AS int)"), {"n": n}).all()
        found = conn.execute(text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :p"),
                             {"p": PATTERN}).scalar()  # fmt: skip
    engine.dispose()
    assert found == prepared
