"""Rows whose send outcome is unknown are reconciled with the provider before any retry.

A row is ``unknown`` after a timeout or 5xx on create, or when its worker died mid-send (its
lease expired). The reconciler claims it exactly like dispatch does, asks the provider's message
list (recipient + date sent, matched on body, ignoring provider ids other rows already own), and
then either records the message it found or sends it — still under its own claim, so nobody
else can send it meanwhile.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from . import delivery
from .config import Settings
from .db import is_postgres
from .dispatch import Clock, DispatchPolicy, deliver, prepare, utcnow, worker_name
from .models import OutboxMessage
from .sms import OutgoingSms, RetryableSmsError, SmsBackend, get_backend, status_callback_url

log = logging.getLogger("portal.reconcile")
_NO_SYNC = {"synchronize_session": False}


def _candidates(session: Session, cutoff: datetime, limit: int) -> list[int]:
    query = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "unknown", OutboxMessage.status_updated_at <= cutoff)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _claim(session: Session, message_id: int, worker: str, now: datetime, policy: DispatchPolicy) -> bool:
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "unknown")
        .values(status="sending", claimed_by=worker, lease_expires_at=now + timedelta(seconds=policy.lease_seconds),
                attempts=OutboxMessage.attempts + 1),
        execution_options=_NO_SYNC,
    )  # fmt: skip
    return result.rowcount == 1  # type: ignore[attr-defined]


def _lookup(session: Session, message_id: int, settings: Settings) -> tuple[OutgoingSms, set[str], datetime]:
    message = session.get_one(OutboxMessage, message_id)
    others = session.scalars(
        select(OutboxMessage.provider_id).where(
            OutboxMessage.to_number == message.to_number,
            OutboxMessage.id != message.id,
            OutboxMessage.provider_id.is_not(None),
        )
    )
    sms = OutgoingSms(message.id, message.to_number, message.body, message.kind,
                      status_callback_url(settings, message.id))  # fmt: skip
    since = min(message.status_updated_at or message.due_at, message.due_at)
    return sms, {p for p in others if p}, since - timedelta(hours=1)


def reconcile_unknown(
    session_factory: sessionmaker[Session],
    settings: Settings,
    *,
    policy: DispatchPolicy | None = None,
    worker: str | None = None,
    backend: SmsBackend | None = None,
    clock: Clock = utcnow,
    limit: int = 50,
) -> Counter[str]:
    policy = policy or DispatchPolicy()
    worker = worker or worker_name()
    backend = backend or get_backend(settings)
    outcomes: Counter[str] = Counter()
    with session_factory() as session, session.begin():
        ids = _candidates(session, clock() - timedelta(seconds=policy.reconcile_after), limit)
    for message_id in ids:
        outcomes[_reconcile_one(session_factory, message_id, settings, policy, worker, backend, clock)] += 1
    return outcomes


def _reconcile_one(
    session_factory: sessionmaker[Session],
    message_id: int,
    settings: Settings,
    policy: DispatchPolicy,
    worker: str,
    backend: SmsBackend,
    clock: Clock,
) -> str:
    with session_factory() as session, session.begin():
        if not _claim(session, message_id, worker, clock(), policy):
            return "skipped"
        sms, exclude, since = _lookup(session, message_id, settings)
    try:
        found = backend.find_sent(sms, since, exclude)
    except RetryableSmsError as exc:
        with session_factory() as session, session.begin():
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, OutboxMessage.status == "sending",
                       OutboxMessage.claimed_by == worker)
                .values(status="unknown", status_updated_at=clock(), attempts=OutboxMessage.attempts - 1),
                execution_options=_NO_SYNC,
            )  # fmt: skip
        log.warning("reconcile id=%s provider unavailable: %s", message_id, exc)
        return "provider_unavailable"
    if found is not None:
        with session_factory() as session, session.begin():
            delivery.advance(session, message_id, found.status, clock(), provider_id=found.provider_id,
                             segments=found.segments, error_code=found.error_code)  # fmt: skip
        log.info("reconcile id=%s found at provider", message_id)
        return "found"
    # The provider never got it: send it now, still under our claim (the usual checks apply).
    prepared = prepare(session_factory, message_id, worker, settings, clock())
    if prepared is None:
        return "held"
    log.info("reconcile id=%s not at provider: sending", message_id)
    return "resent_" + deliver(session_factory, prepared, backend, policy, clock)
