"""send_now: a freshly queued row goes out at once, and only once even if a worker races it."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from sqlalchemy.orm import Session

from portal.config import Settings
from portal.dispatch import DispatchPolicy, claim_one, send_now
from portal.models import OutboxMessage
from portal.outbox import queue_sms


def _queue(db: Session, body: str = "Your sign-in code is 123456", kind: str = "sign_in_code") -> int:
    message = queue_sms(db, to_number="+8613900000001", body=body, kind=kind, locale="en")
    db.commit()
    return message.id


def test_send_now_delivers_through_console(app: Flask, db: Session, settings: Settings, capsys) -> None:
    message_id = _queue(db)
    send_now(app.extensions["session_factory"], message_id, settings)
    db.expire_all()
    row = db.get(OutboxMessage, message_id)
    assert row.status == "delivered"
    assert row.provider_id and row.provider_id.startswith("CONSOLE")
    assert row.attempts == 1 and row.segments == 1 and row.sent_at is not None
    assert "123456" in capsys.readouterr().out  # the developer sees the code on stdout


def test_send_now_never_sends_a_row_a_worker_claimed(app: Flask, db: Session, settings: Settings, capsys) -> None:
    message_id = _queue(db)
    assert claim_one(db, message_id, "worker-a", datetime.now(UTC), DispatchPolicy())
    db.commit()
    send_now(app.extensions["session_factory"], message_id, settings)
    db.expire_all()
    row = db.get(OutboxMessage, message_id)
    assert row.status == "sending" and row.claimed_by == "worker-a" and row.attempts == 1
    assert capsys.readouterr().out == ""


def test_console_log_line_never_carries_the_code(app: Flask, db: Session, settings: Settings, caplog) -> None:
    caplog.set_level("DEBUG")
    message_id = _queue(db, body="登录验证码 654321")
    send_now(app.extensions["session_factory"], message_id, settings)
    assert "654321" not in caplog.text
    assert "+8613900000001" not in caplog.text


def test_nothing_but_a_requested_code_reaches_an_opted_out_participant(
    app: Flask, db: Session, settings: Settings, make_participant, capsys
) -> None:
    from portal.audit import SYSTEM
    from portal.dispatch import dispatch_due
    from portal.participants import set_sms_opt_out

    participant = make_participant()
    set_sms_opt_out(db, participant, True, "portal", SYSTEM, datetime.now(UTC))
    staff = queue_sms(db, to_number=participant.phone_e164, body="来自研究团队", kind="staff", locale="zh_Hans_CN",
                      participant_id=participant.id)  # fmt: skip
    code = queue_sms(db, to_number=participant.phone_e164, body="验证码 135790", kind="sign_in_code",
                     locale="zh_Hans_CN", participant_id=participant.id)  # fmt: skip
    db.commit()
    dispatch_due(app.extensions["session_factory"], settings)
    db.expire_all()
    assert (db.get(OutboxMessage, staff.id).status, db.get(OutboxMessage, staff.id).error_code) == (
        "cancelled", "sms_not_allowed")
    assert db.get(OutboxMessage, code.id).status == "delivered"
    assert "来自研究团队" not in capsys.readouterr().out
