"""The participant roster: search, sort and page in two set-based queries (count + page).

Each row carries the next open visit with its window state and the last outgoing message's
status, joined from grouped subqueries, so a page of 50 costs the same as a page of 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

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


def _next_visits() -> Any:
    """Per participant, the earliest open visit (by target date)."""
    first = (
        select(Visit.participant_id, func.min(Visit.target_date).label("target"))
        .where(Visit.status.in_(OPEN_VISIT_STATUSES))
        .group_by(Visit.participant_id)
        .subquery()
    )
    return (
        select(
            Visit.participant_id, func.min(Visit.id).label("visit_id"), first.c.target.label("target"),
        )
        .join(first, and_(first.c.participant_id == Visit.participant_id, first.c.target == Visit.target_date))
        .where(Visit.status.in_(OPEN_VISIT_STATUSES))
        .group_by(Visit.participant_id, first.c.target)
        .subquery()
    )  # fmt: skip


def _last_messages() -> Any:
    last = (
        select(OutboxMessage.participant_id, func.max(OutboxMessage.id).label("message_id"))
        .where(OutboxMessage.direction == "out")
        .group_by(OutboxMessage.participant_id)
        .subquery()
    )
    return select(last.c.participant_id, OutboxMessage.status).join(
        OutboxMessage, OutboxMessage.id == last.c.message_id
    ).subquery()


def _apply_filter(query: Select[Any], f: RosterFilter, nxt: Any) -> Select[Any]:
    text = f.q.strip()
    if text:
        if re.fullmatch(r"\d{4}", text):
            query = query.where(or_(Participant.phone_e164.endswith(text), Participant.study_code.contains(text)))
        else:
            like = f"%{text.lower()}%"
            query = query.where(or_(func.lower(Participant.study_code).like(like),
                                    func.lower(Participant.full_name).like(like)))  # fmt: skip
    if f.status:
        query = query.where(Participant.status == f.status)
    if f.arm:
        query = query.where(Arm.code == f.arm)
    if f.site:
        query = query.where(Site.code == f.site)
    if f.next_from:
        query = query.where(nxt.c.target >= f.next_from)
    if f.next_to:
        query = query.where(nxt.c.target <= f.next_to)
    return query


def _base(site_ids: Iterable[int], f: RosterFilter) -> tuple[Select[Any], Any, Any]:
    nxt, last = _next_visits(), _last_messages()
    query = (
        select(Participant.id)
        .join(Site, Site.id == Participant.site_id)
        .join(Arm, Arm.id == Participant.arm_id)
        .outerjoin(nxt, nxt.c.participant_id == Participant.id)
        .where(Participant.site_id.in_(list(site_ids)))
    )
    return _apply_filter(query, f, nxt), nxt, last


def search(session: Session, site_ids: Iterable[int], f: RosterFilter, today: date,
           page_size: int = PAGE_SIZE) -> RosterPage:  # fmt: skip
    site_ids = list(site_ids)
    ids_query, nxt, last = _base(site_ids, f)
    total = session.scalar(select(func.count()).select_from(ids_query.subquery())) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(f.page, 1), pages)
    query = (
        ids_query.with_only_columns(
            Participant.id, Participant.study_code, Participant.full_name, Participant.phone_e164, Site.code,
            Arm.code, Participant.status, Participant.sms_opt_out, nxt.c.visit_id, nxt.c.target,
            VisitDefinition.code, Visit.window_start, Visit.window_end, last.c.status,
        )
        .outerjoin(Visit, Visit.id == nxt.c.visit_id)
        .outerjoin(VisitDefinition, VisitDefinition.id == Visit.definition_id)
        .outerjoin(last, last.c.participant_id == Participant.id)
        .order_by(*_order(f.sort, nxt))
        .limit(page_size)
        .offset((page - 1) * page_size)
    )  # fmt: skip
    rows = [_row(r, today) for r in session.execute(query)]
    return RosterPage(rows, total, page, pages)


def _order(sort: str, nxt: Any) -> list[Any]:
    if sort == "name":
        return [Participant.full_name, Participant.id]
    if sort == "next_visit":
        return [nxt.c.target.is_(None), nxt.c.target, Participant.study_code]
    if sort == "status":
        return [Participant.status, Participant.study_code]
    return [Participant.study_code]


def _row(r: Any, today: date) -> RosterRow:
    (pid, code, name, phone, site, arm, status, opt_out, visit_id, target, vcode, wstart, wend, last) = r
    return RosterRow(
        participant_id=pid, study_code=code, full_name=name, phone_last4=phone[-4:], site_code=site,
        arm_code=arm, status=status, sms_opt_out=opt_out, next_visit_id=visit_id, next_visit_code=vcode,
        next_visit_date=target, next_window_state=window_state(wstart, wend, today) if wstart else None,
        last_message_status=last,
    )  # fmt: skip


def all_rows(session: Session, site_ids: Iterable[int], f: RosterFilter, today: date) -> list[RosterRow]:
    """Every matching row (CSV export), one query."""
    return search(session, site_ids, RosterFilter(**{**f.__dict__, "page": 1}), today, page_size=1_000_000).rows
