"""Dispatch through the real twilio library against the loopback Twilio-compatible server."""

from __future__ import annotations

import time as clock
from collections import deque
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.config import Settings, parse_quiet_hours
from portal.dispatch import DispatchPolicy, claim_one, dispatch_due, expire_leases, send_now
from portal.models import OutboxMessage, Participant, ReminderPlanEntry, Visit
from portal.outbox import queue_sms
from portal.reconcile import reconcile_unknown
from portal.sms import OutgoingSms, get_backend, status_callback_url
from tests.reminders.conftest import twilio_overrides
from tests.reminders.twilio_fake import FakeServer

FAST = DispatchPolicy(backoff_base=0.05, backoff_cap=0.2, reconcile_after=0.0, lease_seconds=5, per_phone_cap=50)


@pytest.fixture
def settings_overrides(fake_twilio: FakeServer, portal_port: int) -> dict[str, object]:
    # Never quiet: these tests send "staff" messages at whatever hour they run.
    return twilio_overrides(fake_twilio, portal_port, quiet_hours=parse_quiet_hours("00:00-00:00"))


def _queue(db: Session, n: int = 1, *, kind: str = "staff", to: str | None = None) -> list[int]:
    ids = []
    for i in range(n):
        message = queue_sms(db, to_number=to or f"+86138{i:08d}", body=f"研究团队消息 {i}", kind=kind,
                            locale="zh_Hans_CN")  # fmt: skip
        ids.append(message.id)
    db.commit()
    return ids


def _run_until_settled(app: Flask, settings: Settings, policy: DispatchPolicy = FAST, limit: float = 20.0) -> None:
    """What the worker's jobs do, in a tight loop, until nothing is pending, sending or unknown."""
    factory = app.extensions["session_factory"]
    deadline = clock.monotonic() + limit
    while clock.monotonic() < deadline:
        dispatch_due(factory, settings, policy=policy)
        expire_leases(factory)
        reconcile_unknown(factory, settings, policy=policy)
        with factory() as session:
            open_rows = session.scalar(select(OutboxMessage.id).where(
                OutboxMessage.status.in_(("pending", "sending", "unknown"))).limit(1))  # fmt: skip
        if open_rows is None:
            return
        clock.sleep(0.05)
    raise AssertionError("outbox did not settle")


