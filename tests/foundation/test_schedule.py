"""The schedule engine: property tests for its invariants, and both arms against DESIGN.md §1."""

import itertools
from datetime import date, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.audit import SYSTEM
from portal.models import AuditEvent, Visit
from portal.protocol import load_protocol
from portal.schedule import (
    OutOfWindowError,
    ScheduleError,
    VisitTemplate,
    build_schedule,
    end_participation,
    schedule_visit,
    window_state,
)

from .test_protocol import DESIGN_TABLE, INFUSION_VISITS

SPEC = load_protocol()


def templates(arm: str) -> list[VisitTemplate]:
    return [
        VisitTemplate(None, v.code, v.day, v.window_before, v.window_after, arm in v.infusion_arms)
        for v in SPEC.visits_for_arm(arm)
    ]


day0s = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@pytest.mark.parametrize("arm", ["ucmsc", "control"])
def test_each_arm_schedule_equals_the_design_table(arm):
    day0 = date(2026, 12, 1)
    planned = build_schedule(templates(arm), day0)
    got = {
        p.code: (
            (p.target_date - day0).days,
            (p.target_date - p.window_start).days,
            (p.window_end - p.target_date).days,
        )
        for p in planned
    }
    assert got == DESIGN_TABLE
    infusions = {p.code for p in planned if p.is_infusion}
    assert infusions == (INFUSION_VISITS if arm == "ucmsc" else set())


@settings(max_examples=200, deadline=None)
@given(day0=day0s, arm=st.sampled_from(["ucmsc", "control"]))
def test_windows_hold_their_target_and_never_overlap(day0, arm):
    planned = build_schedule(templates(arm), day0)
    assert planned[0].target_date == day0
    for visit in planned:
        assert visit.window_start <= visit.target_date <= visit.window_end
        assert visit.contains(visit.target_date)
    for earlier, later in itertools.pairwise(planned):
        assert earlier.window_end < later.window_start


@settings(max_examples=200, deadline=None)
@given(day0=day0s, shift=st.integers(min_value=0, max_value=3000))
def test_schedule_is_anchored_to_day0(day0, shift):
    """Moving day 0 moves every visit by the same number of days, nothing else."""
    first = build_schedule(templates("ucmsc"), day0)
    moved = build_schedule(templates("ucmsc"), day0 + timedelta(days=shift))
    for a, b in zip(first, moved, strict=True):
        assert (b.target_date - a.target_date).days == shift
        assert (b.window_end - b.window_start) == (a.window_end - a.window_start)


@settings(max_examples=100, deadline=None)
@given(offset=st.integers(min_value=-60, max_value=60))
def test_window_state(offset):
    start, end = date(2026, 5, 1), date(2026, 5, 7)
    today = start + timedelta(days=offset)
    state = window_state(start, end, today)
    assert state == ("upcoming" if today < start else "in_window" if today <= end else "overdue")


def _visits(db, participant):
    rows = db.scalars(select(Visit).where(Visit.participant_id == participant.id)).all()
    return {v.definition.code: v for v in rows}


def test_rescheduling_one_visit_keeps_later_visits_anchored(db, make_participant):
    participant = make_participant(day0=date(2026, 12, 1))
    visits = _visits(db, participant)
    before = {code: v.target_date for code, v in visits.items()}
    schedule_visit(db, visits["W4"], date(2027, 1, 1), time(9, 0), SYSTEM)
    db.commit()
    assert visits["W4"].status == "scheduled" and not visits["W4"].out_of_window
    assert visits["W4"].scheduled_at.isoformat() == "2027-01-01T01:00:00+00:00"  # 09:00 Asia/Shanghai
    assert {code: v.target_date for code, v in _visits(db, participant).items()} == before


def test_out_of_window_needs_a_reason_and_is_flagged(db, make_participant):
    participant = make_participant(day0=date(2026, 12, 1))
    w4 = _visits(db, participant)["W4"]
    with pytest.raises(OutOfWindowError):
        schedule_visit(db, w4, date(2027, 1, 10), time(9, 0), SYSTEM)
    assert w4.status == "planned"
    schedule_visit(db, w4, date(2027, 1, 10), time(9, 0), SYSTEM, reason="Participant in hospital")
    db.commit()
    assert w4.out_of_window and w4.out_of_window_reason == "Participant in hospital"
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "visit.schedule")).one()
    assert event.reason == "Participant in hospital" and event.after["out_of_window"] is True


def test_withdrawal_cancels_future_visits_only(db, make_participant):
    participant = make_participant(day0=date(2026, 1, 5))
    from portal.schedule import complete_visit

    complete_visit(db, _visits(db, participant)["BL"], date(2026, 1, 5), SYSTEM)
    end_participation(db, participant, "withdrawn", date(2026, 3, 1), "Moved away", SYSTEM)
    db.commit()
    statuses = {code: v.status for code, v in _visits(db, participant).items()}
    assert statuses["BL"] == "completed"
    assert statuses["W4"] == "planned"  # before the withdrawal date: left for the team to record
    assert statuses["W8"] == "cancelled"  # 2 March, after it
    assert all(statuses[c] == "cancelled" for c in ("W12", "W24", "M72"))
    assert participant.status == "withdrawn" and participant.status_reason == "Moved away"
    with pytest.raises(ScheduleError):
        end_participation(db, participant, "withdrawn", date(2026, 3, 1), " ", SYSTEM)
