"""What a participant's home and visit pages show: next visit, timeline, past visits, progress.

Plain data only (dates in the site's calendar, codes for states); templates put it into words.
The treatment arm never appears here: infusion days come from ``Visit.is_infusion``, which the
schedule engine sets only for the arm that has them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, joinedload

from .i18n import localized, to_local
from .models import Participant, RescheduleRequest, Visit
from .models.visits import OPEN_VISIT_STATUSES


@dataclass(frozen=True)
class VisitItem:
    visit: Visit
    name: str
    day: date  # booked day, or the target day while unbooked
    at: datetime | None  # site-local booked time
    booked: bool
    window_start: date
    window_end: date
    status: str
    procedures: tuple[str, ...]
    preparation: tuple[str, ...]
    days_to_go: int
    can_confirm: bool
    can_reschedule: bool
    requests: tuple[RescheduleRequest, ...] = field(default=())

    @property
    def id(self) -> int:
        return self.visit.id

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_VISIT_STATUSES

    @property
    def pending_request(self) -> RescheduleRequest | None:
        return next((r for r in self.requests if r.status == "pending"), None)


@dataclass(frozen=True)
class HomeSummary:
    next_visit: VisitItem | None
    upcoming: list[VisitItem]
    past: list[VisitItem]
    position: int  # 1-based place of the next visit among all visits that count
    total: int
    done: int


@lru_cache(maxsize=2)
def _visits_with_requests(one_visit: bool) -> Select[tuple[Visit, RescheduleRequest | None]]:
    """A participant's visits (or one of them) with their date-change requests, newest request
    first, in one statement; built once with bound parameters (construction costs more than running)."""
    theirs = (RescheduleRequest.visit_id == Visit.id) & (RescheduleRequest.participant_id == Visit.participant_id)
    query = (
        select(Visit, RescheduleRequest)
        .outerjoin(RescheduleRequest, theirs)
        .where(Visit.participant_id == bindparam("participant_id"))
        .options(joinedload(Visit.definition))
        .order_by(Visit.target_date, Visit.id, RescheduleRequest.created_at.desc(), RescheduleRequest.id.desc())
    )
    return query.where(Visit.id == bindparam("visit_id")) if one_visit else query


def _grouped(rows: Iterable[tuple[Visit, RescheduleRequest | None]]) -> dict[Visit, list[RescheduleRequest]]:
    grouped: dict[Visit, list[RescheduleRequest]] = {}
    for visit, request in rows:
        requests = grouped.setdefault(visit, [])
        if request is not None:
            requests.append(request)
    return grouped


def load_visits(session: Session, participant: Participant, locale: str, today: date) -> list[VisitItem]:
    rows = session.execute(_visits_with_requests(False), {"participant_id": participant.id})
    items = [describe(v, participant, locale, today, tuple(reqs)) for v, reqs in _grouped(rows).items()]
    return sorted(items, key=lambda i: (i.day, i.visit.id))


def load_visit(
    session: Session, participant: Participant, visit_id: int, locale: str, today: date
) -> VisitItem | None:
    """One visit of this participant; None for anyone else's id (ownership in the query)."""
    rows = session.execute(_visits_with_requests(True), {"participant_id": participant.id, "visit_id": visit_id})
    found = _grouped(rows)
    return next((describe(v, participant, locale, today, tuple(reqs)) for v, reqs in found.items()), None)


def describe(
    visit: Visit,
    participant: Participant,
    locale: str,
    today: date,
    requests: tuple[RescheduleRequest, ...] = (),
) -> VisitItem:
    site = participant.site
    at = to_local(visit.scheduled_at, site.timezone) if visit.scheduled_at else None
    day = visit.actual_date or (at.date() if at else visit.target_date)
    open_ = visit.status in OPEN_VISIT_STATUSES
    return VisitItem(
        visit=visit,
        name=localized(visit.definition, "name", locale),
        day=day,
        at=at,
        booked=at is not None,
        window_start=visit.window_start,
        window_end=visit.window_end,
        status=visit.status,
        procedures=procedures(visit),
        preparation=preparation(visit, participant, locale),
        days_to_go=(day - today).days,
        can_confirm=visit.status == "scheduled" and day >= today,
        can_reschedule=open_ and visit.window_end >= today and visit.window_start < visit.window_end,
        requests=requests,
    )


def procedures(visit: Visit) -> tuple[str, ...]:
    """Codes of what happens: labs, ultrasound, afp, survival, and infusion on infusion days."""
    codes = [str(p) for p in visit.definition.procedures or ()]
    if visit.is_infusion:
        codes.append("infusion")
    return tuple(codes)


def preparation(visit: Visit, participant: Participant, locale: str) -> tuple[str, ...]:
    """How to prepare, from the protocol file (infusion advice only on infusion days)."""
    lang = "zh" if locale.startswith("zh") else "en"
    texts: dict[str, str] = (participant.study.content or {}).get("preparation", {})
    lines: list[str] = []
    if visit.definition.fasting:
        lines.append(texts.get(f"fasting_{lang}", ""))
    if "ultrasound" in (visit.definition.procedures or ()):
        lines.append(texts.get(f"ultrasound_{lang}", ""))
    if visit.is_infusion:
        lines.append(texts.get(f"infusion_{lang}", ""))
    lines.append(localized(visit.definition, "preparation", locale))
    lines.append(texts.get(f"bring_{lang}", ""))
    return tuple(line for line in lines if line.strip())


def summarize(items: list[VisitItem], today: date) -> HomeSummary:
    counted = [i for i in items if i.status != "cancelled"]
    upcoming = [i for i in counted if i.is_open and i.day >= today]
    past = [i for i in counted if not (i.is_open and i.day >= today)]
    next_visit = upcoming[0] if upcoming else None
    position = counted.index(next_visit) + 1 if next_visit else len(counted)
    done = sum(1 for i in counted if i.status == "completed")
    return HomeSummary(next_visit, upcoming[1:], list(reversed(past)), position, len(counted), done)


def default_time(participant: Participant) -> time:
    hour, minute = (int(x) for x in participant.site.default_visit_time.split(":"))
    return time(hour, minute)
