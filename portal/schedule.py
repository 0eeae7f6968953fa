"""The schedule engine: a participant's visits from their arm and day 0.

Every visit is anchored to day 0, so moving one visit never drags the later ones with it.
Pure functions first (property-tested); session functions below change visits and re-plan
their reminders at once (DESIGN.md invariant 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, reminders
from .audit import Actor
from .models import Participant, Visit, VisitDefinition, VisitDefinitionArm
from .models.visits import OPEN_VISIT_STATUSES


class ScheduleError(ValueError):
    """A visit change that the protocol or the visit's state does not allow."""


class OutOfWindowError(ScheduleError):
    """A date outside the visit window without the reason the protocol deviation needs."""


@dataclass(frozen=True)
class VisitTemplate:
    """One protocol visit as seen by one arm."""

    definition_id: int | None
    code: str
    day_offset: int
    window_before: int
    window_after: int
    is_infusion: bool


@dataclass(frozen=True)
class PlannedVisit:
    definition_id: int | None
    code: str
    target_date: date
    window_start: date
    window_end: date
    is_infusion: bool

    def contains(self, day: date) -> bool:
        return self.window_start <= day <= self.window_end


def build_schedule(templates: Iterable[VisitTemplate], day0: date) -> list[PlannedVisit]:
    """Target dates and windows in the site's calendar, ordered by target date."""
    planned = [
        PlannedVisit(
            definition_id=t.definition_id,
            code=t.code,
            target_date=day0 + timedelta(days=t.day_offset),
            window_start=day0 + timedelta(days=t.day_offset - t.window_before),
            window_end=day0 + timedelta(days=t.day_offset + t.window_after),
            is_infusion=t.is_infusion,
        )
        for t in templates
    ]
    return sorted(planned, key=lambda p: p.target_date)


def window_state(window_start: date, window_end: date, today: date) -> str:
    """'upcoming' before the window, 'in_window' inside it, 'overdue' after it."""
    if today < window_start:
        return "upcoming"
    if today <= window_end:
        return "in_window"
    return "overdue"


def templates_for_arm(session: Session, study_id: int, arm_id: int) -> list[VisitTemplate]:
    rows = session.execute(
        select(VisitDefinition, VisitDefinitionArm.infusion)
        .join(VisitDefinitionArm, VisitDefinitionArm.definition_id == VisitDefinition.id)
        .where(VisitDefinition.study_id == study_id, VisitDefinitionArm.arm_id == arm_id)
        .order_by(VisitDefinition.sequence)
    ).all()
    return [
        VisitTemplate(d.id, d.code, d.day_offset, d.window_before, d.window_after, infusion)
        for d, infusion in rows
    ]


def create_visits(session: Session, participant: Participant) -> list[Visit]:
    """Generate the participant's protocol visits (status planned) from day 0."""
    templates = templates_for_arm(session, participant.study_id, participant.arm_id)
    visits = [
        Visit(
            participant_id=participant.id,
            site_id=participant.site_id,
            definition_id=p.definition_id,
            target_date=p.target_date,
            window_start=p.window_start,
            window_end=p.window_end,
            is_infusion=p.is_infusion,
            status="planned",
        )
        for p in build_schedule(templates, participant.day0)
    ]
    session.add_all(visits)
    session.flush()
    return visits


