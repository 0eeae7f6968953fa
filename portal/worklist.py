"""A site's visit worklist (today, the coming week, overdue) and participants' reschedule requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from . import audit
from .audit import Actor
from .db import read_rows
from .i18n import clock, short_date, to_local, translations
from .models import Participant, RescheduleRequest, Site, StaffUser, Visit, VisitDefinition
from .models.people import PARTICIPANT_STATUSES
from .models.visits import OPEN_VISIT_STATUSES
from .outbox import queue_sms
from .schedule import ScheduleError, schedule_visit, window_state
from .sql_dates import due_bound, local_day


class RequestError(ValueError):
    """``code``: 'handled' (already answered), 'not_proposed', 'message_required'."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


class WorkItem(NamedTuple):
    """One open visit as the worklist shows it: plain values (no ORM objects for a list that can
    hold hundreds), built only for the rows of the page being shown. A named tuple, as VisitItem:
    a page builds up to 150, and a frozen dataclass of 12 fields costs several times as much to build."""

    visit_id: int
    local_day: date  # the booked day, or the target day when not booked yet
    local_time: time | None  # the booked time in the site's time zone
    state: str  # upcoming | in_window | overdue
    status: str
    is_infusion: bool
    window_start: date
    window_end: date
    visit_code: str
    participant_id: int
    study_code: str
    full_name: str

    @property
    def clock(self) -> str:
        """The booked time as the worklist prints it (a fixed pattern in every locale)."""
        return self.local_time.strftime("%H:%M") if self.local_time else "—"


class RequestItem(NamedTuple):
    """One pending reschedule request as the worklist shows it (plain values)."""

    id: int
    participant_id: int
    study_code: str
    full_name: str
    visit_code: str
    window_start: date
    window_end: date
    proposed_dates: tuple[date, ...]
    note: str


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
    requests: list[RequestItem]
    paging: dict[str, Paging]  # "today" | "week" | "overdue" | "requests"


