"""Every patient and staff page issues the same number of SQL statements whatever the cohort's
size: a list that grows with the data would show up here as an N+1 (a behaviour, not a timing).

The pages come from the one list in bench/pages.py; each must also stay within 6 statements per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from bench.cohort import generate
from bench.pages import PAGES, PageCount, participants_for_load, staff_for_load, statements_per_page
from portal import create_app
from portal.config import load_settings
from portal.db import make_engine

SMALL, LARGE = 12, 120
NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
SECRET = "query-count-secret-0123456789-0123456789"


def _cohort_counts(tmp: Path, participants: int) -> dict[str, PageCount]:
    url = f"sqlite:///{tmp / f'cohort{participants}.sqlite3'}"
    settings = load_settings(environ={}, database_url=url, secret_key=SECRET, instance_path=tmp, testing=True)
    engine = make_engine(settings)
    generate(engine, participants, now=NOW, quiet=True)
    engine.dispose()
    app: Flask = create_app(settings)
    with Session(app.extensions["engine"]) as db:
        people = participants_for_load(db, 4)
        staff = staff_for_load(db)[:2]
        db.expunge_all()
    counts = {c.page: c for c in statements_per_page(app, people, staff)}
    app.extensions["engine"].dispose()
    return counts


@pytest.fixture(scope="module")
def counts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, PageCount], dict[str, PageCount]]]:
    tmp = tmp_path_factory.mktemp("query-counts")
    yield _cohort_counts(tmp, SMALL), _cohort_counts(tmp, LARGE)


@pytest.mark.parametrize("page", [p.name for p in PAGES])
def test_statements_per_page_do_not_grow_with_the_cohort(
    counts: tuple[dict[str, PageCount], dict[str, PageCount]], page: str
) -> None:
    small, large = counts[0][page], counts[1][page]
    if not small.built:
        pytest.skip(f"{page}: not built yet")
    assert small.statements and large.statements, f"{page}: no signed-in user could open it"
    assert set(small.status_codes) == {200} and set(large.status_codes) == {200}, (small, large)
    assert large.steady == small.steady, f"{page}: {small.statements} at {SMALL} vs {large.statements} at {LARGE}"
    assert len(set(large.statements)) == 1, f"{page}: differs between participants: {large.statements}"


MAX_STATEMENTS = 6  # issue 8's target, for patient and staff pages alike


@pytest.mark.parametrize("page", [p.name for p in PAGES])
def test_every_page_issues_at_most_six_statements(
    counts: tuple[dict[str, PageCount], dict[str, PageCount]], page: str
) -> None:
    small, large = counts[0][page], counts[1][page]
    assert small.built, f"{page}: no endpoint in the app answers it"
    assert small.statements and large.statements, f"{page}: no signed-in user could open it"
    worst = max(small.statements + large.statements)
    assert worst <= MAX_STATEMENTS, f"{page}: {worst} statements per request (target ≤ {MAX_STATEMENTS})"
