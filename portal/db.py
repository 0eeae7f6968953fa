"""Engine and session factory; one database is the truth for the portal and the worker."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
import weakref
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal

from sqlalchemy import ColumnElement, Engine, Executable, Result, Text, cast, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

from .config import Settings
from .pg_cursor import LazyDescriptionCursor
from .sql_dates import register_sqlite

log = logging.getLogger(__name__)

# A pooled connection idle for longer than this is pinged before use (see _ping_when_idle).
PING_AFTER_IDLE_SECONDS = 1.0


def make_engine(settings: Settings, *, ping: Literal["always", "idle"] = "always", **kwargs: Any) -> Engine:
    """``ping="always"`` tests every pooled PostgreSQL connection before use (the worker);
    ``"idle"`` only one that sat unused for a second or more (the portal: see _ping_when_idle)."""
    url = settings.database_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        _fresh_pool_after_fork(engine)
        return engine
    kwargs.setdefault("pool_size", settings.db_pool_size)
    kwargs.setdefault("connect_args", {
        "prepare_threshold": settings.db_prepare_threshold or None,
        "cursor_factory": LazyDescriptionCursor,  # see pg_cursor: ~8 % of a page's CPU
    })  # fmt: skip
    kwargs.setdefault("pool_pre_ping", ping == "always")
    engine = create_engine(url, **kwargs)
    _fresh_pool_after_fork(engine)
    if ping == "idle":
        _ping_when_idle(engine)
    _track_writes(engine)
    return engine


def _fresh_pool_after_fork(engine: Engine) -> None:
    """A forked process (gunicorn's preloaded workers) must never use the connections its parent
    opened: the child forgets them without closing them (closing would end the parent's too)."""
    ref = weakref.ref(engine)

    def _forget_parents_connections() -> None:
        forked = ref()
        if forked is not None:
            forked.dispose(close=False)

    os.register_at_fork(after_in_child=_forget_parents_connections)


def _track_writes(engine: Engine) -> None:
    """Note on each connection whether its current transaction sent anything but SELECTs."""

    @event.listens_for(engine, "begin")
    def _nothing_written_yet(conn: Any) -> None:
        conn.info["wrote"] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _note_write(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip()[:6].upper() != "SELECT":
            conn.info["wrote"] = True


def execute_core(
    session: Session, statement: Executable, params: dict[str, Any] | list[dict[str, Any]]
) -> Result[Any]:
    """A Core statement (one that loads no entities) in the session's transaction, without the
    ORM's execution path and result handling (about 0.15 ms a statement here, on every page).
    Pending changes are flushed first, as Session.execute would. A list of parameter sets runs
    the statement once for each (executemany). Rows it changes are not synchronised with objects
    already loaded in the session, as with ``synchronize_session=False``."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, params)


def read_rows(session: Session, statement: Executable, params: dict[str, Any]) -> Result[Any]:
    """Plain rows of a statement that selects columns, not entities (see execute_core)."""
    return execute_core(session, statement, params)


def end_request_transaction(session: Session, failed: bool) -> None:
    """Close a request's session. A transaction that only read is committed first: the outcome
    is the same as a rollback, but psycopg drops every prepared statement of a connection on
    ROLLBACK, so each page would otherwise plan all its statements afresh on every request.
    Anything written and not committed by the view, or any failure, is rolled back as before.
    Nothing rides on that COMMIT, so if it fails (the connection dropped after the page's last
    read) the page that was built is still answered, as a rollback's failure would let it be."""
    try:
        unsaved = session.new or session.dirty or session.deleted
        if not failed and session.in_transaction() and not unsaved and session.connection().info.get("wrote") is False:
            session.commit()
    except exc.DBAPIError:
        log.warning("ending a read-only transaction failed; the connection is discarded", exc_info=True)
    finally:
        session.close()


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling without a round trip on every page.

    A connection handed back less than a second ago was working then; under load that is every
    checkout, and a ping each time would add a round trip to every page. One that sat longer
    (quiet hours, or the seconds a database restart takes) is pinged, and a dead one makes the
    pool discard every connection older than now and open a fresh one, as pool_pre_ping does.
    The price: connections cut within a second of their last use (a backend killed under load)
    fail the next request on each of them once; SQLAlchemy then recycles the whole pool.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return  # a new connection, or one in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if not engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise  # not a lost connection: report it as it is, as pool_pre_ping does
            raise exc.InvalidatePoolError() from error


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # WAL lets the portal read while the worker writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    register_sqlite(dbapi_connection)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- JSON that many rows share -----------------------------------------------------------------


def json_text(column: ColumnElement[Any]) -> ColumnElement[str]:
    """A JSON column read as its text, for values that many rows and requests share (a visit
    definition's procedure codes, a study's content): ``shared_json`` parses each text once."""
    return cast(column, Text)


@lru_cache(maxsize=256)
def shared_json(text: str | None) -> Any:
    """``text`` parsed once per process, frozen (objects read-only, arrays as tuples): every
    caller gets the same value."""
    return _frozen(json.loads(text)) if text else None


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value
