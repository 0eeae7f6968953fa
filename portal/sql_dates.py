"""``local_day(moment, zone)``: the calendar day a stored naive-UTC timestamp falls on in a
site's time zone, computed by the database so lists can be sectioned and paged in SQL.

``due_bound(window_end, scheduled_at, target_date)``: a day no later than the site-local day a
visit is due on (its booked day, else its target day) nor its window's end, from the visit's
own columns, so that it can be indexed (an index cannot read the site's time zone).

PostgreSQL converts with its own time zone database; SQLite has none, so every SQLite
connection gets the same conversion as a Python function (``register_sqlite``), using the
zoneinfo data the rest of the portal uses.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction

SQLITE_NAME = "portal_local_day"


class local_day(GenericFunction[Any]):  # lower case, as SQL functions are (func.local_day)
    type = Date()
    inherit_cache = True


@compiles(local_day, "postgresql")
def _postgresql(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    moment, zone = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(timezone({zone}, timezone('UTC', {moment})) AS DATE)"


@compiles(local_day)
def _sqlite(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_NAME}({compiler.process(element.clauses, **kw)})"


class due_bound(GenericFunction[Any]):  # lower case, as SQL functions are
    """Every open visit a worklist up to day D shows (due by D, or past its window's end) has
    ``due_bound <= D``, so an index on it finds them without reading a site's time zone: a
    booked visit's local day is never before the day preceding its UTC day (every offset is
    above -24 h), and an unbooked visit's target day is within its window. The exact day is
    then computed for those rows alone."""

    type = Date()
    inherit_cache = True


@compiles(due_bound, "postgresql")
def _due_bound_postgresql(element: due_bound, compiler: SQLCompiler, **kw: Any) -> str:
    window_end, scheduled_at, target_date = (compiler.process(c, **kw) for c in element.clauses)
    return (f"LEAST({window_end}, CASE WHEN {scheduled_at} IS NULL THEN {target_date} "
            f"ELSE CAST({scheduled_at} AS DATE) - 1 END)")  # fmt: skip


@compiles(due_bound)
def _due_bound_sqlite(element: due_bound, compiler: SQLCompiler, **kw: Any) -> str:
    window_end, scheduled_at, target_date = (compiler.process(c, **kw) for c in element.clauses)
    return (f"min({window_end}, CASE WHEN {scheduled_at} IS NULL THEN {target_date} "
            f"ELSE date({scheduled_at}, '-1 day') END)")  # fmt: skip


def _local_day(moment: str | None, zone: str | None) -> str | None:
    if moment is None or zone is None:
        return None
    stored = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    return stored.astimezone(ZoneInfo(zone)).date().isoformat()


def register_sqlite(dbapi_connection: sqlite3.Connection) -> None:
    dbapi_connection.create_function(SQLITE_NAME, 2, _local_day, deterministic=True)
