"""A site's visit worklist (today, the coming week, overdue) and participants' reschedule requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from . import audit
from .audit import Actor
from .i18n import clock, short_date, to_local, translations
from .models import Participant, RescheduleRequest, Site, StaffUser, Visit
from .models.visits import OPEN_VISIT_STATUSES
from .outbox import queue_sms
from .schedule import ScheduleError, schedule_visit, window_state


class RequestError(ValueError):
    """``code``: 'handled' (already answered), 'not_proposed', 'message_required'."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


@dataclass(frozen=True)
class WorkItem:
    visit: Visit
    local_day: date  # the booked day, or the target day when not booked yet
    state: str  # upcoming | in_window | overdue


@dataclass(frozen=True)
class Worklist:
    today: list[WorkItem]
    week: list[WorkItem]
    overdue: list[WorkItem]
    requests: list[RescheduleRequest]


def _local_day(visit: Visit, tz: str) -> date:
    return to_local(visit.scheduled_at, tz).date() if visit.scheduled_at else visit.target_date


def build(session: Session, site_ids: set[int], today: date, days: int = 7) -> Worklist:
    """Open visits of active participants whose booked or target day falls before today + days."""
    horizon = today + timedelta(days=days)
    visits = session.scalars(
        select(Visit)
        .join(Visit.participant)
        .join(Participant.site)
        .where(
            Participant.site_id.in_(site_ids),
            Participant.status == "active",
            Visit.status.in_(OPEN_VISIT_STATUSES),
            or_(
                Visit.target_date <= horizon,
                # booked visits: a UTC day either side covers every site-local day
                and_(Visit.scheduled_at.is_not(None),
                     Visit.scheduled_at <= datetime.combine(horizon + timedelta(days=1), time(), UTC)),
            ),
        )
        .options(contains_eager(Visit.participant).contains_eager(Participant.site), joinedload(Visit.definition))
        .order_by(Visit.scheduled_at, Visit.target_date, Visit.id)
    ).unique().all()  # fmt: skip
    lists: dict[str, list[WorkItem]] = {"today": [], "week": [], "overdue": []}
    for visit in visits:
        day = _local_day(visit, visit.participant.site.timezone)
        state = window_state(visit.window_start, visit.window_end, today)
        item = WorkItem(visit, day, state)
        if state == "overdue" or day < today:
            lists["overdue"].append(item)
        elif day == today:
            lists["today"].append(item)
        elif day <= horizon:
            lists["week"].append(item)
    for items in lists.values():
        items.sort(key=lambda i: (i.local_day, i.visit.scheduled_at or datetime.max.replace(tzinfo=UTC)))
    return Worklist(lists["today"], lists["week"], lists["overdue"], pending_requests(session, site_ids))


def pending_requests(session: Session, site_ids: set[int]) -> list[RescheduleRequest]:
    return list(
        session.scalars(
            select(RescheduleRequest)
            .join(RescheduleRequest.participant)
            .where(RescheduleRequest.status == "pending", Participant.site_id.in_(site_ids))
            .options(contains_eager(RescheduleRequest.participant).joinedload(Participant.site),
                     joinedload(RescheduleRequest.visit).joinedload(Visit.definition))
            .order_by(RescheduleRequest.created_at)
        ).unique()
    )  # fmt: skip


def _visit_time(visit: Visit, site: Site) -> time:
    if visit.scheduled_at is not None:
        return to_local(visit.scheduled_at, site.timezone).time()
    hours, minutes = (int(x) for x in (site.default_visit_time or "08:00").split(":"))
    return time(hours, minutes)


def accept_request(
    session: Session, req: RescheduleRequest, day: date, staff: StaffUser, actor: Actor, *,
    at: time | None = None, reason: str = "", now: datetime | None = None,
) -> None:  # fmt: skip
    """Move the visit to one of the proposed dates, re-plan reminders, tell the participant by SMS."""
    if req.status != "pending":
        raise RequestError("handled")
    if day not in req.proposed_dates:
        raise RequestError("not_proposed")
    participant, visit = req.participant, req.visit
    site = participant.site
    at = at or _visit_time(visit, site)
    schedule_visit(session, visit, day, at, actor, reason=reason, now=now)
    req.status, req.accepted_date = "accepted", day
    req.handled_by_id, req.handled_at = staff.id, now or datetime.now(UTC)
    audit.record(session, actor, "reschedule.accept", object_type="reschedule_request", object_id=req.id,
                 participant_id=participant.id, site_id=participant.site_id,
                 after={"date": day.isoformat(), "time": at.strftime("%H:%M")}, reason=reason)  # fmt: skip
    if participant.can_receive_sms:
        locale = participant.preferred_locale
        body = translations(locale).gettext("%(site)s: your study visit is now on %(date)s at %(time)s.") % {
            "site": site.localized("sms_name", locale), "date": short_date(day, locale), "time": clock(at, locale)}
        queue_sms(session, to_number=participant.phone_e164, body=body, kind="notification", locale=locale,
                  participant_id=participant.id, created_by_id=staff.id, meta={"reschedule_request": req.id})
    session.flush()


def decline_request(
    session: Session, req: RescheduleRequest, message: str, staff: StaffUser, actor: Actor,
    now: datetime | None = None,
) -> None:  # fmt: skip
    """Decline with a message for the participant (shown in the portal and sent by SMS)."""
    if req.status != "pending":
        raise RequestError("handled")
    if not message.strip():
        raise RequestError("message_required")
    participant = req.participant
    req.status, req.response_message = "declined", message.strip()
    req.handled_by_id, req.handled_at = staff.id, now or datetime.now(UTC)
    audit.record(session, actor, "reschedule.decline", object_type="reschedule_request", object_id=req.id,
                 participant_id=participant.id, site_id=participant.site_id, reason=message.strip())  # fmt: skip
    if participant.can_receive_sms:
        locale = participant.preferred_locale
        body = translations(locale).gettext("%(site)s: %(message)s") % {
            "site": participant.site.localized("sms_name", locale), "message": message.strip()}
        queue_sms(session, to_number=participant.phone_e164, body=body, kind="staff", locale=locale,
                  participant_id=participant.id, created_by_id=staff.id, meta={"reschedule_request": req.id})
    session.flush()


__all__ = ["RequestError", "ScheduleError", "WorkItem", "Worklist", "accept_request", "build", "decline_request"]
