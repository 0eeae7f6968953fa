"""Reminder planning and the worker's jobs, travelling through time with time-machine."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import SYSTEM
from portal.config import QuietHours, Settings
from portal.dispatch import DispatchPolicy, dispatch_due
from portal.models import OutboxMessage, Participant, ReminderPlanEntry, Visit
from portal.participants import set_sms_opt_out
from portal.reminders import next_allowed, replan_participants, replan_visits
from portal.schedule import end_participation, schedule_visit, set_visit_status
from scheduler.jobs import WorkerContext, mark_missed_visits, plan_reminders

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
QUIET = QuietHours(time(21, 0), time(8, 0))
EXPECTED_LOCAL = {"week_before": (7, time(10, 0)), "day_before": (1, time(18, 0)),
                  "infusion_morning": (0, time(8, 0))}  # 07:30 falls in quiet hours: moved to 08:00  # fmt: skip


def local(moment: datetime) -> datetime:
    return moment.astimezone(SHANGHAI)


def _ctx(app: Flask, settings: Settings) -> WorkerContext:
    return WorkerContext(settings, app.extensions["session_factory"], "test:1", threading.Event(),
                         DispatchPolicy(per_phone_cap=5), START)  # fmt: skip


def _entries(db: Session, participant: Participant) -> list[ReminderPlanEntry]:
    db.expire_all()
    return list(db.scalars(
        select(ReminderPlanEntry).join(Visit).where(Visit.participant_id == participant.id)
        .order_by(ReminderPlanEntry.id)
    ))  # fmt: skip


def _pending(db: Session, participant: Participant) -> list[OutboxMessage]:
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).where(
        OutboxMessage.participant_id == participant.id, OutboxMessage.status == "pending")))  # fmt: skip


def test_next_allowed_moves_out_of_quiet_hours() -> None:
    def at(h: int, m: int = 0, day: int = 1) -> datetime:
        return datetime(2026, 12, day, h, m, tzinfo=SHANGHAI).astimezone(UTC)

    assert next_allowed(at(22), "Asia/Shanghai", QUIET) == at(8, day=2)
    assert next_allowed(at(3), "Asia/Shanghai", QUIET) == at(8)
    assert next_allowed(at(7, 59), "Asia/Shanghai", QUIET) == at(8)
    assert next_allowed(at(8), "Asia/Shanghai", QUIET) == at(8)
    assert next_allowed(at(20, 59), "Asia/Shanghai", QUIET) == at(20, 59)
    assert next_allowed(at(23), "Asia/Shanghai", QuietHours(time(0), time(0))) == at(23)


def test_whole_schedule_both_arms_every_reminder_once_at_site_time(
    app: Flask, db: Session, settings: Settings, make_participant, book_visits, capsys
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        treated = make_participant(arm="ucmsc", day0=date(2026, 12, 1), now=START)
        control = make_participant(arm="control", day0=date(2026, 12, 1), locale="en", now=START)
        book_visits(treated, at=time(9, 0))
        book_visits(control, at=time(9, 0))
        ctx = _ctx(app, settings)
        sent: list[tuple[int, datetime]] = []
        for _ in range(400):
            db.expire_all()
            due = db.scalar(select(OutboxMessage.due_at).where(OutboxMessage.status == "pending")
                            .order_by(OutboxMessage.due_at).limit(1))  # fmt: skip
            if due is None:
                break
            traveller.move_to(max(due, datetime.now(UTC)))
            plan_reminders(ctx)
            dispatch_due(ctx.session_factory, settings, policy=ctx.policy)
            db.expire_all()
            now = datetime.now(UTC)
            sent += [(m.id, now) for m in db.scalars(select(OutboxMessage).where(OutboxMessage.sent_at == now))]
    capsys.readouterr()
    for participant, infusions in ((treated, 3), (control, 0)):
        entries = _entries(db, participant)
        visits = {v.id: v for v in db.scalars(select(Visit).where(Visit.participant_id == participant.id))}
        by_rule = {code: [e for e in entries if e.rule_code == code] for code in EXPECTED_LOCAL}
        assert len(by_rule["infusion_morning"]) == infusions  # the control arm has no infusion days
        assert len(by_rule["week_before"]) == len(by_rule["day_before"]) == len(visits) == 17
        for entry in entries:
            assert entry.status == "sent", (entry.rule_code, entry.status, entry.reason)
            message = db.get(OutboxMessage, entry.message_id)
            assert message.status == "delivered"
            visit_local = local(visits[entry.visit_id].scheduled_at)
            days, wall = EXPECTED_LOCAL[entry.rule_code]
            sent_local = local(message.sent_at)
            assert sent_local.date() == visit_local.date() - timedelta(days=days)
            assert sent_local.time() == wall
            assert not QUIET.contains(sent_local.time())
    sent_ids = [mid for mid, _ in sent]
    assert len(sent_ids) == len(set(sent_ids)) == 17 * 2 + 3 + 17 * 2
    bodies = {m.body for m in db.scalars(select(OutboxMessage).where(OutboxMessage.participant_id == control.id))}
    assert all(b.startswith("302 Hospital: study visit") for b in bodies)


def test_infusion_morning_dropped_when_quiet_hours_push_it_past_the_visit(
    db: Session, make_participant, book_visits
) -> None:
    with time_machine.travel(START, tick=False):
        participant = make_participant(arm="ucmsc", now=START)
        book_visits(participant, at=time(8, 0), codes=("BL",))
    (entry,) = [e for e in _entries(db, participant) if e.rule_code == "infusion_morning"]
    assert (entry.status, entry.reason, entry.message_id) == ("dropped", "quiet_hours_after_visit", None)


def test_custom_quiet_hours_move_the_evening_reminder(db: Session, make_participant, book_visits) -> None:
    with time_machine.travel(START, tick=False):
        participant = make_participant(arm="control", now=START)
        (visit,) = book_visits(participant, at=time(11, 0), codes=("W4",))
        replan_visits(db, [visit.id], quiet_hours=QuietHours(time(17, 0), time(9, 0)))
        db.commit()
    day_before = next(e for e in _entries(db, participant) if e.rule_code == "day_before")
    planned = local(day_before.planned_for)
    assert (planned.date(), planned.time()) == (local(visit.scheduled_at).date(), time(9, 0))


def test_planned_visits_get_no_reminders(db: Session, make_participant) -> None:
    with time_machine.travel(START, tick=False):
        participant = make_participant(now=START)
    assert _entries(db, participant) == []
    assert _pending(db, participant) == []


def test_replanning_is_idempotent(db: Session, make_participant, book_visits) -> None:
    with time_machine.travel(START, tick=False):
        participant = make_participant(arm="ucmsc", now=START)
        visits = book_visits(participant, codes=("W4", "W8"))
        before = [(m.id, m.due_at, m.body) for m in _pending(db, participant)]
        for _ in range(3):
            replan_participants(db, [participant.id])
            replan_visits(db, [v.id for v in visits])
            db.commit()
        after = [(m.id, m.due_at, m.body) for m in _pending(db, participant)]
    assert before == after and len(after) == 6


def test_reschedule_moves_pending_reminders_and_never_repeats_a_sent_one(
    app: Flask, db: Session, settings: Settings, make_participant, book_visits, capsys
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        participant = make_participant(arm="control", now=START)
        (visit,) = book_visits(participant, codes=("W4",), at=time(9, 0))  # 2026-12-29
        week_before = next(e for e in _entries(db, participant) if e.rule_code == "week_before")
        traveller.move_to(week_before.planned_for)
        dispatch_due(app.extensions["session_factory"], settings)
        visit = db.get(Visit, visit.id)
        schedule_visit(db, visit, date(2027, 1, 1), time(14, 0), SYSTEM)
        db.commit()
        entries = {e.rule_code: e for e in _entries(db, participant)}
        assert entries["week_before"].status == "sent"  # at most once per (visit, rule)
        (pending,) = _pending(db, participant)
        assert pending.id == entries["day_before"].message_id
        assert local(pending.due_at) == datetime(2026, 12, 31, 18, 0, tzinfo=SHANGHAI)
        assert "1月1日" in pending.body and "14:00" in pending.body
        assert pending.expires_at == visit.scheduled_at
    capsys.readouterr()


def test_cancel_opt_out_withdrawal_and_language_change(db: Session, make_participant, book_visits) -> None:
    with time_machine.travel(START, tick=False):
        participant = make_participant(arm="ucmsc", now=START)
        visits = book_visits(participant, codes=("W4", "W8", "W12"))
        assert len(_pending(db, participant)) == 8
        set_visit_status(db, db.get(Visit, visits[0].id), "cancelled", SYSTEM, reason="patient asked")
        db.commit()
        assert len(_pending(db, participant)) == 5
        assert {e.status for e in _entries(db, participant) if e.visit_id == visits[0].id} == {"cancelled"}

        participant = db.get(Participant, participant.id)
        set_sms_opt_out(db, participant, True, "portal", SYSTEM, START)
        db.commit()
        assert _pending(db, participant) == []
        set_sms_opt_out(db, participant, False, "portal", SYSTEM, START)
        db.commit()
        assert len(_pending(db, participant)) == 5  # opting back in plans them again

        participant.preferred_locale = "en"
        replan_participants(db, [participant.id])
        db.commit()
        assert all(m.body.startswith("302 Hospital:") and m.locale == "en" for m in _pending(db, participant))

        end_participation(db, participant, "withdrawn", date(2026, 11, 20), "moved away", SYSTEM)
        db.commit()
        assert _pending(db, participant) == []
        statuses = {m.status for m in db.scalars(select(OutboxMessage).where(
            OutboxMessage.participant_id == participant.id))}  # fmt: skip
        assert statuses == {"cancelled"}


def test_past_reminders_are_not_planned_beyond_the_grace_period(db: Session, make_participant) -> None:
    with time_machine.travel(START, tick=False):
        participant = make_participant(arm="control", day0=date(2026, 11, 22), now=START)
    visit = db.scalar(select(Visit).where(Visit.participant_id == participant.id).order_by(Visit.target_date))
    # Booked on 20 Nov 15:30 Shanghai for 22 Nov: the week-before time (15 Nov) is long gone.
    with time_machine.travel(datetime(2026, 11, 20, 7, 30, tzinfo=UTC), tick=False):
        schedule_visit(db, visit, date(2026, 11, 22), time(9, 0), SYSTEM)
        db.commit()
    entries = {e.rule_code: e for e in _entries(db, participant)}
    assert (entries["week_before"].status, entries["week_before"].reason) == ("dropped", "too_late")
    assert entries["day_before"].status == "planned"
    # Within the grace period a just-missed reminder still goes out.
    with time_machine.travel(datetime(2026, 11, 21, 10, 30, tzinfo=UTC), tick=False):
        replan_visits(db, [visit.id])
        db.commit()
    assert _entries(db, participant)[1].status == "planned"


def test_after_an_outage_only_the_latest_reminder_of_a_visit_goes_and_phones_are_capped(
    app: Flask, db: Session, settings: Settings, make_participant, book_visits, capsys
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        participant = make_participant(arm="control", day0=date(2026, 12, 1), now=START)
        book_visits(participant, codes=("BL", "W4"), at=time(9, 0))
        # The worker was down from 20 Nov to 30 Nov 20:00 Shanghai: BL's week-before and
        # day-before reminders are both overdue; W4 (29 Dec) is not due yet.
        traveller.move_to(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
        ctx = _ctx(app, settings)
        plan_reminders(ctx)
        report = dispatch_due(ctx.session_factory, settings)
        assert report.claimed == 1
    entries = {(e.visit_id, e.rule_code): e for e in _entries(db, participant)}
    bl = min(v for v, _ in entries)
    assert entries[(bl, "week_before")].status == "dropped"
    assert entries[(bl, "week_before")].reason == "superseded"
    assert entries[(bl, "day_before")].status == "sent"
    capsys.readouterr()


def test_expired_reminders_are_never_sent(app: Flask, db: Session, settings: Settings, make_participant,
                                          book_visits, capsys) -> None:  # fmt: skip
    with time_machine.travel(START, tick=False) as traveller:
        participant = make_participant(arm="control", now=START)
        (visit,) = book_visits(participant, codes=("W4",))
        traveller.move_to(visit.scheduled_at + timedelta(minutes=1))
        report = dispatch_due(app.extensions["session_factory"], settings, policy=DispatchPolicy(per_phone_cap=5))
    assert report.outcomes["held"] == 2
    statuses = {m.status for m in db.scalars(select(OutboxMessage).where(
        OutboxMessage.participant_id == participant.id))}  # fmt: skip
    assert statuses == {"cancelled"}
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("status", ["scheduled", "planned"])
def test_mark_missed_job(app: Flask, db: Session, settings: Settings, make_participant, status: str) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        participant = make_participant(arm="control", day0=date(2026, 12, 1), now=START)
        visit = db.scalar(select(Visit).where(Visit.participant_id == participant.id).order_by(Visit.target_date))
        if status == "scheduled":
            schedule_visit(db, visit, visit.target_date, time(9), SYSTEM)
            db.commit()
        traveller.move_to(datetime(2026, 12, 3, 1, 0, tzinfo=UTC))
        mark_missed_visits(_ctx(app, settings))
    db.expire_all()
    assert db.get(Visit, visit.id).status == "missed"
    assert db.scalar(select(Visit.status).where(Visit.participant_id == participant.id,
                                                Visit.id != visit.id).limit(1)) == "planned"  # fmt: skip
