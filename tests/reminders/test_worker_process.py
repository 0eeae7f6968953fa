"""The worker process itself: fixed jobs, heartbeat, clean SIGTERM, and `flask worker-status`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.config import Settings
from portal.models import OutboxMessage, WorkerHeartbeat
from portal.outbox import queue_sms
from scheduler.jobs import JOBS

ROOT = Path(__file__).resolve().parents[2]


def test_jobs_have_fixed_ids() -> None:
    ids = [j.id for j in JOBS]
    assert len(ids) == len(set(ids))
    assert {"heartbeat", "plan_reminders", "dispatch_outbox", "reconcile_unknown", "expire_leases",
            "mark_missed_visits"} <= set(ids)  # fmt: skip


def test_worker_sends_with_console_backend_and_stops_cleanly_on_sigterm(
    app: Flask, db: Session, settings: Settings, tmp_path: Path
) -> None:
    message = queue_sms(db, to_number="+8613900000077", body="您的登录验证码是 246810", kind="sign_in_code",
                        locale="zh_Hans_CN")  # fmt: skip
    db.commit()
    env = {**os.environ, "DATABASE_URL": settings.database_url, "PORTAL_INSTANCE_PATH": str(tmp_path / "i"),
           "SMS_BACKEND": "console", "WORKER_INTERVAL_SCALE": "0.05", "PYTHONUNBUFFERED": "1"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            db.expire_all()
            if db.get(OutboxMessage, message.id).status == "delivered":
                break
            time.sleep(0.2)
        (beat,) = db.scalars(select(WorkerHeartbeat)).all()
        assert beat.pid == proc.pid
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert db.get(OutboxMessage, message.id).status == "delivered"
    logs = err.decode()
    assert '"msg": "stopping on SIGTERM' in logs and "stopped" in logs
    assert "246810" not in logs and "+8613900000077" not in logs  # codes and full numbers never logged
    assert "246810" in out.decode()  # the console backend shows the developer the body on stdout
    db.expire_all()
    assert db.scalars(select(WorkerHeartbeat)).all() == []  # a clean stop signs off at once


def test_worker_status_cli(app: Flask, db: Session) -> None:
    queue_sms(db, to_number="+8613900000078", body="x", kind="staff", locale="en")
    db.commit()
    result = app.test_cli_runner().invoke(args=["worker-status"])
    assert result.exit_code == 0, result.output
    assert "none has ever run" in result.output
    assert "out  pending      1" in result.output
    assert "recent failures" not in result.output
    failed = queue_sms(db, to_number="+8613900000079", body="x", kind="reminder", locale="en")
    failed.status, failed.error_code = "failed", "21211"
    db.commit()
    output = app.test_cli_runner().invoke(args=["worker-status"]).output
    assert "recent failures:" in output and "code 21211" in output and "+86*******0079" in output
