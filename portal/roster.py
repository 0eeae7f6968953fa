"""The participant roster: search, sort and page in one set-based query (the page and its total).

Each row carries the next open visit with its window state and the last outgoing message's
status, found by correlated index probes for the page's own rows (never an aggregate over every
visit or message of the study), so a page of 50 costs the same at 100 or 10,000 participants.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Date, Integer, Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from .db import read_rows
from .models import Arm, OutboxMessage, Participant, Site, Visit, VisitDefinition
from .models.visits import OPEN_VISIT_STATUSES
from .schedule import window_state

SORTS = ("study_code", "name", "next_visit", "status")
PAGE_SIZE = 50


@dataclass(frozen=True)
class RosterFilter:
    q: str = ""
    status: str = ""
    arm: str = ""
    site: str = ""
    next_from: date | None = None
    next_to: date | None = None
    sort: str = "study_code"
    page: int = 1


@dataclass(frozen=True)
class RosterRow:
    participant_id: int
    study_code: str
    full_name: str
    phone_last4: str
    site_code: str
    arm_code: str
    status: str
    sms_opt_out: bool
    next_visit_id: int | None
    next_visit_code: str | None
    next_visit_date: date | None
    next_window_state: str | None
    last_message_status: str | None


@dataclass(frozen=True)
class RosterPage:
    rows: list[RosterRow]
    total: int
    page: int
    pages: int


def _written(value: Any) -> Any:
    """A constant written into the statement rather than bound: PostgreSQL plans the roster once
    for all requests (a generic plan) only when it knows these values, else it plans afresh on
    every request (about 1 ms) because a plan for unknown values looks dearer."""
    return bindparam(None, value, type_=Integer if isinstance(value, int) else None,
                     expanding=isinstance(value, tuple), literal_execute=True)  # fmt: skip


def _next_visit_id() -> Any:
    """Per participant row, the earliest open visit (by target date, then id): one index probe on
    (participant_id, target_date) per row, so a page only looks at its own participants' visits."""
    return (
        select(Visit.id)
        .where(Visit.participant_id == Participant.id, Visit.status.in_(_written(OPEN_VISIT_STATUSES)))
        .order_by(Visit.target_date, Visit.id)
        .limit(_written(1))
        .correlate(Participant)
        .scalar_subquery()
    )


def _next_target() -> Any:
    """Per participant row, the target day of the earliest open visit (for sorting and filtering)."""
    return (
        select(func.min(Visit.target_date))
        .where(Visit.participant_id == Participant.id, Visit.status.in_(_written(OPEN_VISIT_STATUSES)))
        .correlate(Participant)
        .scalar_subquery()
    )


