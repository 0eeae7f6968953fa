"""``flask --app wsgi worker-status``: each worker's last heartbeat and the outbox by status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import OutboxMessage, Participant, WorkerHeartbeat
from .phones import mask_phone

STALE_AFTER = timedelta(minutes=2)  # heartbeat runs every 30 s


def worker_report(session: Session, now: datetime) -> list[str]:
    lines = ["workers:"]
    beats = session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.last_beat_at.desc())).all()
    if not beats:
        lines.append("  none has ever run (start one with: python -m scheduler)")
    for beat in beats:
        age = now - beat.last_beat_at
        state = "alive" if age <= STALE_AFTER else "STALE"
        lines.append(f"  {beat.worker_id:<40} pid {beat.pid:<7} last beat {beat.last_beat_at:%Y-%m-%d %H:%M:%S} UTC "
                     f"({int(age.total_seconds())} s ago, {state})")  # fmt: skip
    lines.append("outbox:")
    counts = session.execute(
        select(OutboxMessage.direction, OutboxMessage.status, func.count())
        .group_by(OutboxMessage.direction, OutboxMessage.status)
        .order_by(OutboxMessage.direction.desc(), OutboxMessage.status)
    ).all()
    if not counts:
        lines.append("  empty")
    for direction, status, count in counts:
        lines.append(f"  {direction:<4} {status:<12} {count}")
    due = session.scalar(
        select(func.count()).where(OutboxMessage.status == "pending", OutboxMessage.due_at <= now)
    )
    lines.append(f"  due now: {due}")
    return lines + _recent_failures(session)


def _recent_failures(session: Session, limit: int = 10) -> list[str]:
    """Permanent failures need a person: a wrong number, or a participant who blocked texts."""
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.to_number, OutboxMessage.error_code,
               OutboxMessage.status_updated_at, Participant.study_code)
        .outerjoin(Participant, Participant.id == OutboxMessage.participant_id)
        .where(OutboxMessage.direction == "out", OutboxMessage.status.in_(("failed", "undelivered")))
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    ).all()  # fmt: skip
    if not rows:
        return []
    lines = ["recent failures:"]
    for message_id, kind, to, code, when, study_code in rows:
        stamp = f"{when:%Y-%m-%d %H:%M} UTC" if when else ""
        lines.append(f"  #{message_id} {kind:<13} {study_code or '-':<8} {mask_phone(to)} code {code or '-'} {stamp}")
    return lines


@click.command("worker-status")
@with_appcontext
def worker_status_command() -> None:
    """Show each worker's last heartbeat and the outbox counts by status."""
    with current_app.extensions["session_factory"]() as session:
        for line in worker_report(session, datetime.now(UTC)):
            click.echo(line)