def _page(total: int, asked: int, size: int) -> Paging:
    pages = max(1, -(-total // size))
    return Paging(total, min(max(asked, 1), pages), pages)


# Participants whose open visits are nobody's work (withdrawn, completed, deceased).
_NOT_ACTIVE = tuple(status for status in PARTICIPANT_STATUSES if status != "active")

# The visit sections (all but "requests") and the names of their page bounds in _due_query.
_SECTION_PAGE = {name: (f"{name}_from", f"{name}_to") for name in SECTIONS if name != "requests"}
# In SQL a section is a small number: the database sorts and partitions hundreds of rows by it,
# and numbers compare without the text collation.
_SECTION_NUMBER = {"today": 1, "week": 2, "overdue": 3}
_SECTION_NAME = {number: name for name, number in _SECTION_NUMBER.items()}


@lru_cache(maxsize=1)
def _due_query() -> Select[Any]:
    """One page of each section (today, week, overdue) of open visits of active participants at
    the given sites, with each section's total: the database finds each visit's site-local day,
    sorts it into a section, numbers the section's rows (day, then booked time with unbooked
    last, then id) and returns only the asked page of each, plus each section's first row, which
    carries the total even when the page asked for is past the end. Built once with bound
    parameters (construction costs more than running). ``scheduled_at`` is read as stored (naive
    UTC): only the shown rows are turned into site-local times."""
    site_ids = bindparam("site_ids", expanding=True)
    today, horizon = bindparam("today", type_=Date), bindparam("horizon", type_=Date)
    due = (
        select(Visit.id, type_coerce(Visit.scheduled_at, DateTime()).label("scheduled_at"), Visit.window_start,
               Visit.window_end, Site.timezone, Visit.status, Visit.is_infusion, Visit.definition_id,
               Visit.participant_id,
               case((Visit.scheduled_at.is_(None), Visit.target_date),
                    else_=local_day(Visit.scheduled_at, Site.timezone)).label("day"))
        .join(Site, Site.id == Visit.site_id)
        .where(
            # every visit of a section, and a few due just past the horizon (no section): read
            # from ix_visits_site_status_due alone, without the site's time zone
            Visit.site_id.in_(site_ids),
            Visit.status.in_(OPEN_VISIT_STATUSES),
            due_bound(Visit.window_end, Visit.scheduled_at, Visit.target_date) <= horizon,
            # of active participants: the few others of these sites are read and left out
            # (ix_participants_site_status), rather than every active one read and matched
            ~exists().where(Participant.id == Visit.participant_id, Participant.site_id.in_(site_ids),
                            Participant.status.in_(_NOT_ACTIVE)),
        )
        # a fence: each row's day is computed once, not again in every expression that reads it
        .offset(literal_column("0", Integer))
    ).subquery("due")  # fmt: skip
    number = {name: literal_column(str(n), Integer) for name, n in _SECTION_NUMBER.items()}
    sectioned = select(due, case(
        (or_(due.c.window_end < today, due.c.day < today), number["overdue"]),
        (due.c.day == today, number["today"]),
        (due.c.day <= horizon, number["week"]),
    ).label("section")).subquery("sectioned")  # fmt: skip
    # One window for both (row_number ignores the frame): the database numbers and counts in one pass.
    order = (sectioned.c.day, sectioned.c.scheduled_at.is_(None), sectioned.c.scheduled_at, sectioned.c.id)
    window = {"partition_by": sectioned.c.section, "order_by": order, "rows": (None, None)}
    numbered = select(
        sectioned,
        func.row_number().over(**window).label("n"),  # type: ignore[arg-type]
        func.count().over(**window).label("total"),  # type: ignore[arg-type]
    ).subquery("numbered")  # visits past the horizon form a section of their own (NULL), never shown
    n = numbered.c.n
    in_page = or_(*(and_(numbered.c.section == number[name], n > bindparam(lo), n <= bindparam(hi))
                    for name, (lo, hi) in _SECTION_PAGE.items()))  # fmt: skip
    v = numbered.c
    # Names and visit codes only for the rows that leave: the page of each section.
    return (
        select(v.id, v.scheduled_at, v.window_start, v.window_end, v.timezone, v.status, v.is_infusion,
               VisitDefinition.code, v.participant_id, Participant.study_code, Participant.full_name, v.day,
               v.section, v.n, v.total)
        .join(VisitDefinition, VisitDefinition.id == v.definition_id)
        .join(Participant, Participant.id == v.participant_id)
        .where(or_(in_page, v.n == 1))
        .order_by(v.section, v.n)
    )  # fmt: skip


def _due_sections(session: Session, site_ids: set[int], today: date, horizon: date,
                  pages: dict[str, int]) -> tuple[dict[str, list[Any]], dict[str, int]]:  # fmt: skip
    """The asked page of each section (rows as the database returned them) and each section's total."""
    params: dict[str, object] = {"site_ids": sorted(site_ids), "today": today, "horizon": horizon}
    bounds = {name: ((pages[name] - 1) * PAGE_SIZE, pages[name] * PAGE_SIZE) for name in _SECTION_PAGE}
    for name, (lo, hi) in _SECTION_PAGE.items():
        params[lo], params[hi] = bounds[name]
    shown: dict[str, list[Any]] = {name: [] for name in _SECTION_PAGE}
    totals = dict.fromkeys(_SECTION_PAGE, 0)
    for row in read_rows(session, _due_query(), params).all():  # all at once: cheaper than row by row
        number, n, total = row[-3:]  # by position, not name: a page holds up to 150 rows
        section = _SECTION_NAME.get(number)
        if section is None:
            continue
        totals[section] = total
        first, last = bounds[section]
        if first < n <= last:  # not the first row that only carries the total
            shown[section].append(row)
    return shown, totals


def _work_item(row: Any, today: date) -> WorkItem:
    (visit_id, scheduled_at, start, end, zone, status, infusion, code, participant_id, study_code, name,
     day) = row[:12]  # fmt: skip
    local_time = to_local(scheduled_at, zone).time() if scheduled_at is not None else None
    return WorkItem(visit_id, day, local_time, window_state(start, end, today), status, infusion, start, end, code,
                    participant_id, study_code, name)  # fmt: skip


def build(session: Session, site_ids: set[int], today: date, days: int = 7,
          pages: dict[str, int] | None = None) -> Worklist:  # fmt: skip
    """Open visits of active participants whose booked or target day falls before today + days,
    one page per section (one statement for all sections), and a page of pending requests.
    A page past a section's end (a stale link) shows its last page."""
    asked = {name: max((pages or {}).get(name, 1), 1) for name in _SECTION_PAGE}
    horizon = today + timedelta(days=days)
    sites = set(site_ids)
    shown, totals = _due_sections(session, sites, today, horizon, asked)
    paging = {name: _page(totals[name], asked[name], PAGE_SIZE) for name in _SECTION_PAGE}
    if any(paging[name].page != asked[name] for name in _SECTION_PAGE):
        shown, totals = _due_sections(session, sites, today, horizon,
                                      {name: paging[name].page for name in _SECTION_PAGE})  # fmt: skip
    items = {name: [_work_item(row, today) for row in rows] for name, rows in shown.items()}
    requests, paging["requests"] = pending_requests_page(session, site_ids, (pages or {}).get("requests", 1))
    return Worklist(items["today"], items["week"], items["overdue"], requests, paging)


@lru_cache(maxsize=1)
def _requests_query() -> Select[Any]:
    """One page of pending requests, oldest first, with the total in the same statement: the
    page's ids (and the count) come from the requests' own site index alone, and only those rows
    are joined to their participant, visit and visit definition."""
    chosen = (
        select(RescheduleRequest.id, func.count().over().label("total"))
        .where(RescheduleRequest.status == "pending",
               RescheduleRequest.site_id.in_(bindparam("site_ids", expanding=True)))
        .order_by(RescheduleRequest.created_at, RescheduleRequest.id)
        .limit(bindparam("size")).offset(bindparam("offset"))
    ).subquery()  # fmt: skip
    return (
        select(RescheduleRequest.id, Participant.id, Participant.study_code, Participant.full_name,
               VisitDefinition.code, Visit.window_start, Visit.window_end, RescheduleRequest.proposed_date_1,
               RescheduleRequest.proposed_date_2, RescheduleRequest.proposed_date_3, RescheduleRequest.note,
               chosen.c.total)
        .join(chosen, chosen.c.id == RescheduleRequest.id)
        .join(Participant, Participant.id == RescheduleRequest.participant_id)
        .join(Visit, Visit.id == RescheduleRequest.visit_id)
        .join(VisitDefinition, VisitDefinition.id == Visit.definition_id)
        .order_by(RescheduleRequest.created_at, RescheduleRequest.id)
    )  # fmt: skip


def _pending_count(session: Session, site_ids: set[int]) -> int:
    pending = RescheduleRequest.status == "pending"
    return session.scalar(select(func.count()).where(pending, RescheduleRequest.site_id.in_(site_ids))) or 0


def _request_rows(session: Session, site_ids: set[int], page: int, size: int) -> list[Any]:
    params = {"site_ids": sorted(site_ids), "size": size, "offset": (page - 1) * size}
    return list(read_rows(session, _requests_query(), params).all())


def pending_requests_page(session: Session, site_ids: set[int], page: int = 1,
                          size: int = REQUESTS_PAGE_SIZE) -> tuple[list[RequestItem], Paging]:  # fmt: skip
    """One page of pending requests, oldest first, and their total. A page past the end (a
    stale link: requests were answered since) shows the last page."""
    page = max(page, 1)
    rows = _request_rows(session, site_ids, page, size)
    total = rows[0][-1] if rows else 0
    if not rows and page > 1:
        total = _pending_count(session, site_ids)
        page = _page(total, page, size).page
        rows = _request_rows(session, site_ids, page, size) if total else []
    items = [RequestItem(rid, pid, code, name, vcode, start, end, tuple(d for d in (d1, d2, d3) if d), note)
             for rid, pid, code, name, vcode, start, end, d1, d2, d3, note, _total in rows]  # fmt: skip
    return items, _page(total, page, size)


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
