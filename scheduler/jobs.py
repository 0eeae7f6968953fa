"""The worker's periodic jobs, declared once in ``JOBS`` with fixed ids.

Every job is short and stateless: the database holds the truth, so a restart neither repeats
nor loses anything.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from portal import dispatch, enquiries, reconcile, reminders, schedule
from portal.audit import Actor
from portal.config import Settings
from portal.models import Participant, ReminderRule, Visit, WorkerHeartbeat
from portal.models.visits import OPEN_VISIT_STATUSES
from portal.sms.pool import SendPool

log = logging.getLogger("scheduler.jobs")
WORKER_ACTOR = Actor(type="system", role="worker")


@dataclass
class WorkerContext:
    settings: Settings
    session_factory: sessionmaker[Session]
    worker_id: str
    stop: threading.Event
    policy: dispatch.DispatchPolicy
    started_at: datetime
    # The worker's sending threads, kept between runs so provider connections are reused.
    sender: SendPool | None = None


def now() -> datetime:
    return datetime.now(UTC)


def plan_reminders(ctx: WorkerContext) -> None:
    """Re-plan upcoming booked visits: time passing, quiet hours or rules may have changed."""
    with ctx.session_factory() as session:
        longest = session.scalar(select(func.max(ReminderRule.days_before))) or 0
        ids = reminders.upcoming_visit_ids(session, now(), timedelta(days=longest + 2))
    for start in range(0, len(ids), reminders.CHUNK):
        if ctx.stop.is_set():
            return
        with ctx.session_factory() as session, session.begin():
            reminders.replan_visits(session, ids[start : start + reminders.CHUNK], now(), ctx.settings.quiet_hours)
    log.info("plan_reminders visits=%s", len(ids))


def dispatch_outbox(ctx: WorkerContext) -> None:
    report = dispatch.dispatch_due(ctx.session_factory, ctx.settings, policy=ctx.policy, worker=ctx.worker_id,
                                   should_stop=ctx.stop.is_set, pool=ctx.sender)  # fmt: skip
    if report.claimed:
        log.info("dispatch claimed=%s outcomes=%s budget_spent=%s", report.claimed, dict(report.outcomes),
                 report.budget_spent)  # fmt: skip


def reconcile_unknown(ctx: WorkerContext) -> None:
    outcomes = reconcile.reconcile_unknown(ctx.session_factory, ctx.settings, policy=ctx.policy, worker=ctx.worker_id)
    if outcomes:
        log.info("reconcile outcomes=%s", dict(outcomes))


def expire_leases(ctx: WorkerContext) -> None:
    dispatch.expire_leases(ctx.session_factory)


def mark_missed_visits(ctx: WorkerContext, limit: int = 200) -> None:
    """Open visits whose window ended (a day's margin covers every time zone) become missed."""
    cutoff = (now() - timedelta(days=1)).date()
    with ctx.session_factory() as session, session.begin():
        visits = session.scalars(
            select(Visit)
            .options(joinedload(Visit.participant).joinedload(Participant.site))
            .where(Visit.status.in_(OPEN_VISIT_STATUSES), Visit.window_end < cutoff)
            .order_by(Visit.id)
            .limit(limit)
        ).all()
        for visit in visits:
            schedule.set_visit_status(session, visit, "missed", WORKER_ACTOR, reason="visit window ended", now=now())
    if visits:
        log.info("mark_missed visits=%s", len(visits))


def heartbeat(ctx: WorkerContext) -> None:
    with ctx.session_factory() as session, session.begin():
        beat = session.get(WorkerHeartbeat, ctx.worker_id)
        if beat is None:
            session.add(WorkerHeartbeat(worker_id=ctx.worker_id, hostname=socket.gethostname()[:200],
                                        pid=int(ctx.worker_id.rsplit(":", 1)[-1]), started_at=ctx.started_at,
                                        last_beat_at=now()))  # fmt: skip
        else:
            beat.last_beat_at = now()


def sign_off(ctx: WorkerContext) -> None:
    """A clean stop removes this worker's heartbeat, so /readyz and worker-status see it gone at once."""
    with ctx.session_factory() as session, session.begin():
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == ctx.worker_id))


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[WorkerContext], None]
    seconds: int


DISPATCH_SECONDS = 10
JOBS: tuple[Job, ...] = (
    Job("heartbeat", heartbeat, 30),
    Job("plan_reminders", plan_reminders, 300),
    Job("dispatch_outbox", dispatch_outbox, DISPATCH_SECONDS),
    Job("reconcile_unknown", reconcile_unknown, 60),
    Job("expire_leases", expire_leases, 60),
    Job("mark_missed_visits", mark_missed_visits, 3600),
    Job("purge_enquiries", enquiries.purge_job, 3600),
)
