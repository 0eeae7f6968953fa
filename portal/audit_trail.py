"""Reading the audit trail for admins: filter, page, export as CSV (the export is itself audited)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from .models import AuditEvent, Participant

PAGE_SIZE = 100
CSV_COLUMNS = ("id", "occurred_at_utc", "actor_type", "actor_id", "actor_role", "site_id", "participant_id",
               "action", "object_type", "object_id", "before", "after", "reason", "request_id", "ip_address")


@dataclass(frozen=True)
class AuditFilter:
    action: str = ""  # prefix, e.g. "visit." or "staff.sign_in"
    actor_id: int | None = None
    study_code: str = ""
    site_id: int | None = None
    day_from: date | None = None
    day_to: date | None = None
    page: int = 1


def _query(session: Session, f: AuditFilter) -> Select[Any]:
    query = select(AuditEvent)
    if f.action:
        query = query.where(AuditEvent.action.startswith(f.action.strip()))
    if f.actor_id is not None:
        query = query.where(AuditEvent.actor_type == "staff", AuditEvent.actor_id == f.actor_id)
    if f.study_code:
        ids = select(Participant.id).where(Participant.study_code == f.study_code.strip())
        query = query.where(AuditEvent.participant_id.in_(ids))
    if f.site_id is not None:
        query = query.where(AuditEvent.site_id == f.site_id)
    if f.day_from:
        query = query.where(AuditEvent.occurred_at >= datetime.combine(f.day_from, time(), UTC))
    if f.day_to:
        query = query.where(AuditEvent.occurred_at < datetime.combine(f.day_to + timedelta(days=1), time(), UTC))
    return query


def search(session: Session, f: AuditFilter) -> tuple[list[AuditEvent], int, int]:
    query = _query(session, f)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(f.page, 1), pages)
    rows = session.scalars(query.order_by(AuditEvent.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))
    return list(rows), page, pages


def iter_events(session: Session, f: AuditFilter) -> Iterable[AuditEvent]:
    return session.scalars(_query(session, f).order_by(AuditEvent.id).execution_options(yield_per=1000))


def to_csv(events: Iterable[AuditEvent]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in events:
        writer.writerow([
            e.id, e.occurred_at.astimezone(UTC).isoformat(), e.actor_type, e.actor_id or "", e.actor_role,
            e.site_id or "", e.participant_id or "", e.action, e.object_type, e.object_id,
            _json(e.before), _json(e.after), e.reason, e.request_id, e.ip_address,
        ])  # fmt: skip
    return out.getvalue()


def _json(value: dict | None) -> str:
    import json

    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
