"""Operational figures read from the database at scrape time (no Flask imports).

Why from the database: gunicorn runs several processes and the worker runs apart from them, so
per-process counters would each see a slice. The outbox, the audit trail and the heartbeats are
shared truth; one query per figure at scrape time gives the same answer whichever process is
asked. Only request latency is per process (prometheus-client's multiprocess mode adds it up).

No figure carries personal data: labels are statuses, kinds, error codes and audiences.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import AuditEvent, OutboxMessage, WorkerHeartbeat

UNSENT_STATUSES = ("pending", "sending", "unknown")
HEARTBEAT_FRESH = timedelta(minutes=2)
SIGN_IN_FAILURE_ACTIONS = {"sign_in.failed": "participant", "staff.sign_in_failed": "staff"}
WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Sample:
    name: str
    help: str
    labels: dict[str, str]
    value: float


def outbox_by_status(session: Session) -> Iterator[Sample]:
    rows = session.execute(
        select(OutboxMessage.direction, OutboxMessage.status, func.count())
        .group_by(OutboxMessage.direction, OutboxMessage.status)
    )
    for direction, status, count in rows:
        yield Sample("portal_outbox_messages", "Outbox rows by direction and status.",
                     {"direction": direction, "status": status}, float(count))  # fmt: skip


def oldest_due_unsent(session: Session, now: datetime) -> Iterator[Sample]:
    oldest = session.scalar(
        select(func.min(OutboxMessage.due_at)).where(
            OutboxMessage.direction == "out",
            OutboxMessage.status.in_(UNSENT_STATUSES),
            OutboxMessage.due_at <= now,
        )
    )
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    yield Sample("portal_outbox_oldest_due_unsent_seconds",
                 "Age of the oldest outgoing message due but not yet handed to the provider.", {}, age)  # fmt: skip


def sends_by_result(session: Session, now: datetime) -> Iterator[Sample]:
    """Outgoing messages whose status changed in the last 24 hours, by status and error code."""
    rows = session.execute(
        select(OutboxMessage.status, OutboxMessage.error_code, func.count())
        .where(OutboxMessage.direction == "out", OutboxMessage.status_updated_at >= now - WINDOW,
               OutboxMessage.status.not_in(("pending",)))
        .group_by(OutboxMessage.status, OutboxMessage.error_code)
    )  # fmt: skip
    for status, error_code, count in rows:
        yield Sample("portal_sms_sends_24h", "Outgoing SMS by result and provider error code, last 24 hours.",
                     {"result": status, "error_code": error_code or ""}, float(count))  # fmt: skip


def callback_lag(session: Session, now: datetime) -> Iterator[Sample]:
    """Delivery callbacks: how long after the send they arrived, and how many are overdue."""
    delivered = session.execute(
        select(OutboxMessage.sent_at, OutboxMessage.delivered_at).where(
            OutboxMessage.direction == "out",
            OutboxMessage.delivered_at >= now - timedelta(hours=1),
            OutboxMessage.sent_at.is_not(None),
        ).limit(5000)
    ).all()
    lags = sorted(max(0.0, (d - s).total_seconds()) for s, d in delivered)
    yield Sample("portal_sms_callback_lag_seconds", "Send-to-delivery-callback lag over the last hour.",
                 {"quantile": "max"}, lags[-1] if lags else 0.0)  # fmt: skip
    yield Sample("portal_sms_callback_lag_seconds", "Send-to-delivery-callback lag over the last hour.",
                 {"quantile": "0.5"}, lags[len(lags) // 2] if lags else 0.0)  # fmt: skip
    overdue = session.scalar(
        select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.direction == "out",
            OutboxMessage.status.in_(("queued", "sent")),
            OutboxMessage.sent_at < now - timedelta(minutes=10),
            OutboxMessage.sent_at >= now - WINDOW,
        )
    )
    yield Sample("portal_sms_awaiting_callback", "Messages sent 10 min–24 h ago with no final status yet.",
                 {}, float(overdue or 0))  # fmt: skip


def sign_in_failures(session: Session, now: datetime) -> Iterator[Sample]:
    rows = dict(
        session.execute(
            select(AuditEvent.action, func.count())
            .where(AuditEvent.occurred_at >= now - timedelta(hours=1),
                   AuditEvent.action.in_(tuple(SIGN_IN_FAILURE_ACTIONS)))
            .group_by(AuditEvent.action)
        ).all()
    )  # fmt: skip
    for action, audience in SIGN_IN_FAILURE_ACTIONS.items():
        yield Sample("portal_sign_in_failures_1h", "Failed sign-ins in the last hour, by audience.",
                     {"audience": audience}, float(rows.get(action, 0)))  # fmt: skip


def heartbeat(session: Session, now: datetime) -> Iterator[Sample]:
    latest = session.scalar(select(func.max(WorkerHeartbeat.last_beat_at)))
    live = session.scalar(
        select(func.count()).select_from(WorkerHeartbeat).where(WorkerHeartbeat.last_beat_at >= now - HEARTBEAT_FRESH)
    )
    age = (now - latest).total_seconds() if latest is not None else -1.0
    yield Sample("portal_worker_heartbeat_age_seconds", "Seconds since the newest worker heartbeat (-1: never).",
                 {}, age)  # fmt: skip
    yield Sample("portal_workers_live", "Workers with a heartbeat in the last 2 minutes.", {}, float(live or 0))


def collect(session: Session, now: datetime | None = None) -> list[Sample]:
    now = now or datetime.now(UTC)
    samples: list[Sample] = []
    for source in (oldest_due_unsent, sends_by_result, callback_lag, sign_in_failures, heartbeat):
        samples.extend(source(session, now))
    samples.extend(outbox_by_status(session))
    return samples


def latest_heartbeat_age(session: Session, now: datetime | None = None) -> float | None:
    """Seconds since the newest worker heartbeat, or None when no worker ever beat."""
    latest = session.scalar(select(func.max(WorkerHeartbeat.last_beat_at)))
    if latest is None:
        return None
    return ((now or datetime.now(UTC)) - latest).total_seconds()
