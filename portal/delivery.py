"""Delivery status of outbox rows: it only ever moves forward (DESIGN.md invariant 6).

queued → sent → delivered | undelivered | failed. Every write here is a conditional UPDATE
("only if the row is still behind"), so a late callback, a repeated callback, or the dispatcher
recording a create reply after the first callback already arrived can never downgrade a row.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import Update, bindparam, case, func, literal, or_, update
from sqlalchemy.orm import Session

from .db import execute_core
from .models import OutboxMessage, ReminderPlanEntry

RANK = {
    "pending": 0,
    "sending": 1,
    "unknown": 1,
    "queued": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "cancelled": 4,
    "received": 4,
}
ACCEPTED = ("queued", "sent", "delivered", "undelivered")
# Twilio's message statuses mapped onto ours; anything unlisted is ignored.
TWILIO_STATUS = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}
_NO_SYNC = {"synchronize_session": False}


def behind(status: str) -> list[str]:
    """The statuses a row may be in for ``status`` to be a step forward."""
    rank = RANK[status]
    return [s for s, r in RANK.items() if r < rank]


def advance(
    session: Session,
    message_id: int,
    status: str,
    now: datetime,
    *,
    provider_id: str | None = None,
    segments: int | None = None,
    error_code: str | None = None,
    error_message: str = "",
) -> bool:
    """Move one row forward to ``status``; returns whether its status changed."""
    if provider_id:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.provider_id.is_(None))
            .values(provider_id=provider_id),
            execution_options=_NO_SYNC,
        )
    if segments is not None:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id).values(segments=segments),
            execution_options=_NO_SYNC,
        )
    values: dict[str, object] = {"status": status, "status_updated_at": now, "claimed_by": None,
                                 "lease_expires_at": None}  # fmt: skip
    if status in ACCEPTED:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None))
            .values(sent_at=now),
            execution_options=_NO_SYNC,
        )
    if status == "delivered":
        values["delivered_at"] = now
    if status in ("failed", "undelivered") and (error_code or error_message):
        values["error_code"] = error_code
        values["error_message"] = error_message[:500]
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status.in_(behind(status)))
        .values(**values),
        execution_options=_NO_SYNC,
    )
    changed = bool(result.rowcount)  # type: ignore[attr-defined]
    if changed:
        _update_plan_entry(session, message_id, status, error_code)
    return changed


def accept_many(session: Session, accepted: list[tuple[int, str, str, int]], now: datetime) -> None:
    """``advance`` for many rows the provider accepted, as (row id, status, provider id, segments)
    with status in ACCEPTED: the same forward-only rules, one statement per status run for all its
    rows at once (the dispatcher records sends in groups). Provider id, segments and sent_at are
    written as ``advance`` writes them, whatever the status; the status only moves forward."""
    if not accepted:
        return
    for status in sorted({status for _, status, _, _ in accepted}):
        rows = [{"m_id": i, "m_provider_id": p, "m_segments": n, "m_now": now}
                for i, s, p, n in accepted if s == status]  # fmt: skip
        execute_core(session, _accept_statement(status), rows)
    # Entries still planned become sent; a dropped one (its message was cancelled) stays dropped.
    ids = [i for i, _, _, _ in accepted]
    execute_core(session, update(ReminderPlanEntry)
                 .where(ReminderPlanEntry.message_id.in_(ids), ReminderPlanEntry.status.in_(("planned", "sent")))
                 .values(status="sent", reason=""), {})  # fmt: skip


@lru_cache(maxsize=len(ACCEPTED))
def _accept_statement(status: str) -> Update:
    """One accepted row's UPDATE for ``status``, built once and run for a whole group (executemany):
    the same SQL every time, so it is compiled once and stays prepared, however many rows a group
    has. (SET expressions all see the row as it was before the update.)"""
    outbox = OutboxMessage.__table__
    moves = outbox.c.status.in_([literal(s) for s in behind(status)])
    # Typed as their columns, so values are stored exactly as the ORM stores them (UTC, naive).
    now = bindparam("m_now", type_=outbox.c.sent_at.type)
    values = {
        "provider_id": func.coalesce(outbox.c.provider_id, bindparam("m_provider_id", type_=outbox.c.provider_id.type)),
        "segments": bindparam("m_segments", type_=outbox.c.segments.type),
        "sent_at": func.coalesce(outbox.c.sent_at, now),
        "status": case((moves, literal(status)), else_=outbox.c.status),
        "status_updated_at": case((moves, now), else_=outbox.c.status_updated_at),
        # A row already at or past ``accepted`` had these cleared by whoever moved it there.
        "claimed_by": None,
        "lease_expires_at": None,
    }
    if status == "delivered":
        values["delivered_at"] = case((moves, now), else_=outbox.c.delivered_at)
    return update(outbox).where(outbox.c.id == bindparam("m_id", type_=outbox.c.id.type)).values(values)


def _update_plan_entry(session: Session, message_id: int, status: str, error_code: str | None) -> None:
    if status in ACCEPTED:
        values: dict[str, object] = {"status": "sent", "reason": ""}
    elif status in ("failed", "cancelled"):
        values = {"status": "dropped", "reason": f"{status}: {error_code or ''}".strip(": ")[:200]}
    else:
        return
    session.execute(
        update(ReminderPlanEntry)
        .where(
            ReminderPlanEntry.message_id == message_id,
            or_(ReminderPlanEntry.status == "planned", ReminderPlanEntry.status == "sent"),
        )
        .values(**values),
        execution_options=_NO_SYNC,
    )
