"""Statements stay prepared across requests (see portal.db.end_request_transaction), and
PostgreSQL then settles on a generic plan, planned without the bound values. A partial index
only serves such a plan when the statement states the index's condition in constants: the
staff inbox must still be able to use ix_outbox_messages_open_inbox then."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine, text

from portal.staff_messaging import _unhandled

pytestmark = pytest.mark.postgres


def _generic_plan(engine: Engine, statement: object) -> str:
    """EXPLAIN of ``statement`` prepared and planned generically, sequential scans ruled out."""
    compiled = statement.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})  # type: ignore[attr-defined]
    names: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return f"${len(names)}"

    sql = re.sub(r"%\((\w+)\)s", placeholder, compiled.string)
    params = compiled.construct_params()
    with engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        conn.execute(text("SET plan_cache_mode = force_generic_plan"))
        conn.exec_driver_sql(f"PREPARE probe AS {sql}")
        args = ", ".join("NULL" if params[n] is None else repr(params[n]) for n in names)
        return "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN EXECUTE probe({args})"))


def test_the_inbox_can_use_its_partial_index_in_a_generic_plan(app):
    plan = _generic_plan(app.extensions["engine"], _unhandled([1, 2]))
    assert "ix_outbox_messages_open_inbox" in plan, plan
