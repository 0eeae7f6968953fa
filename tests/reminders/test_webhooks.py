"""Twilio webhooks: signatures, forward-only statuses, and bilingual keywords."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from portal.config import Settings, load_settings
from portal.models import AuditEvent, OutboxMessage, Participant, Visit
from portal.outbox import queue_sms
from tests.reminders.twilio_fake import AUTH_TOKEN

PUBLIC = "https://portal.example.org"
STATUS_PATH = "/webhooks/twilio/status"
INBOUND_PATH = "/webhooks/twilio/inbound"
OUR_NUMBER = "+15005550006"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"twilio_auth_token": AUTH_TOKEN, "public_base_url": PUBLIC}


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def post(client: FlaskClient, path: str, params: dict[str, str], *, signature: str | None = None,
         query: str = "", **kwargs: object):  # fmt: skip
    url = f"{PUBLIC}{path}" + (f"?{query}" if query else "")
    headers = {"X-Twilio-Signature": signature if signature is not None else sign(url, params)}
    return client.post(path + (f"?{query}" if query else ""), data=params, headers=headers, **kwargs)


def _message(db: Session, status: str = "sending", provider_id: str | None = None) -> OutboxMessage:
    message = queue_sms(db, to_number="+8613900000009", body="body", kind="staff", locale="zh_Hans_CN")
    message.status, message.provider_id = status, provider_id
    db.commit()
    return message


def _status(client: FlaskClient, message_id: int, sid: str, status: str, **extra: str):
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC0", **extra}
    return post(client, STATUS_PATH, params, query=f"outbox_id={message_id}")


# --- signatures ------------------------------------------------------------------------------


def test_unsigned_and_forged_requests_are_refused(client: FlaskClient, db: Session) -> None:
    message = _message(db)
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    url = f"{PUBLIC}{STATUS_PATH}?outbox_id={message.id}"
    assert client.post(f"{STATUS_PATH}?outbox_id={message.id}", data=params).status_code == 403
    assert post(client, STATUS_PATH, params, query=f"outbox_id={message.id}", signature="bm90LWEtc2lnbmF0dXJl").status_code == 403  # noqa: E501
    wrong_key = sign(url, params, token="someone-elses-token")
    assert post(client, STATUS_PATH, params, query=f"outbox_id={message.id}", signature=wrong_key).status_code == 403
    # A genuine signature replayed onto other fields or another row is refused.
    genuine = sign(url, params)
    assert post(client, STATUS_PATH, {**params, "MessageStatus": "failed"}, query=f"outbox_id={message.id}",
                signature=genuine).status_code == 403  # fmt: skip
    assert post(client, STATUS_PATH, params, query=f"outbox_id={message.id + 1}", signature=genuine).status_code == 403
    assert post(client, INBOUND_PATH, {"From": "+8613900000009", "Body": "TD"}, signature="x").status_code == 403
    db.expire_all()
    assert db.get(OutboxMessage, message.id).status == "sending"


def test_replayed_genuine_callback_changes_nothing_more(client: FlaskClient, db: Session) -> None:
    message = _message(db)
    assert _status(client, message.id, "SM1", "delivered").status_code == 204
    db.expire_all()
    first = db.get(OutboxMessage, message.id).status_updated_at
    assert _status(client, message.id, "SM1", "delivered").status_code == 204
    db.expire_all()
    row = db.get(OutboxMessage, message.id)
    assert (row.status, row.provider_id, row.status_updated_at) == ("delivered", "SM1", first)


def test_signature_checked_against_the_forwarded_url_behind_a_proxy(settings: Settings) -> None:
    from portal import create_app

    proxied = load_settings(environ={}, **{**settings.__dict__, "trusted_proxies": 1,
                                           "public_base_url": "https://elsewhere.example"})  # fmt: skip
    app = create_app(proxied)
    client = app.test_client()
    params = {"From": "+8613912345678", "Body": "hello", "MessageSid": "SMx"}
    url = "https://portal.example.org/webhooks/twilio/inbound"
    reply = client.post(INBOUND_PATH, data=params, headers={
        "X-Twilio-Signature": sign(url, params), "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "portal.example.org"})  # fmt: skip
    assert reply.status_code == 200
    app.extensions["engine"].dispose()


# --- statuses --------------------------------------------------------------------------------


def test_statuses_only_move_forward(client: FlaskClient, db: Session) -> None:
    message = _message(db)
    for status in ("sent", "queued", "delivered", "sent", "failed", "undelivered", "queued"):
        assert _status(client, message.id, "SM2", status).status_code == 204
        db.expire_all()
        if status == "sent":
            assert db.get(OutboxMessage, message.id).status in ("sent", "delivered")
    row = db.get(OutboxMessage, message.id)
    assert row.status == "delivered" and row.delivered_at is not None and row.sent_at is not None


def test_first_callback_links_the_provider_id_and_failures_keep_their_code(client: FlaskClient, db: Session) -> None:
    message = _message(db, status="unknown")  # the create reply was lost
    _status(client, message.id, "SM3", "sent")
    _status(client, message.id, "SM3", "undelivered", ErrorCode="30003")
    db.expire_all()
    row = db.get(OutboxMessage, message.id)
    assert (row.provider_id, row.status, row.error_code) == ("SM3", "undelivered", "30003")


def test_callback_for_another_provider_id_is_ignored(client: FlaskClient, db: Session) -> None:
    message = _message(db, status="queued", provider_id="SM4")
    _status(client, message.id, "SM-other", "failed", ErrorCode="30005")
    db.expire_all()
    assert db.get(OutboxMessage, message.id).status == "queued"


def test_unsubscribed_error_in_a_callback_opts_the_participant_out(
    client: FlaskClient, db: Session, make_participant
) -> None:
    participant = make_participant()
    message = _message(db, provider_id="SM5")
    message.participant_id = participant.id
    db.commit()
    _status(client, message.id, "SM5", "failed", ErrorCode="21610")
    db.expire_all()
    person = db.get(Participant, participant.id)
    assert person.sms_opt_out and person.sms_opt_out_channel == "provider"


# --- inbound ---------------------------------------------------------------------------------


def _inbound(client: FlaskClient, sender: str, body: str, sid: str = "SMin1"):
    return post(client, INBOUND_PATH, {"From": sender, "To": OUR_NUMBER, "Body": body, "MessageSid": sid})


OPT_OUT = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "退订", "TD", "T"]
OPT_IN = ["START", "UNSTOP", "订阅"]
HELP = ["HELP", "INFO", "帮助"]
CONFIRM = ["1", "Y", "YES", "确认", "是"]


def _variants(word: str) -> list[str]:
    """As typed: lower case, full-width (Chinese keyboards), with spaces and punctuation."""
    full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in word)
    return [word, word.lower(), full_width, f"  {word.lower()}。 "]


@pytest.mark.parametrize("word", OPT_OUT)
def test_opt_out_keywords(client: FlaskClient, db: Session, make_participant, book_visits, word: str) -> None:
    for n, text in enumerate(_variants(word)):
        participant = make_participant(locale="zh_Hans_CN" if n % 2 else "en")
        book_visits(participant, codes=("W4",))
        reply = _inbound(client, participant.phone_e164, text, sid=f"SM{n}")
        assert reply.status_code == 200 and reply.mimetype == "application/xml"
        db.expire_all()
        person = db.get(Participant, participant.id)
        assert person.sms_opt_out and person.sms_opt_out_channel == "sms", text
        assert ("您已退订短信提醒" if n % 2 else "no more text reminders") in reply.get_data(as_text=True)
        pending = db.scalar(select(OutboxMessage.id).where(
            OutboxMessage.participant_id == participant.id, OutboxMessage.status == "pending"))  # fmt: skip
        assert pending is None  # the participant's reminders are cancelled at once


@pytest.mark.parametrize("word", OPT_IN)
def test_opt_in_keywords(client: FlaskClient, db: Session, make_participant, word: str) -> None:
    participant = make_participant()
    for n, text in enumerate(_variants(word)):
        _inbound(client, participant.phone_e164, "TD", sid=f"SMa{n}")
        reply = _inbound(client, participant.phone_e164, text, sid=f"SMb{n}")
        db.expire_all()
        assert db.get(Participant, participant.id).sms_opt_out is False, text
        assert "短信提醒已重新开通" in reply.get_data(as_text=True)


@pytest.mark.parametrize("word", HELP)
def test_help_keywords(client: FlaskClient, make_participant, word: str) -> None:
    participant = make_participant(locale="en")
    for text in _variants(word):
        body = _inbound(client, participant.phone_e164, text).get_data(as_text=True)
        assert "010-6693 3000" in body and "120" in body, text


@pytest.mark.parametrize("word", CONFIRM)
def test_confirm_keywords_confirm_the_nearest_upcoming_visit(
    client: FlaskClient, db: Session, make_participant, book_visits, word: str
) -> None:
    for n, text in enumerate(_variants(word)):
        participant = make_participant(day0=(datetime.now(UTC) + timedelta(days=3)).date())
        visits = book_visits(participant, codes=("BL", "W4"), at=time(9, 0))
        body = _inbound(client, participant.phone_e164, text, sid=f"SMc{n}").get_data(as_text=True)
        db.expire_all()
        first, second = (db.get(Visit, v.id) for v in visits)
        assert (first.status, first.confirmed_channel, second.status) == ("confirmed", "sms", "scheduled"), text
        assert "已确认" in body


def test_confirm_without_a_booked_visit(client: FlaskClient, make_participant) -> None:
    participant = make_participant(locale="en")
    body = _inbound(client, participant.phone_e164, "1").get_data(as_text=True)
    assert "no booked visit" in body


def test_free_text_is_stored_for_the_team_once(client: FlaskClient, db: Session, make_participant) -> None:
    participant = make_participant()
    for _ in range(2):  # Twilio retries a webhook it thinks failed
        body = _inbound(client, participant.phone_e164, "我下周要出差，能改期吗？", sid="SMfree").get_data(as_text=True)
        assert "研究团队已收到您的短信" in body
    stored = db.scalars(select(OutboxMessage).where(OutboxMessage.direction == "in")).all()
    assert len(stored) == 1
    assert (stored[0].kind, stored[0].status, stored[0].participant_id) == ("inbound", "received", participant.id)
    assert stored[0].body == "我下周要出差，能改期吗？"


def test_unknown_sender_leaves_only_an_audit_line(client: FlaskClient, db: Session) -> None:
    reply = _inbound(client, "+8613700000000", "STOP")
    assert reply.status_code == 200 and "<Message>" not in reply.get_data(as_text=True)
    assert db.scalar(select(OutboxMessage.id)) is None
    (event,) = db.scalars(select(AuditEvent).where(AuditEvent.action == "sms.inbound_unknown_sender")).all()
    assert "+8613700000000" not in str(event.after)
