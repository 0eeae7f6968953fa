"""A psycopg cursor whose ``description`` is built on first use.

psycopg builds ``cursor.description`` afresh, one ``Column`` object per result column, each
time it is read, and SQLAlchemy reads it after every statement. Once a statement has run,
SQLAlchemy caches its result metadata and only asks whether the description is ``None``; the
columns themselves go unread. A page's statements return 20-50 columns each, so building them
was ~8 % of a patient page's CPU. Here ``description`` is a sequence that builds the same
``Column`` objects only if something indexes or iterates it, from the result as it was when
``description`` was read (a later ``execute`` on the cursor does not change it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import psycopg
from psycopg import Column
from psycopg.pq.abc import PGresult


class _ResultSource:
    """What ``psycopg.Column(cursor, index)`` reads from its cursor, held for one result."""

    __slots__ = ("_encoding", "adapters", "pgresult")

    def __init__(self, pgresult: PGresult, encoding: str, adapters: Any) -> None:
        self.pgresult = pgresult
        self._encoding = encoding
        self.adapters = adapters


class LazyDescription(Sequence[Column]):
    __slots__ = ("_columns", "_source")

    def __init__(self, source: _ResultSource) -> None:
        self._source = source
        self._columns: list[Column] | None = None

    def _built(self) -> list[Column]:
        if self._columns is None:
            source = self._source
            self._columns = [Column(source, i) for i in range(source.pgresult.nfields)]  # type: ignore[arg-type]
        return self._columns

    @overload
    def __getitem__(self, index: int) -> Column: ...
    @overload
    def __getitem__(self, index: slice) -> list[Column]: ...
    def __getitem__(self, index: int | slice) -> Column | list[Column]:
        return self._built()[index]

    def __len__(self) -> int:
        return self._source.pgresult.nfields

    def __iter__(self) -> Iterator[Column]:
        return iter(self._built())

    def __repr__(self) -> str:
        return repr(self._built())


class LazyDescriptionCursor(psycopg.Cursor[Any]):
    """``psycopg.Cursor`` with a lazily built ``description`` (same columns, same ``None``)."""

    @property
    def description(self) -> Sequence[Column] | None:  # type: ignore[override]
        result = self.pgresult
        if result is None or not result.nfields:
            return super().description  # None, or psycopg's empty list for "SELECT ;"
        return LazyDescription(_ResultSource(result, self._encoding, self.adapters))
