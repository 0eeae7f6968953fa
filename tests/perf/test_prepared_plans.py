"""Statements stay prepared across requests (see portal.db.end_request_transaction), and
PostgreSQL then settles on a generic plan, planned without the bound values. A partial index
only serves such a plan when the statement states the index's condition in constants: the
staff inbox must still be able to use ix_outbox_messages_open_inbox then."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import Engine, text

from portal import roster
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


def test_the_roster_page_settles_on_one_plan_for_every_request(db, make_participant):
    """Its page size, statuses and limits are written into the statement, so that only the
    site (and any filter) is bound: with those bound too, PostgreSQL found a plan for unknown
    values dearer and re-planned the page (about 1 ms at 10,000 participants) on every request.
    On one connection the page is then planned once, generically."""
    people = [make_participant() for _ in range(3)]
    db.commit()
    site_ids = {people[0].site_id}
    for _ in range(14):  # psycopg prepares after 5 runs; PostgreSQL weighs a generic plan after 5 more
        page = roster.search(db, site_ids, roster.RosterFilter(), date(2026, 12, 1))
        assert page.total == 3
    plans = db.execute(text(
        "SELECT parameter_types::text, generic_plans FROM pg_prepared_statements WHERE statement LIKE '%phone_e164%'"
    )).all()  # fmt: skip
    assert len(plans) == 1, plans
    parameter_types, generic_plans = plans[0]
    assert "," not in parameter_types, parameter_types  # one parameter: the site's id
    assert generic_plans > 0
