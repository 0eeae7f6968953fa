"""What a participant's home and visit pages show: next visit, timeline, past visits, progress.

Plain data only (dates in the site's calendar, codes for states); templates put it into words.
The treatment arm never appears here: infusion days come from ``Visit.is_infusion``, which the
schedule engine sets only for the arm that has them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Result, Select, bindparam, select
from sqlalchemy.orm import Session

from .audit import PageView, read_recording
from .db import json_text, read_rows, shared_json
from .i18n import to_local
from .models import ParticipantLike, RescheduleRequest, Visit, VisitDefinition
from .models.visits import OPEN_VISIT_STATUSES


@dataclass(frozen=True)
class RequestState:
    """A date-change request as the participant's pages show it."""

    status: str
    proposed_dates: tuple[date, ...]


class VisitItem(NamedTuple):
    """One visit as the participant's pages show it: plain values read in one statement (no ORM
    objects); views that change a visit load it by ``id`` after this ownership-checked read.
    A named tuple, not a frozen dataclass: a page makes one per visit, and a frozen dataclass
    sets each of its 16 fields through object.__setattr__ (1.9 µs an item against 0.3 µs,
    ~1 % of the home page)."""

    id: int
    name: str
    day: date  # booked day, or the target day while unbooked
    at: datetime | None  # site-local booked time
    booked: bool
    window_start: date
    window_end: date
    status: str
    is_infusion: bool
    fasting: bool
    procedures: tuple[str, ...]
    preparation: tuple[str, ...]
    days_to_go: int
    can_confirm: bool
    can_reschedule: bool
    requests: tuple[RequestState, ...] = ()  # newest first

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_VISIT_STATUSES

    @property
    def pending_request(self) -> RequestState | None:
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
def _visits_with_requests(one_visit: bool) -> Select[Any]:
    """A participant's visits (or one of them) with what the pages show of their definition and
    their date-change requests, newest request first: one statement of plain rows, built once
    with bound parameters (construction costs more than running)."""
    theirs = (RescheduleRequest.visit_id == Visit.id) & (RescheduleRequest.participant_id == Visit.participant_id)
    query = (
        select(Visit.id, Visit.scheduled_at, Visit.actual_date, Visit.target_date, Visit.window_start,
               Visit.window_end, Visit.status, Visit.is_infusion, VisitDefinition.name_zh, VisitDefinition.name_en,
               json_text(VisitDefinition.procedures), VisitDefinition.fasting, VisitDefinition.preparation_zh,
               VisitDefinition.preparation_en, RescheduleRequest.status, RescheduleRequest.proposed_date_1,
               RescheduleRequest.proposed_date_2, RescheduleRequest.proposed_date_3)
        .join(VisitDefinition, VisitDefinition.id == Visit.definition_id)
        .outerjoin(RescheduleRequest, theirs)
        .where(Visit.participant_id == bindparam("participant_id"))
        .order_by(Visit.target_date, Visit.id, RescheduleRequest.created_at.desc(), RescheduleRequest.id.desc())
    )  # fmt: skip
    return query.where(Visit.id == bindparam("visit_id")) if one_visit else query


def _grouped(rows: Iterable[Sequence[Any]]) -> dict[int, tuple[Sequence[Any], list[RequestState]]]:
    """Rows by visit id (in the statement's order), each with its requests."""
    grouped: dict[int, tuple[Sequence[Any], list[RequestState]]] = {}
    for row in rows:
        _visit, requests = grouped.setdefault(row[0], (row, []))
        if row[14] is not None:
            requests.append(RequestState(row[14], tuple(d for d in row[15:18] if d is not None)))
    return grouped


def load_visits(session: Session, participant: ParticipantLike, locale: str, today: date,
                recording: PageView | None = None) -> list[VisitItem]:
    """The participant's visits; with ``recording``, the page view's audit row is written by the
    same read (audit.read_recording)."""
    rows = _read(session, _visits_with_requests(False), {"participant_id": participant.id}, recording).all()
    context = _Context.of(participant, locale, today)
    items = [describe(row, context, tuple(reqs)) for row, reqs in _grouped(rows).values()]
    return sorted(items, key=lambda i: (i.day, i.id))


