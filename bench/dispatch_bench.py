"""Dispatch: N reminders due in the same minute, sent by K real worker processes.

Each run clones a template PostgreSQL database (participants + N pending reminders), sets every
reminder due at the run's start, starts K × ``python -m scheduler`` (the real worker, all its
jobs) with SMS_BACKEND=twilio pointed at the loopback Twilio-compatible server from
tests/reminders/twilio_fake.py, and watches until every reminder left ``pending``/``sending``
or the time cap is reached. Figures come from the fake provider (what it accepted, when, how
often) matched to outbox rows through the outbox id in each StatusCallback URL.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, insert, select, text, update
from sqlalchemy.orm import Session

from portal import migrate
from portal.audit import SYSTEM
from portal.models import OutboxMessage, Participant, Site
from portal.protocol import load_protocol
from portal.studies import apply_protocol

ROOT = Path(__file__).resolve().parent.parent
CALLBACK_ID = re.compile(r"outbox_id=(\d+)")


@dataclass
class DispatchResult:
    workers: int
    latency_ms: int
    reminders: int
    accepted: int
    messages_per_s: float
    lag_p50_s: float
    lag_p99_s: float
    lag_max_s: float
    all_within_60s: bool
    duplicates: int
    lost: int
    unsent_at_cap: int
    peak_rss_mb: list[float]
    seconds: float
    capped: bool


def _fake() -> tuple[type, type, str, str]:
    sys.path.insert(0, str(ROOT))
    from tests.reminders.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, FakeServer, FakeTwilio

    return FakeServer, FakeTwilio, ACCOUNT_SID, AUTH_TOKEN


def build_template(engine: Engine, reminders: int) -> None:
    """Schema at head, the study, ``reminders`` active participants each with one pending reminder."""
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    with Session(engine) as session:
        study, _ = apply_protocol(session, load_protocol(), SYSTEM, today=now.date())
        session.flush()
        site_ids = [s.id for s in session.scalars(select(Site).where(Site.study_id == study.id))]
        arm_id = study.arms[0].id
        people = [{"id": n, "study_id": study.id, "site_id": site_ids[n % len(site_ids)], "arm_id": arm_id,
                   "study_code": f"D-{n:05d}", "full_name": f"参与者{n}", "phone_e164": f"+86137{n:08d}",
                   "preferred_locale": "zh_Hans_CN", "day0": now.date(), "status": "active", "sms_opt_out": False}
                  for n in range(1, reminders + 1)]  # fmt: skip
        session.execute(insert(Participant.__table__), people)
        body = "【中心1】提醒：您明天08:00有随访，请空腹。回复1确认，回复TD退订。"
        rows = [{"id": n, "direction": "out", "participant_id": n, "to_number": f"+86137{n:08d}", "kind": "reminder",
                 "body": body, "locale": "zh_Hans_CN", "due_at": now, "status": "pending", "attempts": 0}
                for n in range(1, reminders + 1)]  # fmt: skip
        session.execute(insert(OutboxMessage.__table__), rows)
        for table in ("participants", "outbox_messages"):
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {reminders + 1})"))
        session.commit()


def _peak_rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def _worker_env(url: str, base: str, sid: str, token: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "PORTAL_ENV": "development", "SECRET_KEY": "d" * 48,
            "SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": token,
            "TWILIO_FROM_NUMBER": "+15005550006", "TWILIO_API_BASE": base,
            "PUBLIC_BASE_URL": "http://127.0.0.1:9", "QUIET_HOURS": "00:00-00:00", "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT)}  # fmt: skip


def _outstanding(engine: Engine, reminders: int) -> int:
    waiting = OutboxMessage.status.in_(("pending", "sending", "unknown"))
    query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.id <= reminders, waiting)
    with engine.connect() as conn:
        count = conn.scalar(query)
    return int(count or 0)


def run_once(admin: Engine, template: str, url_for_db: str, workers: int, latency_ms: int, reminders: int,
             cap_seconds: float, log_dir: Path) -> DispatchResult:  # fmt: skip
    fake_server, fake_state, sid, token = _fake()
    name = f"bench_dispatch_{workers}w_{latency_ms}ms"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    url = url_for_db.rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine(url)
    state = fake_state(latency=latency_ms / 1000, callback_statuses=())
    server = fake_server(state).start()
    due = datetime.now(UTC).replace(microsecond=0)
    with engine.begin() as conn:
        conn.execute(update(OutboxMessage).where(OutboxMessage.id <= reminders).values(due_at=due))
    procs = []
    started = time.monotonic()
    for n in range(workers):
        log = (log_dir / f"{name}-{n}.log").open("w")
        env = _worker_env(url, server.base_url, sid, token)
        procs.append(subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=ROOT, stdout=log,
                                      stderr=subprocess.STDOUT, env=env))  # fmt: skip
    capped = False
    while _outstanding(engine, reminders):
        if time.monotonic() - started > cap_seconds:
            capped = True
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    rss = [_peak_rss_mb(p.pid) for p in procs]
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    server.stop()
    result = _figures(engine, state, reminders, due, workers, latency_ms, rss, elapsed, capped)
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return result


def _figures(engine: Engine, state: object, reminders: int, due: datetime, workers: int, latency_ms: int,
             rss: list[float], elapsed: float, capped: bool) -> DispatchResult:  # fmt: skip
    creates: dict[int, list[datetime]] = {}
    for message in state.accepted():  # type: ignore[attr-defined]
        match = CALLBACK_ID.search(message.status_callback)
        if match:
            creates.setdefault(int(match.group(1)), []).append(message.created)
    mine = {k: v for k, v in creates.items() if k <= reminders}
    duplicates = sum(len(v) - 1 for v in mine.values())
    lags = sorted((min(v) - due).total_seconds() for v in mine.values())
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(OutboxMessage.status, func.count()).where(OutboxMessage.id <= reminders)
                                     .group_by(OutboxMessage.status)).all())  # fmt: skip
    unsent = sum(statuses.get(s, 0) for s in ("pending", "sending", "unknown"))
    lost = reminders - len(mine) - unsent  # neither at the provider nor still waiting: dropped or failed
    last = max((min(v) for v in mine.values()), default=due)
    span = max((last - due).total_seconds(), 1e-3)
    pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))] if lags else 0.0  # noqa: E731
    return DispatchResult(
        workers=workers, latency_ms=latency_ms, reminders=reminders, accepted=len(mine),
        messages_per_s=round(len(mine) / span, 1), lag_p50_s=round(pick(0.5), 2), lag_p99_s=round(pick(0.99), 2),
        lag_max_s=round(lags[-1], 2) if lags else 0.0,
        all_within_60s=len(mine) == reminders and bool(lags) and lags[-1] <= 60.0,
        duplicates=duplicates, lost=max(lost, 0), unsent_at_cap=unsent, peak_rss_mb=[round(r, 1) for r in rss],
        seconds=round(elapsed, 1), capped=capped,
    )  # fmt: skip


def as_dict(result: DispatchResult) -> dict[str, object]:
    return asdict(result)

