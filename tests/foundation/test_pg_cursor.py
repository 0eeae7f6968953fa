"""The portal's PostgreSQL cursor: ``description`` is built lazily but reads exactly as psycopg's."""

from __future__ import annotations

import psycopg
import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Participant
from portal.pg_cursor import LazyDescriptionCursor

pytestmark = pytest.mark.postgres


def _dsn(app: Flask) -> str:
    return app.extensions["engine"].url.set(drivername="postgresql").render_as_string(hide_password=False)


def _columns(description: object) -> list[tuple[object, ...]]:
    assert description is not None
    return [tuple(column) for column in description]  # type: ignore[attr-defined]


QUERIES = [
    "SELECT 1 AS one, 'x'::text AS two, now() AS three, NULL::numeric(5, 2) AS four",
    "SELECT * FROM participants",
    "SELECT ",  # tuples, no columns: psycopg answers [] not None
    "SET TIME ZONE 'UTC'",  # no tuples: None
]


@pytest.mark.parametrize("query", QUERIES)
def test_description_reads_as_psycopgs(app: Flask, query: str) -> None:
    with psycopg.connect(_dsn(app)) as plain, psycopg.connect(_dsn(app), cursor_factory=LazyDescriptionCursor) as lazy:
        expected = plain.execute(query).description
        found = lazy.execute(query).description
    if expected is None:
        assert found is None
        return
    assert len(found) == len(expected)  # type: ignore[arg-type]
    assert _columns(found) == _columns(expected)
    assert [(c.name, c.type_code, c.type_display) for c in found] == [  # type: ignore[union-attr]
        (c.name, c.type_code, c.type_display) for c in expected
    ]


def test_a_description_keeps_its_own_result_after_the_cursor_moves_on(app: Flask) -> None:
    with psycopg.connect(_dsn(app), cursor_factory=LazyDescriptionCursor) as conn:
        cursor = conn.cursor()
        first = cursor.execute("SELECT 1 AS alpha, 2 AS beta").description
        cursor.execute("SELECT 'x' AS gamma")
        assert first is not None
        assert [c.name for c in first] == ["alpha", "beta"]
        assert first[-1].name == "beta" and [c.name for c in first[:1]] == ["alpha"]


def test_the_portal_reads_through_it(app: Flask, db: Session) -> None:
    """The engine's connections use the lazy cursor, and ORM and Core results still map columns."""
    connection = db.connection().connection.dbapi_connection
    assert connection is not None and connection.cursor_factory is LazyDescriptionCursor  # type: ignore[attr-defined]
    result = db.connection().exec_driver_sql("SELECT 7 AS seven, 'a' AS letter")
    assert list(result.keys()) == ["seven", "letter"] and result.one()._mapping["letter"] == "a"
    assert db.scalars(select(Participant)).all() == []