def _last_message_status() -> Any:
    """Per participant row, the status of the newest outgoing message: read backwards along
    ix_outbox_messages_participant_created, so the probe stops at the first (newest) row."""
    return (
        select(OutboxMessage.status)
        .where(OutboxMessage.participant_id == Participant.id, OutboxMessage.direction == _written("out"))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(_written(1))
        .correlate(Participant)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class _Shape:
    """Which filters a search uses: statements are built once per shape, values are bound."""

    text: str  # "" | "digits" (last four phone digits) | "words"
    status: bool
    arm: bool
    site: bool
    next_from: bool
    next_to: bool
    sort: str


def _shape_and_values(site_ids: list[int], f: RosterFilter) -> tuple[_Shape, dict[str, object]]:
    text = f.q.strip()
    kind = ("digits" if re.fullmatch(r"\d{4}", text) else "words") if text else ""
    values: dict[str, object] = {
        "site_ids": site_ids, "q": text if kind == "digits" else f"%{text.lower()}%", "status": f.status,
        "arm": f.arm, "site": f.site, "next_from": f.next_from, "next_to": f.next_to,
    }  # fmt: skip
    shape = _Shape(kind, bool(f.status), bool(f.arm), bool(f.site), bool(f.next_from), bool(f.next_to), f.sort)
    return shape, values


def _apply_filter(query: Select[Any], shape: _Shape) -> Select[Any]:
    if shape.text == "digits":
        q = bindparam("q")
        query = query.where(or_(Participant.phone_e164.endswith(q), Participant.study_code.contains(q)))
    elif shape.text == "words":
        query = query.where(or_(func.lower(Participant.study_code).like(bindparam("q")),
                                func.lower(Participant.full_name).like(bindparam("q"))))  # fmt: skip
    if shape.status:
        query = query.where(Participant.status == bindparam("status"))
    if shape.arm:
        query = query.where(Arm.code == bindparam("arm"))
    if shape.site:
        query = query.where(Site.code == bindparam("site"))
    if shape.next_from:
        query = query.where(_next_target() >= bindparam("next_from", type_=Date))
    if shape.next_to:
        query = query.where(_next_target() <= bindparam("next_to", type_=Date))
    return query


def _base(shape: _Shape) -> Select[Any]:
    """The matching participants' ids; sites and arms are joined only to filter on their codes,
    so the plain count is read from the (site_id, study_code) index alone."""
    query = select(Participant.id).where(Participant.site_id.in_(bindparam("site_ids", expanding=True)))
    if shape.site:
        query = query.join(Site, Site.id == Participant.site_id)
    if shape.arm:
        query = query.join(Arm, Arm.id == Participant.arm_id)
    return _apply_filter(query, shape)


def search(session: Session, site_ids: Iterable[int], f: RosterFilter, today: date,
           page_size: int = PAGE_SIZE) -> RosterPage:  # fmt: skip
    """One page of matches and their total in one statement: the page's ids are picked first
    (ordered, limited, counted over the whole match) and only those rows are joined to their
    next visit and last message. A page past the end (a stale link) shows the last page."""
    shape, values = _shape_and_values(sorted(site_ids), f)
    asked = max(f.page, 1)
    # Plain rows through the session's connection (db.read_rows): no ORM result handling for 50 rows.
    found = read_rows(session, _page_query(shape), {**values, **_window(asked, page_size)}).all()
    total = found[0][-1] if found else session.scalar(_count_query(shape), values) or 0
    pages = max(1, -(-total // page_size))
    page = min(asked, pages)
    if page != asked:
        found = read_rows(session, _page_query(shape), {**values, **_window(page, page_size)}).all()
    return RosterPage([_row(r, today) for r in found], total, page, pages)


def _window(page: int, size: int) -> dict[str, int]:
    return {"size": size, "offset": (page - 1) * size}


@lru_cache(maxsize=64)
def _count_query(shape: _Shape) -> Select[Any]:
    return select(func.count()).select_from(_base(shape).subquery())


@lru_cache(maxsize=64)
def _page_query(shape: _Shape) -> Select[Any]:
    """Built once per filter shape: building this statement costs more than running it."""
    chosen = (
        _base(shape).add_columns(func.count().over().label("total"))
        .order_by(*_order(shape.sort, _next_target()))
        # written into the statement, not bound: PostgreSQL then plans it once (a generic plan)
        # knowing that it reads 50 rows, where a bound limit made it plan afresh on every request
        .limit(bindparam("size", type_=Integer, literal_execute=True))
        .offset(bindparam("offset", type_=Integer, literal_execute=True))
    ).subquery()  # fmt: skip
    return (
        select(
            Participant.id, Participant.study_code, Participant.full_name, Participant.phone_e164, Site.code,
            Arm.code, Participant.status, Participant.sms_opt_out, Visit.id, Visit.target_date,
            VisitDefinition.code, Visit.window_start, Visit.window_end, _last_message_status(), chosen.c.total,
        )
        .join(chosen, chosen.c.id == Participant.id)
        .join(Site, Site.id == Participant.site_id)
        .join(Arm, Arm.id == Participant.arm_id)
        .outerjoin(Visit, Visit.id == _next_visit_id())
        .outerjoin(VisitDefinition, VisitDefinition.id == Visit.definition_id)
        .order_by(*_order(shape.sort, Visit.target_date))
    )  # fmt: skip


def _order(sort: str, next_target: Any) -> list[Any]:
    if sort == "name":
        return [Participant.full_name, Participant.id]
    if sort == "next_visit":
        return [next_target.is_(None), next_target, Participant.study_code]
    if sort == "status":
        return [Participant.status, Participant.study_code]
    return [Participant.study_code]


def _row(r: Any, today: date) -> RosterRow:
    (pid, code, name, phone, site, arm, status, opt_out, visit_id, target, vcode, wstart, wend, last, _total) = r
    return RosterRow(
        participant_id=pid, study_code=code, full_name=name, phone_last4=phone[-4:], site_code=site,
        arm_code=arm, status=status, sms_opt_out=opt_out, next_visit_id=visit_id, next_visit_code=vcode,
        next_visit_date=target, next_window_state=window_state(wstart, wend, today) if wstart else None,
        last_message_status=last,
    )  # fmt: skip


def all_rows(session: Session, site_ids: Iterable[int], f: RosterFilter, today: date) -> list[RosterRow]:
    """Every matching row (CSV export), one query."""
    return search(session, site_ids, RosterFilter(**{**f.__dict__, "page": 1}), today, page_size=1_000_000).rows
