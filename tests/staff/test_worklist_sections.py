"""The worklist's sections (today, the coming week, overdue) and their pages match the rule
staff read them by, on SQLite and PostgreSQL alike: a visit's day is its booked day in the
site's time zone (its target day when not booked yet); overdue when that day or its window has
passed; each section earliest first (day, booked time with unbooked last, then id)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal import worklist
from portal.i18n import to_local
from portal.models import Participant, Visit
from portal.models.visits import OPEN_VISIT_STATUSES

from .objects import ask_for_another_date

TODAY = date(2026, 12, 8)
HORIZON = TODAY + timedelta(days=7)
SH = "Asia/Shanghai"


def _expected(db: Session, site_id: int) -> dict[str, list[int]]:
    sections: dict[str, list[tuple[tuple[object, ...], int]]] = {"today": [], "week": [], "overdue": []}
    visits = db.scalars(select(Visit).join(Participant).where(
        Visit.site_id == site_id, Participant.status == "active", Visit.status.in_(OPEN_VISIT_STATUSES)))  # fmt: skip
    for v in visits:
        day = to_local(v.scheduled_at, SH).date() if v.scheduled_at else v.target_date
        if v.window_end < TODAY or day < TODAY:
            name = "overdue"
        elif day == TODAY:
            name = "today"
        elif day <= HORIZON:
            name = "week"
        else:
            continue
        sections[name].append(((day, v.scheduled_at is None, v.scheduled_at or datetime.min.replace(tzinfo=UTC), v.id),
                               v.id))  # fmt: skip
    return {name: [vid for _key, vid in sorted(rows)] for name, rows in sections.items()}


@pytest.fixture
def busy_site(db: Session, make_participant) -> int:  # type: ignore[no-untyped-def]
    """Participants enrolled on different days, some visits booked around the site's midnight."""
    # day-28 visits due from the 6th to the 14th (windows of ±3 days); day-0 visits long overdue
    people = [make_participant(site="BJ", day0=date(2026, 11, 8) + timedelta(days=i)) for i in range(14)]
    people[-1].status = "withdrawn"  # their visits are nobody's work
    month_visits = db.scalars(select(Visit).where(
        Visit.participant_id.in_([p.id for p in people]), Visit.target_date.between(TODAY - timedelta(days=3), HORIZON),
    ).order_by(Visit.id)).all()  # fmt: skip
    bookings = [
        datetime(2026, 12, 8, 15, 59, tzinfo=UTC),  # 23:59 in Beijing: today
        datetime(2026, 12, 8, 16, 0, tzinfo=UTC),  # 00:00 on the 9th in Beijing: the coming week
        datetime(2026, 12, 7, 15, 0, tzinfo=UTC),  # 23:00 on the 7th: overdue
        datetime(2026, 12, 8, 1, 30, tzinfo=UTC),  # 09:30 today
        datetime(2026, 12, 8, 1, 30, tzinfo=UTC),  # the same time: by id
        datetime(2026, 12, 15, 17, 0, tzinfo=UTC),  # 01:00 on the 16th: past the horizon
    ]
    for visit, at in zip(month_visits[::2], bookings, strict=False):
        visit.scheduled_at, visit.status = at, "scheduled"
    # booked past the horizon, out of its window, which has ended: overdue all the same
    long_due = db.scalars(select(Visit).where(Visit.participant_id == people[1].id).order_by(Visit.target_date)).first()
    assert long_due is not None and long_due.window_end < TODAY
    long_due.scheduled_at, long_due.status = datetime(2026, 12, 20, 2, 0, tzinfo=UTC), "scheduled"
    db.commit()
    return people[0].site_id


def _check(db: Session, site_id: int, size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worklist, "PAGE_SIZE", size)
    expected = _expected(db, site_id)
    assert all(len(rows) >= 3 for rows in expected.values()), expected  # every section pages
    for name in ("today", "week", "overdue"):
        pages = -(-len(expected[name]) // size)
        for page in range(1, pages + 2):  # one past the end: a stale link shows the last page
            wl = worklist.build(db, {site_id}, TODAY, pages={name: page})
            shown = min(page, pages)
            assert wl.paging[name].total == len(expected[name])
            assert (wl.paging[name].page, wl.paging[name].pages) == (shown, pages)
            items = getattr(wl, name)
            assert [i.visit_id for i in items] == expected[name][(shown - 1) * size:shown * size], (name, page)
            for item in items:
                visit = db.get(Visit, item.visit_id)
                assert visit is not None
                local = to_local(visit.scheduled_at, SH) if visit.scheduled_at else None
                assert item.local_day == (local.date() if local else visit.target_date)
                assert item.local_time == (local.time() if local else None)


@pytest.mark.parametrize("size", [2, 50])
def test_sections_and_pages_on_sqlite(db: Session, busy_site: int, size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    _check(db, busy_site, size, monkeypatch)


@pytest.mark.postgres
def test_sections_and_pages_on_postgresql(db: Session, busy_site: int, monkeypatch: pytest.MonkeyPatch) -> None:
    _check(db, busy_site, 2, monkeypatch)


@pytest.mark.postgres
def test_postgresql_reads_the_due_visits_from_the_worklist_index(db: Session, busy_site: int) -> None:
    """Migration 0002 writes the index's expression out by hand; the planner uses an expression
    index only when the query's expression is the same, so check that it can."""
    bounds = {f"{name}_{end}": n for name in ("today", "week", "overdue") for end, n in (("from", 0), ("to", 50))}
    compiled = worklist._due_query().compile(dialect=db.get_bind().dialect)
    state = compiled.construct_expanded_state({"site_ids": [busy_site], "today": TODAY, "horizon": HORIZON, **bounds})
    db.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(row[0] for row in db.connection().exec_driver_sql(f"EXPLAIN {state.statement}", state.parameters))
    assert "ix_visits_site_status_due" in plan, plan


def test_a_requests_page_past_the_end_shows_the_last_page(db: Session, make_participant) -> None:  # type: ignore[no-untyped-def]
    """A link to a later page of date-change requests, kept after others were answered, shows
    the last page's requests rather than an empty list that says there are none."""
    people = [make_participant(site="BJ") for _ in range(3)]
    asked = [ask_for_another_date(db, person, datetime(2026, 11, 26, 2, i, tzinfo=UTC)).id
             for i, person in enumerate(people)]  # fmt: skip
    db.commit()
    site_id = people[0].site_id
    for page, ids in ((1, asked[:2]), (2, asked[2:]), (5, asked[2:])):
        items, paging = worklist.pending_requests_page(db, {site_id}, page, size=2)
        assert [i.id for i in items] == ids, page
        assert (paging.total, paging.page, paging.pages) == (3, min(page, 2), 2)