def _rows(db: Session) -> list[OutboxMessage]:
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_reminder_goes_once_in_the_participants_language_and_callbacks_record_delivery(
    app: Flask, db: Session, settings: Settings, fake_twilio: FakeServer, live_portal: str, make_participant,
    book_visits,
) -> None:  # fmt: skip
    start = datetime(2026, 11, 20, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        zh = make_participant(arm="control", now=start)
        en = make_participant(arm="control", locale="en", now=start)
        book_visits(zh, codes=("W4",), at=time(9, 0))
        book_visits(en, codes=("W4",), at=time(9, 0))
    week_before = db.scalar(select(ReminderPlanEntry.planned_for).where(ReminderPlanEntry.rule_code == "week_before"))
    with time_machine.travel(week_before + timedelta(seconds=5), tick=True):
        report = dispatch_due(app.extensions["session_factory"], settings)
        assert report.outcomes["accepted"] == 2
        fake_twilio.state.drain()
        again = dispatch_due(app.extensions["session_factory"], settings)
    assert again.claimed == 0
    accepted = {m.to: m for m in fake_twilio.state.accepted()}
    zh_body = "【302医院】您预约于12月29日（周二）09:00的研究随访，请空腹前来。回复1确认，TD退订。"
    assert accepted[zh.phone_e164].body == zh_body
    assert accepted[en.phone_e164].body.startswith("302 Hospital: study visit Tue 29 Dec at 9:00 am.")
    for row in [r for r in _rows(db) if r.status != "pending"]:
        assert row.status == "delivered", row.status
        assert row.provider_id == accepted[row.to_number].sid
        assert row.segments == 1 and row.delivered_at is not None
        assert accepted[row.to_number].status_callback == status_callback_url(settings, row.id)
    assert all(code == 204 for _, _, code in fake_twilio.state.callbacks_sent)
    assert len(fake_twilio.state.callbacks_sent) == 4


@pytest.mark.parametrize(
    ("status", "code", "opts_out"),
    [(400, 21211, False), (400, 21610, True), (400, 21614, False), (400, 21408, False), (403, 20003, False)],
)
def test_permanent_errors_fail_at_once(
    app: Flask, db: Session, settings: Settings, fake_twilio: FakeServer, make_participant, book_visits,
    status: int, code: int, opts_out: bool,
) -> None:  # fmt: skip
    participant = make_participant(arm="control")
    fake_twilio.state.reject[participant.phone_e164] = (status, code, "refused")
    (message_id,) = _queue(db, to=participant.phone_e164)
    db.get(OutboxMessage, message_id).participant_id = participant.id
    db.commit()
    dispatch_due(app.extensions["session_factory"], settings, policy=FAST)
    row = next(r for r in _rows(db) if r.id == message_id)
    assert (row.status, row.error_code, row.attempts) == ("failed", str(code), 1)
    assert fake_twilio.state.accepted() == []
    db.expire_all()
    person = db.get(Participant, participant.id)
    assert person.sms_opt_out is opts_out
    if opts_out:
        assert person.sms_opt_out_channel == "provider"


def test_rate_limits_and_errors_then_recovery_backoff_honours_retry_after(
    app: Flask, db: Session, settings: Settings, fake_twilio: FakeServer
) -> None:
    state = fake_twilio.state
    state.retry_after = "0.4"
    state.plan = deque(["429", "429", "500", "500"])
    _queue(db)
    _run_until_settled(app, settings)
    (row,) = _rows(db)
    assert row.status in ("queued", "sent", "delivered") and row.attempts == 5
    assert len(state.accepted()) == 1
    times = [t for t, _ in state.create_attempts]
    assert [a for _, a in state.create_attempts] == ["429", "429", "500", "500", "ok"]
    assert times[1] - times[0] >= 0.4 and times[2] - times[1] >= 0.4  # Retry-After honoured


def test_outage_then_recovery_delivers_everything_once(
    app: Flask, db: Session, settings: Settings, fake_twilio: FakeServer
) -> None:
    state = fake_twilio.state
    state.fault_rates = {"500": 0.3, "429": 0.3, "500_created": 0.1}
    state.retry_after = "0"
    _queue(db, 40)
    factory = app.extensions["session_factory"]
    for _ in range(3):  # the provider is mostly failing
        dispatch_due(factory, settings, policy=FAST)
        reconcile_unknown(factory, settings, policy=FAST)
    assert sum(1 for _, a in state.create_attempts if a != "ok") > 5
    state.fault_rates = {}  # recovery
    _run_until_settled(app, settings)
    rows = _rows(db)
    assert all(r.status in ("queued", "sent", "delivered") for r in rows)
    assert state.duplicates() == {}
    assert len(state.accepted()) == 40
    assert {r.provider_id for r in rows} == {m.sid for m in state.accepted()}
    assert max(r.attempts for r in rows) > 1


@pytest.mark.parametrize("action", ["timeout", "500_created", "500"])
def test_unknown_outcome_is_reconciled_before_any_retry(
    app: Flask, db: Session, settings: Settings, fake_twilio: FakeServer, action: str
) -> None:
    fake_twilio.state.hang_seconds = 1.5
    fake_twilio.state.plan = deque([action])
    _queue(db)
    factory = app.extensions["session_factory"]
    dispatch_due(factory, settings, policy=FAST)
    (row,) = _rows(db)
    assert row.status == "unknown"
    _run_until_settled(app, settings)
    (row,) = _rows(db)
    assert len(fake_twilio.state.accepted()) == 1
    assert row.provider_id == fake_twilio.state.accepted()[0].sid
    created_again = [a for _, a in fake_twilio.state.create_attempts]
    assert created_again == ([action] if action != "500" else ["500", "ok"])


def test_worker_killed_after_the_provider_accepted_is_not_sent_twice(
    app: Flask, db: Session, settings: Settings, fake_twilio: FakeServer
) -> None:
    (sent_id, unsent_id) = _queue(db, 2)
    now = datetime.now(UTC)
    policy = DispatchPolicy(lease_seconds=0.5, reconcile_after=0.0)
    for message_id in (sent_id, unsent_id):
        assert claim_one(db, message_id, "doomed-worker", now, policy)
    db.commit()
    row = db.get(OutboxMessage, sent_id)
    # The doomed worker's API call went through; then it died before writing anything down.
    get_backend(settings).send(OutgoingSms(row.id, row.to_number, row.body, row.kind))
    clock.sleep(0.6)
    assert expire_leases(app.extensions["session_factory"]) == 2
    _run_until_settled(app, settings)
    assert fake_twilio.state.duplicates() == {}
    assert len(fake_twilio.state.accepted()) == 2
    assert {r.status for r in _rows(db)} <= {"queued", "sent", "delivered"}


def test_send_now_through_twilio(app: Flask, db: Session, settings: Settings, fake_twilio: FakeServer) -> None:
    (message_id,) = _queue(db, kind="sign_in_code")
    send_now(app.extensions["session_factory"], message_id, settings)
    (row,) = _rows(db)
    assert row.status == "queued" and row.provider_id == fake_twilio.state.accepted()[0].sid
    send_now(app.extensions["session_factory"], message_id, settings)
    assert len(fake_twilio.state.accepted()) == 1


def test_a_backlog_never_floods_one_phone(app: Flask, db: Session, settings: Settings, fake_twilio: FakeServer) -> None:
    _queue(db, 3, to="+8613800000001")
    (code_id,) = _queue(db, kind="sign_in_code", to="+8613800000001")
    report = dispatch_due(app.extensions["session_factory"], settings)
    assert report.claimed == 2  # one deferrable message per phone per run, and the sign-in code
    assert db.get(OutboxMessage, code_id).status == "queued"


def test_basic_auth_is_checked(app: Flask, db: Session, settings: Settings, fake_twilio: FakeServer) -> None:
    fake_twilio.state.auth_token = "another-token"
    _queue(db)
    dispatch_due(app.extensions["session_factory"], settings, policy=FAST)
    (row,) = _rows(db)
    assert (row.status, row.error_code) == ("failed", "20003")


def test_infusion_reminders_never_reach_the_control_arm(
    app: Flask, db: Session, settings: Settings, make_participant
) -> None:
    participant = make_participant(arm="control")
    assert not db.scalar(select(Visit.id).where(Visit.participant_id == participant.id, Visit.is_infusion))


def test_a_proxy_from_the_environment_carries_every_send(
    settings: Settings, fake_twilio: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hospitals often reach the internet only through a proxy set in the worker's environment:
    the backend reads it once, at start-up, and every send goes through it."""
    from dataclasses import replace

    from portal.sms.twilio_backend import TwilioBackend

    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", fake_twilio.base_url)  # the fake answers absolute-URI requests too
    backend = TwilioBackend(replace(settings, twilio_api_base="http://api.twilio.invalid"))
    sids = [backend.send(OutgoingSms(n, f"+861380000000{n}", "提醒", "reminder")).provider_id for n in (1, 2)]
    assert sids == [m.sid for m in fake_twilio.state.accepted()]
