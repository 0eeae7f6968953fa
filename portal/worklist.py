"""A site's visit worklist (today, the coming week, overdue) and participants' reschedule requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from . import audit
from .audit import Actor
from .i18n import clock, short_date, to_local, translations
from .models import Participant, RescheduleRequest, Site, StaffUser, Visit, VisitDefinition
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
    """One open visit as the worklist shows it: plain values, read in the same statement that
    sorts the visits into sections (no ORM objects for a list that can hold hundreds)."""

    visit_id: int
    local_day: date  # the booked day, or the target day when not booked yet
    state: str  # upcoming | in_window | overdue
    scheduled_at: datetime | None
    status: str
    is_infusion: bool
    window_start: date
    window_end: date
    visit_code: str
    participant_id: int
    study_code: str
    full_name: str


PAGE_SIZE = 50  # rows per section page: a busy site's week stays one quick page at a time
REQUESTS_PAGE_SIZE = 20  # each request renders two forms
SECTIONS = ("today", "week", "overdue", "requests")


@dataclass(frozen=True)
class Paging:
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class Worklist:
    today: list[WorkItem]  # the shown page of each section
    week: list[WorkItem]
    overdue: list[WorkItem]
    requests: list[RescheduleRequest]
    paging: dict[str, Paging]  # "today" | "week" | "overdue" | "requests"


def _page(total: int, asked: int, size: int) -> Paging:
    pages = max(1, -(-total // size))
    return Paging(total, min(max(asked, 1), pages), pages)


def _due_visits(session: Session, site_ids: set[int], today: date, horizon: date) -> dict[str, list[WorkItem]]:
    """Every open visit of active participants due before the horizon, as plain rows: sorted
    into today / week / overdue by the site-local day, earliest first."""
    rows = session.execute(
        select(Visit.id, Visit.scheduled_at, Visit.target_date, Visit.window_start, Visit.window_end, Site.timezone,
               Visit.status, Visit.is_infusion, VisitDefinition.code, Participant.id, Participant.study_code,
               Participant.full_name)
        .join(Participant, (Participant.id == Visit.participant_id) & (Participant.site_id == Visit.site_id))
        .join(Site, Site.id == Visit.site_id)
        .join(VisitDefinition, VisitDefinition.id == Visit.definition_id)
        .where(
            # this site's visits only (ix_visits_site_status_*), and only its participants: the
            # planner then reads the active ones from ix_participants_site_status, not every site's
            Visit.site_id.in_(site_ids),
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
    )  # fmt: skip
    lists: dict[str, list[WorkItem]] = {"today": [], "week": [], "overdue": []}
    for visit_id, scheduled_at, target, wstart, wend, tz, status, infusion, code, pid, study_code, name in rows:
        day = to_local(scheduled_at, tz).date() if scheduled_at else target
        state = window_state(wstart, wend, today)
        item = WorkItem(visit_id, day, state, scheduled_at, status, infusion, wstart, wend, code, pid, study_code, name)
        if state == "overdue" or day < today:
            lists["overdue"].append(item)
        elif day == today:
            lists["today"].append(item)
        elif day <= horizon:
            lists["week"].append(item)
    latest = datetime.max.replace(tzinfo=UTC)
    for items in lists.values():
        items.sort(key=lambda d: (d.local_day, d.scheduled_at or latest, d.visit_id))
    return lists


def build(session: Session, site_ids: set[int], today: date, days: int = 7,
          pages: dict[str, int] | None = None) -> Worklist:  # fmt: skip
    """Open visits of active participants whose booked or target day falls before today + days,
    one page per section (one statement for all sections), and a page of pending requests."""
    pages = pages or {}
    lists = _due_visits(session, set(site_ids), today, today + timedelta(days=days))
    paging = {name: _page(len(items), pages.get(name, 1), PAGE_SIZE) for name, items in lists.items()}
    shown = {name: items[(paging[name].page - 1) * PAGE_SIZE:paging[name].page * PAGE_SIZE]
             for name, items in lists.items()}  # fmt: skip
    requests, paging["requests"] = pending_requests_page(session, site_ids, pages.get("requests", 1))
    return Worklist(shown["today"], shown["week"], shown["overdue"], requests, paging)


def _pending(site_ids: set[int]) -> Any:
    return (
        select(RescheduleRequest)
        .join(RescheduleRequest.participant)
        .where(RescheduleRequest.status == "pending", Participant.site_id.in_(site_ids))
    )


def pending_requests_page(session: Session, site_ids: set[int], page: int = 1,
                          size: int = REQUESTS_PAGE_SIZE) -> tuple[list[RescheduleRequest], Paging]:  # fmt: skip
    """One page of pending requests, oldest first, with the total from the same statement: the
    page's ids (and the count) are picked from the requests alone, and only those rows are joined
    to their participant, site, visit and visit definition."""
    page = max(page, 1)
    chosen = (
        select(RescheduleRequest.id, func.count().over().label("total"))
        .join(Participant, Participant.id == RescheduleRequest.participant_id)
        .where(RescheduleRequest.status == "pending", Participant.site_id.in_(site_ids))
        .order_by(RescheduleRequest.created_at, RescheduleRequest.id)
        .limit(size).offset((page - 1) * size)
    ).subquery()  # fmt: skip
    rows = session.execute(
        select(RescheduleRequest, chosen.c.total)
        .join(chosen, chosen.c.id == RescheduleRequest.id)
        .options(joinedload(RescheduleRequest.participant).joinedload(Participant.site),
                 joinedload(RescheduleRequest.visit).joinedload(Visit.definition))
        .order_by(RescheduleRequest.created_at, RescheduleRequest.id)
    ).all()  # fmt: skip
    total = rows[0][1] if rows else 0
    if not rows and page > 1:
        total = session.scalar(select(func.count()).select_from(_pending(site_ids).subquery())) or 0
    return [r[0] for r in rows], _page(total, page, size)




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
