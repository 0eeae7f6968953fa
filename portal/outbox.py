"""Queueing SMS into the outbox. Every SMS, whatever its kind, goes through here.

Dispatch (claiming due rows, sending, reconciling) lives in ``portal.dispatch``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from .models import OutboxMessage


def queue_sms(
    session: Session,
    *,
    to_number: str,
    body: str,
    kind: str,
    locale: str,
    participant_id: int | None = None,
    due_at: datetime | None = None,
    expires_at: datetime | None = None,
    created_by_id: int | None = None,
    meta: dict[str, object] | None = None,
) -> OutboxMessage:
    message = OutboxMessage(
        direction="out",
        participant_id=participant_id,
        to_number=to_number,
        kind=kind,
        body=body,
        locale=locale,
        due_at=due_at or datetime.now(UTC),
        expires_at=expires_at,
        status="pending",
        created_by_id=created_by_id,
        meta=meta or {},
    )
    session.add(message)
    session.flush()
    return message
