"""Real worker processes (``python -m scheduler``) against PostgreSQL and the loopback Twilio:
parallel workers never send a row twice, and SIGKILLed workers neither duplicate nor lose any."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from portal.models import OutboxMessage
from tests.reminders.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, FakeServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
OPEN = ("pending", "sending", "unknown")
ACCEPTED = ("queued", "sent", "delivered")


def worker_env(database_url: str, fake: FakeServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SMS_", "WORKER_"))}
    env.update({
        "DATABASE_URL": database_url, "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789", "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": "+15005550006",
        "TWILIO_API_BASE": fake.base_url, "PUBLIC_BASE_URL": "http://127.0.0.1:9", "QUIET_HOURS": "00:00-00:00",
        "WORKER_INTERVAL_SCALE": "0.05", "PYTHONUNBUFFERED": "1",
    })  # fmt: skip
    env.update(extra)
    return env


class Workers:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.procs, self.started = env, logs, [], 0
        self.log_of: dict[int, Path] = {}

    def start(self) -> subprocess.Popen[bytes]:
        self.started += 1
        log = (self.logs / f"worker-{self.started}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip
        self.procs.append(proc)
        self.log_of[proc.pid] = self.logs / f"worker-{self.started}.log"
        return proc

    def working(self) -> list[subprocess.Popen[bytes]]:
        """Workers past their start-up (they logged it): killing those interrupts real work."""
        return [p for p in self.alive() if b"started backend" in self.log_of[p.pid].read_bytes()]

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def stop(self) -> list[int]:
        for proc in self.alive():
            proc.send_signal(signal.SIGTERM)
        return [proc.wait(timeout=30) for proc in self.procs if proc.returncode is None or proc.returncode >= 0]

    def kill_all(self) -> None:
        for proc in self.alive():
            proc.kill()
            proc.wait()


@pytest.fixture
def workers_factory(tmp_path: Path) -> Iterator[list[Workers]]:
    made: list[Workers] = []
    yield made
    for workers in made:
        workers.kill_all()


def queue_many(db: Session, n: int) -> None:
    now = datetime.now(UTC)
    db.execute(insert(OutboxMessage), [
        {"direction": "out", "to_number": f"+8613{i:09d}", "kind": "staff", "body": f"研究团队消息 第{i}条",
         "locale": "zh_Hans_CN", "due_at": now, "status": "pending", "attempts": 0, "meta": {}, "error_message": "",
         "from_number": "", "created_at": now}
        for i in range(n)
    ])  # fmt: skip
    db.commit()


def wait_settled(db: Session, n: int, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        db.expire_all()
        done = db.scalar(select(func.count()).where(OutboxMessage.status.in_(ACCEPTED)))
        if done == n:
            return
        time.sleep(0.25)
    counts = dict(db.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    raise AssertionError(f"not settled in {limit}s: {counts}")


def assert_exactly_once(db: Session, fake: FakeServer, n: int) -> None:
    accepted = fake.state.accepted()
    assert fake.state.duplicates() == {}
    assert len(accepted) == n
    rows = db.scalars(select(OutboxMessage)).all()
    assert {r.status for r in rows} <= set(ACCEPTED)
    assert {(r.to_number, r.body) for r in rows} == {(m.to, m.body) for m in accepted}
    assert {r.provider_id for r in rows} == {m.sid for m in accepted}


def test_three_workers_send_each_of_1000_messages_exactly_once(
    db: Session, database_url: str, fake_twilio: FakeServer, tmp_path: Path, workers_factory: list[Workers]
) -> None:
    fake_twilio.state.callback_statuses = ()
    queue_many(db, 1000)
    workers = Workers(worker_env(database_url, fake_twilio, tmp_path), tmp_path)
    workers_factory.append(workers)
    for _ in range(3):
        workers.start()
    wait_settled(db, 1000, limit=120)
    assert workers.stop() == [0, 0, 0]  # SIGTERM: a clean shutdown
    assert_exactly_once(db, fake_twilio, 1000)
    active = [p for p in (tmp_path).glob("worker-*.log") if "dispatch claimed=" in p.read_text()]
    assert len(active) >= 2  # the workers really ran side by side


def test_sigkilled_workers_neither_duplicate_nor_lose_messages(
    db: Session, database_url: str, fake_twilio: FakeServer, tmp_path: Path, workers_factory: list[Workers]
) -> None:
    state = fake_twilio.state
    state.callback_statuses = ()
    state.latency = 0.1  # each create takes a moment, so kills land mid-send
    state.hang_seconds = 1.0
    state.fault_rates = {"timeout": 0.05, "500_created": 0.02}
    queue_many(db, 500)
    # Few sends at once keep the run long enough for twenty kills to land while rows are in hand.
    env = worker_env(database_url, fake_twilio, tmp_path, TWILIO_TIMEOUT_MS="400", WORKER_LEASE_SECONDS="2",
                     WORKER_RECONCILE_AFTER_SECONDS="0.5", WORKER_BACKOFF_SECONDS="0.2",
                     WORKER_SEND_CONCURRENCY="2")  # fmt: skip
    workers = Workers(env, tmp_path)
    workers_factory.append(workers)
    for _ in range(3):
        workers.start()
    rng = random.Random(20261125)
    time.sleep(1.5)
    kills_with_rows_in_hand = 0
    for _ in range(20):
        time.sleep(rng.uniform(0.05, 0.4))
        while not workers.working():
            time.sleep(0.1)
        busy = _workers_holding_claims(db, workers, within=3.0)
        victim = rng.choice(busy or workers.working())
        kills_with_rows_in_hand += bool(busy)
        victim.kill()  # SIGKILL: no cleanup at all
        victim.wait()
        workers.start()
    wait_settled(db, 500, limit=150)
    workers.kill_all()
    assert_exactly_once(db, fake_twilio, 500)
    assert sum(1 for p in workers.procs if p.returncode == -signal.SIGKILL) >= 20
    logs = "".join(p.read_text() for p in tmp_path.glob("worker-*.log"))
    assert logs.count("started backend") >= 23  # every kill hit a worker that was running
    assert kills_with_rows_in_hand >= 10  # kills landed between a claim and its outcome


def _workers_holding_claims(db: Session, workers: Workers, within: float) -> list[subprocess.Popen[bytes]]:
    """Running workers that hold claimed rows (claimed_by is "host:pid"), waiting up to ``within`` s for one."""
    deadline = time.monotonic() + within
    while True:
        db.expire_all()
        owners = db.scalars(select(OutboxMessage.claimed_by).where(OutboxMessage.status == "sending").distinct())
        pids = {int(owner.rsplit(":", 1)[-1]) for owner in owners if owner}
        busy = [p for p in workers.working() if p.pid in pids]
        if busy or time.monotonic() > deadline:
            return busy
        time.sleep(0.05)


def test_workers_recover_when_the_database_drops_their_connections(
    db: Session, database_url: str, fake_twilio: FakeServer, tmp_path: Path, workers_factory: list[Workers]
) -> None:
    """A PostgreSQL restart as the workers see it: every connection cut mid-run, several times.

    (The shared test server itself is not restarted: other suites use it at the same time.)
    """
    from sqlalchemy import create_engine, text

    from tests.conftest import PG_ADMIN_URL

    state = fake_twilio.state
    state.callback_statuses = ()
    state.latency = 0.03
    queue_many(db, 300)
    env = worker_env(database_url, fake_twilio, tmp_path, WORKER_LEASE_SECONDS="2",
                     WORKER_RECONCILE_AFTER_SECONDS="0.5")  # fmt: skip
    workers = Workers(env, tmp_path)
    workers_factory.append(workers)
    for _ in range(2):
        workers.start()
    name = database_url.rsplit("/", 1)[-1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    cut = 0
    try:
        for _ in range(5):
            time.sleep(1.0)
            while len(workers.working()) < 2:
                time.sleep(0.1)
            with admin.connect() as conn:
                cut += len(conn.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid() AND application_name <> 'pytest'"
                ), {"name": name}).all())  # fmt: skip
    finally:
        admin.dispose()
    db.close()  # our own connection may have been cut too
    wait_settled(db, 300, limit=120)
    assert all(p.poll() is None for p in workers.procs)  # recovered without a restart
    assert workers.stop() == [0, 0]
    assert cut > 0
    assert_exactly_once(db, fake_twilio, 300)