def load_visit(
    session: Session, participant: ParticipantLike, visit_id: int, locale: str, today: date,
    recording: PageView | None = None,
) -> VisitItem | None:
    """One visit of this participant; None for anyone else's id (ownership in the query)."""
    params = {"participant_id": participant.id, "visit_id": visit_id}
    rows = _read(session, _visits_with_requests(True), params, recording).all()
    context = _Context.of(participant, locale, today)
    return next((describe(row, context, tuple(reqs)) for row, reqs in _grouped(rows).values()), None)


def _read(session: Session, statement: Select[Any], params: dict[str, Any], recording: PageView | None) -> Result[Any]:
    if recording is None:
        return read_rows(session, statement, params)
    return read_recording(session, statement, params, recording)


@dataclass(frozen=True)
class _Context:
    """What every visit of one page is described with."""

    timezone: str
    lang: str  # "zh" | "en"
    today: date
    texts: Mapping[str, str]  # the protocol file's preparation advice

    @classmethod
    def of(cls, participant: ParticipantLike, locale: str, today: date) -> _Context:
        texts = (participant.study.content or {}).get("preparation", {})
        return cls(participant.site.timezone, "zh" if locale.startswith("zh") else "en", today, texts)


def describe(row: Sequence[Any], context: _Context, requests: tuple[RequestState, ...] = ()) -> VisitItem:
    (visit_id, scheduled_at, actual_date, target_date, window_start, window_end, status, is_infusion,
     name_zh, name_en, codes_json, fasting, preparation_zh, preparation_en) = row[:14]  # fmt: skip
    codes = shared_json(codes_json) or ()
    zh = context.lang == "zh"
    at = to_local(scheduled_at, context.timezone) if scheduled_at else None
    day = actual_date or (at.date() if at else target_date)
    open_ = status in OPEN_VISIT_STATUSES
    procedures = (*(str(code) for code in codes), *(("infusion",) if is_infusion else ()))
    return VisitItem(
        id=visit_id,
        name=name_zh if zh else name_en,
        day=day,
        at=at,
        booked=at is not None,
        window_start=window_start,
        window_end=window_end,
        status=status,
        is_infusion=is_infusion,
        fasting=fasting,
        procedures=procedures,
        preparation=_preparation(context, fasting, "ultrasound" in codes, is_infusion,
                                 preparation_zh if zh else preparation_en),
        days_to_go=(day - context.today).days,
        can_confirm=status == "scheduled" and day >= context.today,
        can_reschedule=open_ and window_end >= context.today and window_start < window_end,
        requests=requests,
    )


def _preparation(context: _Context, fasting: bool, ultrasound: bool, infusion: bool, own: str) -> tuple[str, ...]:
    """How to prepare, from the protocol file (infusion advice only on infusion days)."""
    texts, lang = context.texts, context.lang
    lines = [texts.get(f"fasting_{lang}", "")] if fasting else []
    if ultrasound:
        lines.append(texts.get(f"ultrasound_{lang}", ""))
    if infusion:
        lines.append(texts.get(f"infusion_{lang}", ""))
    lines += [own, texts.get(f"bring_{lang}", "")]
    return tuple(line for line in lines if line.strip())


def summarize(items: list[VisitItem], today: date) -> HomeSummary:
    counted = [i for i in items if i.status != "cancelled"]
    upcoming = [i for i in counted if i.is_open and i.day >= today]
    past = [i for i in counted if not (i.is_open and i.day >= today)]
    next_visit = upcoming[0] if upcoming else None
    position = counted.index(next_visit) + 1 if next_visit else len(counted)
    done = sum(1 for i in counted if i.status == "completed")
    return HomeSummary(next_visit, upcoming[1:], list(reversed(past)), position, len(counted), done)
