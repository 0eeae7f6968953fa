"""gunicorn loads the app once and forks its workers (preload_app): a forked process opens its
own database connections and never touches its parent's, and the parent's keep working."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from portal.config import Settings
from portal.db import make_engine

pytestmark = pytest.mark.postgres


def test_a_forked_worker_opens_its_own_connection_and_leaves_its_parents_alone(settings: Settings) -> None:
    engine = make_engine(settings, ping="idle")
    with engine.connect() as conn:  # the pool now holds one open connection, as after start-up
        parent_backend = conn.scalar(text("SELECT pg_backend_pid()"))
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the worker
        try:
            with engine.connect() as conn:
                os.write(write, str(conn.scalar(text("SELECT pg_backend_pid()"))).encode())
        finally:
            os._exit(0)
    os.close(write)
    child_backend = int(os.read(read, 32) or b"0")
    os.waitpid(child, 0)
    assert child_backend not in (0, parent_backend)
    with engine.connect() as conn:  # the parent's pooled connection was not closed by the child
        assert conn.scalar(text("SELECT pg_backend_pid()")) == parent_backend
    engine.dispose()
