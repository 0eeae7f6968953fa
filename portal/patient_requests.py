"""A participant asks for another date: up to three dates inside the visit window, and a note.

The study team answers in the staff console; the participant sees the request's state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .audit import Actor
from .models import ParticipantLike, RescheduleRequest, Visit
from .models.visits import OPEN_VISIT_STATUSES

MAX_DATES = 3
MAX_NOTE = 500
# Year first, as the page asks: 2026-12-08 (what a date picker sends), 2026/12/8, 2026.12.8 or
# 2026年12月8日, typed where the browser shows a plain text box. Day-first and month-first are
# ambiguous, so they are refused rather than guessed.
TYPED_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


class RequestError(ValueError):
    """``code``: no_date, invalid_date, outside_window, in_past, duplicate_date, closed, pending."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


def parse_dates(raw: Sequence[str | None]) -> list[date]:
    """Year-first dates from the form (a date picker sends YYYY-MM-DD); blanks skipped."""
    dates: list[date] = []
    for text in raw[:MAX_DATES]:
        text = (text or "").strip()
        if not text:
            continue
        dates.append(_parse_date(text))
    if not dates:
        raise RequestError("no_date")
    if len(set(dates)) != len(dates):
        raise RequestError("duplicate_date")
    return dates


def _parse_date(text: str) -> date:
    match = TYPED_DATE.fullmatch(text)
    if not match:
        raise RequestError("invalid_date")
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError as exc:
        raise RequestError("invalid_date") from exc


def request_new_date(
    session: Session,
    participant: ParticipantLike,
    visit: Visit,
    dates: Sequence[date],
    note: str,
    actor: Actor,
    today: date,
    now: datetime,
) -> RescheduleRequest:
    if visit.participant_id != participant.id or visit.status not in OPEN_VISIT_STATUSES:
        raise RequestError("closed")
    for day in dates:
        if day < today:
            raise RequestError("in_past")
        if not visit.window_start <= day <= visit.window_end:
            raise RequestError("outside_window")
    pending = session.scalar(
        select(RescheduleRequest.id).where(
            RescheduleRequest.visit_id == visit.id, RescheduleRequest.status == "pending"
        )
    )
    if pending is not None:
        raise RequestError("pending")
    padded = [*dates, None, None][:MAX_DATES]
    request = RescheduleRequest(
        participant_id=participant.id, site_id=participant.site_id, visit_id=visit.id, proposed_date_1=padded[0],
        proposed_date_2=padded[1], proposed_date_3=padded[2], note=note.strip()[:MAX_NOTE],
        status="pending", created_at=now,
    )  # fmt: skip
    session.add(request)
    session.flush()
    audit.record(
        session, actor, "reschedule.request", object_type="reschedule_request", object_id=request.id,
        participant_id=participant.id, site_id=participant.site_id,
        after={"visit_id": visit.id, "dates": [d.isoformat() for d in dates], "has_note": bool(note.strip())},
    )  # fmt: skip
    return request
