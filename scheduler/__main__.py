"""``python -m scheduler``: the reminder worker, its own process, never inside the web app.

Builds Settings and an engine from the environment (like the portal, without the Flask app),
runs the fixed job list on an APScheduler 3.x BlockingScheduler in UTC, and stops cleanly on
SIGTERM/SIGINT: the dispatch job hands back rows it claimed but has not sent, and the message
in hand is finished before the process exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler

from portal.config import ConfigError, load_settings
from portal.db import make_engine, make_session_factory
from portal.dispatch import DispatchPolicy
from portal.sms.pool import SendPool

from . import logs
from .jobs import DISPATCH_SECONDS, JOBS, WorkerContext, heartbeat, sign_off

log = logging.getLogger("scheduler")


def build_scheduler(ctx: WorkerContext, interval_scale: float = 1.0) -> BlockingScheduler:
    scheduler = BlockingScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=len(JOBS))},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
    )
    first = datetime.now(UTC) + timedelta(seconds=1)
    for job in JOBS:
        scheduler.add_job(job.func, "interval", args=[ctx], id=job.id, name=job.id,
                          seconds=job.seconds * interval_scale, next_run_time=first, replace_existing=True)  # fmt: skip
    return scheduler


def _policy_from_env(interval_scale: float) -> DispatchPolicy:
    """A few knobs for operators (and the crash tests); defaults suit production."""
    lease = float(os.environ.get("WORKER_LEASE_SECONDS", "") or 120)
    base = float(os.environ.get("WORKER_BACKOFF_SECONDS", "") or 30)
    after = float(os.environ.get("WORKER_RECONCILE_AFTER_SECONDS", "") or 30)
    # A dispatch run keeps sending while rows are due, but stops early enough to finish the sends
    # under way (one provider round trip; queued ones are handed back) before its next firing
    # (max_instances=1 would skip that one).
    run = DISPATCH_SECONDS * interval_scale * 0.9
    return DispatchPolicy(lease_seconds=lease, backoff_base=base, reconcile_after=after, run_seconds=run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler", description="Run the reminder worker.")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    logs.configure(args.log_level)
    try:
        settings = load_settings()
    except ConfigError as exc:
        log.error("configuration: %s", exc)
        return 2
    engine = make_engine(settings)
    scale = float(os.environ.get("WORKER_INTERVAL_SCALE", "") or 1)
    ctx = WorkerContext(settings=settings, session_factory=make_session_factory(engine),
                        worker_id=f"{socket.gethostname()}:{os.getpid()}", stop=threading.Event(),
                        policy=_policy_from_env(scale), started_at=datetime.now(UTC),
                        sender=SendPool(settings))  # fmt: skip
    scheduler = build_scheduler(ctx, scale)

    def stop(signum: int, _frame: FrameType | None) -> None:
        if ctx.stop.is_set():
            return
        log.info("stopping on %s: finishing the message in hand", signal.Signals(signum).name)
        ctx.stop.set()
        if scheduler.running:
            scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        heartbeat(ctx)
    except Exception:
        log.warning("first heartbeat failed; the worker keeps trying", exc_info=True)
    where = engine.url.render_as_string(hide_password=True)
    log.info("worker %s started backend=%s db=%s jobs=%s send_concurrency=%s rate_cap=%s", ctx.worker_id,
             settings.sms_backend, where, ",".join(j.id for j in JOBS), ctx.sender.concurrency,
             settings.sms_rate_limit_per_second or "off")  # fmt: skip
    scheduler.start()
    # shutdown(wait=False) above returns at once; the pool's threads are joined here.
    for executor in scheduler._executors.values():
        executor.shutdown(wait=True)
    ctx.sender.close()
    try:
        sign_off(ctx)
    except Exception:
        log.warning("could not remove the heartbeat; it goes stale in 2 minutes", exc_info=True)
    engine.dispose()
    log.info("worker %s stopped", ctx.worker_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