def local_datetime(day: date, at: time, timezone: str) -> datetime:
    """A site-local wall time as an aware UTC datetime."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def schedule_visit(
    session: Session,
    visit: Visit,
    day: date,
    at: time,
    actor: Actor,
    *,
    reason: str = "",
    now: datetime | None = None,
) -> Visit:
    """Book (or move) a visit to a site-local date and time.

    Inside the window it is free; outside it needs a reason and is flagged as a deviation.
    Other visits stay where they are: the schedule is anchored to day 0.
    """
    if not visit.is_open:
        raise ScheduleError(f"visit {visit.id} is {visit.status} and cannot be scheduled")
    in_window = visit.window_start <= day <= visit.window_end
    if not in_window and not reason.strip():
        raise OutOfWindowError(
            f"{day.isoformat()} is outside the window "
            f"{visit.window_start.isoformat()}–{visit.window_end.isoformat()}"
        )
    timezone = visit.participant.site.timezone
    before = _snapshot(visit)
    visit.scheduled_at = local_datetime(day, at, timezone)
    visit.status = "scheduled"
    visit.confirmed_at = None
    visit.confirmed_channel = None
    visit.out_of_window = not in_window
    visit.out_of_window_reason = "" if in_window else reason.strip()
    _audit_change(session, actor, "visit.schedule", visit, before, reason)
    reminders.replan_visits(session, [visit.id], now=now)
    return visit


def confirm_visit(
    session: Session, visit: Visit, actor: Actor, channel: str, now: datetime | None = None
) -> Visit:
    """The participant says "I will come" (portal or SMS reply)."""
    if visit.status not in ("scheduled", "confirmed"):
        raise ScheduleError(f"visit {visit.id} is {visit.status}; only a booked visit can be confirmed")
    if visit.status == "confirmed":
        return visit
    before = _snapshot(visit)
    visit.status = "confirmed"
    visit.confirmed_at = now or datetime.now(UTC)
    visit.confirmed_channel = channel
    _audit_change(session, actor, "visit.confirm", visit, before)
    reminders.replan_visits(session, [visit.id], now=now)
    return visit


def complete_visit(
    session: Session, visit: Visit, actual: date, actor: Actor, *, reason: str = "",
    now: datetime | None = None,
) -> Visit:  # fmt: skip
    if visit.status in ("completed", "cancelled"):
        raise ScheduleError(f"visit {visit.id} is already {visit.status}")
    in_window = visit.window_start <= actual <= visit.window_end
    if not in_window and not reason.strip():
        raise OutOfWindowError(f"{actual.isoformat()} is outside the visit window")
    before = _snapshot(visit)
    visit.status = "completed"
    visit.actual_date = actual
    if not in_window:
        visit.out_of_window = True
        visit.out_of_window_reason = reason.strip()
    _audit_change(session, actor, "visit.complete", visit, before, reason)
    reminders.replan_visits(session, [visit.id], now=now)
    return visit


def set_visit_status(
    session: Session, visit: Visit, status: str, actor: Actor, *, reason: str = "",
    now: datetime | None = None,
) -> Visit:  # fmt: skip
    """Mark a visit missed or cancelled (its reminders are cancelled at once)."""
    if status not in ("missed", "cancelled"):
        raise ScheduleError(f"unknown status {status!r}")
    if not visit.is_open and not (status == "cancelled" and visit.status == "missed"):
        raise ScheduleError(f"visit {visit.id} is {visit.status}")
    before = _snapshot(visit)
    visit.status = status
    _audit_change(session, actor, f"visit.{status}", visit, before, reason)
    reminders.replan_visits(session, [visit.id], now=now)
    return visit


def end_participation(
    session: Session,
    participant: Participant,
    status: str,
    on: date,
    reason: str,
    actor: Actor,
    now: datetime | None = None,
) -> list[Visit]:
    """Withdraw, complete or record death: future open visits are cancelled with their reminders."""
    if status not in ("withdrawn", "completed", "deceased"):
        raise ScheduleError(f"unknown participant status {status!r}")
    if not reason.strip() and status != "completed":
        raise ScheduleError("a reason is required")
    before = {"status": participant.status, "status_reason": participant.status_reason}
    participant.status = status
    participant.status_reason = reason.strip()
    participant.status_date = on
    cancelled = cancel_open_visits(session, [participant.id], on)
    audit.record(
        session, actor, f"participant.{status}", object_type="participant", object_id=participant.id,
        participant_id=participant.id, site_id=participant.site_id, before=before,
        after={"status": status, "status_reason": participant.status_reason, "cancelled_visits": len(cancelled)},
        reason=reason,
    )  # fmt: skip
    reminders.replan_participants(session, [participant.id], now=now)
    return cancelled


def cancel_open_visits(session: Session, participant_ids: Sequence[int], from_day: date) -> list[Visit]:
    visits = list(
        session.scalars(
            select(Visit).where(
                Visit.participant_id.in_(participant_ids),
                Visit.status.in_(OPEN_VISIT_STATUSES),
                Visit.target_date >= from_day,
            )
        )
    )
    for visit in visits:
        visit.status = "cancelled"
    session.flush()
    return visits


def _snapshot(visit: Visit) -> dict[str, object]:
    return {
        "status": visit.status,
        "scheduled_at": visit.scheduled_at.isoformat() if visit.scheduled_at else None,
        "actual_date": visit.actual_date.isoformat() if visit.actual_date else None,
        "out_of_window": visit.out_of_window,
    }


def _audit_change(
    session: Session, actor: Actor, action: str, visit: Visit, before: dict[str, object], reason: str = ""
) -> None:
    changed_before, changed_after = audit.changes(before, _snapshot(visit))
    audit.record(
        session, actor, action, object_type="visit", object_id=visit.id,
        participant_id=visit.participant_id, site_id=visit.participant.site_id,
        before=changed_before, after=changed_after, reason=reason,
    )  # fmt: skip
    session.flush()
