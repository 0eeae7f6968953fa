"""Dispatch inside one worker: bounded concurrent sends, the optional rate cap, runs that keep going
while rows are due (within a time budget), and stopping that finishes or hands back what is in hand."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from portal.config import Settings, parse_quiet_hours
from portal.dispatch import DispatchPolicy, dispatch_due
from portal.models import OutboxMessage
from portal.sms import OutgoingSms, SendResult
from portal.sms.pool import SendPool

from ..conftest import BOTH_DATABASES

ACCEPTED = ("queued", "sent", "delivered")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"quiet_hours": parse_quiet_hours("00:00-00:00"), "worker_send_concurrency": 4}


class RecordingBackend:
    """Counts sends in flight at once and when each started; takes ``delay`` seconds per send."""

    name = "recording"

    def __init__(self, delay: float = 0.0, on_send: object = None) -> None:
        self.delay, self.on_send = delay, on_send
        self.lock = threading.Lock()
        self.active = self.most_active = 0
        self.starts: list[float] = []
        self.sent: list[int] = []

    def send(self, sms: OutgoingSms) -> SendResult:
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            self.starts.append(time.monotonic())
        time.sleep(self.delay)
        with self.lock:
            self.active -= 1
            self.sent.append(sms.message_id)
        if callable(self.on_send):
            self.on_send(len(self.sent))
        return SendResult(provider_id=f"SM{sms.message_id:032d}", status="queued", segments=1)

    def find_sent(self, sms: OutgoingSms, since: datetime, exclude: set[str]) -> SendResult | None:
        return None


def queue_many(db: Session, n: int, *, phone: str | None = None) -> None:
    now = datetime.now(UTC)
    db.execute(insert(OutboxMessage), [
        {"direction": "out", "to_number": phone or f"+8613{i:09d}", "kind": "staff", "body": f"消息 {i}",
         "locale": "zh_Hans_CN", "due_at": now, "status": "pending", "attempts": 0, "meta": {}, "error_message": "",
         "from_number": "", "created_at": now}
        for i in range(n)
    ])  # fmt: skip
    db.commit()


def statuses(db: Session) -> dict[str, int]:
    db.expire_all()
    return dict(db.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def test_sends_overlap_up_to_the_configured_concurrency_and_no_further(
    app: Flask, db: Session, settings: Settings
) -> None:
    queue_many(db, 24)
    backend = RecordingBackend(delay=0.05)
    report = dispatch_due(app.extensions["session_factory"], settings, backend=backend)
    assert report.outcomes["accepted"] == 24
    assert backend.most_active == settings.worker_send_concurrency == 4
    assert sorted(backend.sent) == sorted(set(backend.sent))
    assert statuses(db) == {"queued": 24}


def test_one_run_keeps_sending_while_rows_are_due(app: Flask, db: Session, settings: Settings) -> None:
    queue_many(db, 700)  # more than the old fixed cap of 25 batches x 20 per run
    policy = DispatchPolicy(run_seconds=300)  # a budget this busy test machine cannot exhaust
    report = dispatch_due(app.extensions["session_factory"], settings, backend=RecordingBackend(), policy=policy)
    assert report.claimed == 700 and not report.budget_spent
    assert statuses(db) == {"queued": 700}


def test_the_per_phone_cap_holds_across_the_whole_run(app: Flask, db: Session, settings: Settings) -> None:
    queue_many(db, 30, phone="+8613800000001")
    queue_many(db, 50)
    backend = RecordingBackend()
    report = dispatch_due(app.extensions["session_factory"], settings, backend=backend)
    assert report.claimed == 51  # one for the flooded phone, every other phone's message
    assert statuses(db) == {"queued": 51, "pending": 29}


def test_a_run_stops_claiming_when_its_time_budget_is_spent(app: Flask, db: Session, settings: Settings) -> None:
    queue_many(db, 60)
    backend = RecordingBackend(delay=0.1)
    policy = DispatchPolicy(run_seconds=0.25)
    report = dispatch_due(app.extensions["session_factory"], settings, backend=backend, policy=policy)
    assert report.budget_spent and 0 < report.claimed < 60
    counts = statuses(db)
    assert "sending" not in counts  # what was claimed was sent and recorded before the run returned
    assert counts == {"queued": len(backend.sent), "pending": 60 - len(backend.sent)}


def test_the_rate_cap_spaces_sends_across_threads(app: Flask, db: Session, settings: Settings) -> None:
    queue_many(db, 12)
    backend = RecordingBackend()
    pool = SendPool(settings, rate_per_second=40, backend=backend)
    try:
        dispatch_due(app.extensions["session_factory"], settings, pool=pool)
    finally:
        pool.close()
    starts = sorted(backend.starts)
    assert len(starts) == 12
    # Each send books the next 1/40 s slot: 12 sends span at least 11 slots (thread wake-up jitter
    # moves single starts a little, never the whole run).
    assert starts[-1] - starts[0] >= 11 / 40 * 0.95
    assert backend.most_active >= 1
    assert pool.window == 8  # claims in hand: 2 x concurrency (the cap alone, 40/s x 2 s, would allow 80)


def test_stopping_finishes_the_sends_under_way_and_hands_back_the_rest(
    app: Flask, db: Session, settings: Settings
) -> None:
    queue_many(db, 40)
    stop = threading.Event()
    backend = RecordingBackend(delay=0.05, on_send=lambda sent: sent >= 6 and stop.set())
    report = dispatch_due(app.extensions["session_factory"], settings, backend=backend, should_stop=stop.is_set)
    counts = statuses(db)
    assert "sending" not in counts
    assert counts["queued"] == len(backend.sent) == report.outcomes["accepted"] < 40
    assert counts["pending"] == 40 - len(backend.sent)
    db.expire_all()
    # Rows handed back never count as an attempt: nothing reached the provider for them.
    assert set(db.scalars(select(OutboxMessage.attempts).where(OutboxMessage.status == "pending"))) == {0}


@BOTH_DATABASES
def test_recording_a_group_never_moves_a_row_back(app: Flask, db: Session, settings: Settings, database: str) -> None:
    """The status callback may land before the dispatcher records the create reply."""
    from portal import delivery

    queue_many(db, 2)
    first, second = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    for row in (first, second):
        row.status, row.claimed_by = "sending", "w"
    db.commit()
    delivery.advance(db, first.id, "delivered", datetime.now(UTC), provider_id="SMfirst")
    db.commit()
    recorded = datetime.now(UTC).replace(microsecond=0)
    delivery.accept_many(db, [(first.id, "queued", "SMfirst", 1), (second.id, "queued", "SMsecond", 2)],
                         recorded)  # fmt: skip
    db.commit()
    db.expire_all()
    assert (first.status, first.provider_id, first.delivered_at is not None) == ("delivered", "SMfirst", True)
    assert (second.status, second.provider_id, second.segments, second.claimed_by) == ("queued", "SMsecond", 2, None)
    assert first.sent_at is not None
    # Stored as the ORM stores times (UTC), whatever the database session's time zone.
    assert (second.sent_at, second.status_updated_at) == (recorded, recorded)


@BOTH_DATABASES
def test_a_group_with_several_statuses_moves_each_row_to_its_own(app: Flask, db: Session, settings: Settings,
                                                                 database: str) -> None:  # fmt: skip
    from portal import delivery

    queue_many(db, 3)
    rows = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    for row in rows:
        row.status, row.claimed_by = "sending", "w"
    db.commit()
    now = datetime.now(UTC).replace(microsecond=0)
    delivery.accept_many(db, [(rows[0].id, "queued", "SM0", 1), (rows[1].id, "delivered", "SM1", 1),
                              (rows[2].id, "sent", "SM2", 3)], now)  # fmt: skip
    db.commit()
    db.expire_all()
    assert [(r.status, r.provider_id, r.delivered_at) for r in rows] == [
        ("queued", "SM0", None), ("delivered", "SM1", now), ("sent", "SM2", None)]
