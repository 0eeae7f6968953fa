"""Participant messages: sending, validation, order, unread marks, warning signs, limits, withdrawn, access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import portal_messages as pm
from portal.audit import SYSTEM, Actor
from portal.config import parse_quiet_hours
from portal.models import AuditEvent, OutboxMessage, Participant, StaffUser

DAY = parse_quiet_hours("21:00-08:00")


def _staff(db: Session) -> StaffUser:
    staff = db.scalar(select(StaffUser).where(StaffUser.email == "nurse@example.org"))
    if staff is None:
        staff = StaffUser(email="nurse@example.org", full_name="李护士", role="coordinator", password_hash="x")
        db.add(staff)
        db.flush()
    return staff


def _portal_in(db: Session, participant: Participant) -> list[OutboxMessage]:
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).where(
        OutboxMessage.participant_id == participant.id, OutboxMessage.channel == "portal",
        OutboxMessage.direction == "in")))  # fmt: skip


def test_sending_shows_a_confirmation_with_site_date_hours_and_120(participant_client, make_participant, db):
    me = make_participant(locale="zh_Hans_CN")
    client = participant_client(me)
    response = client.post("/messages", data={"body": "输注前可以吃平时的药吗？", "topic": "medicines"})
    assert response.status_code == 302
    page = client.get("/messages").get_data(as_text=True)
    assert "您的消息已于" in page or "已发送" in page
    assert "解放军总医院第五医学中心" in page and "周一至周五 8:00–17:00" in page and "120" in page
    [message] = _portal_in(db, me)
    assert message.status == "received" and message.topic == "medicines" and not message.urgent
    assert message.body == "输注前可以吃平时的药吗？"
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "message.portal_send"))


def test_english_confirmation(participant_client, make_participant):
    client = participant_client(make_participant(locale="en"))
    client.post("/messages", data={"body": "Can I take my usual medicine?"})
    page = client.get("/messages").get_data(as_text=True)
    assert "Your message has been sent to the study team at Fifth Medical Center" in page
    assert "Monday to Friday, 8:00 am – 5:00 pm" in page and "In an emergency call 120." in page


@pytest.mark.parametrize(("locale", "empty", "long"), [
    ("en", "Please write your message.", "Please keep it to 1000 characters."),
    ("zh_Hans_CN", "请写下您的消息", "1000"),
])  # fmt: skip
def test_validation_errors_in_both_languages(participant_client, make_participant, db, locale, empty, long):
    me = make_participant(locale=locale)
    client = participant_client(me)
    assert empty in client.post("/messages", data={"body": "   "}).get_data(as_text=True)
    page = client.post("/messages", data={"body": "字" * 1001}).get_data(as_text=True)
    assert long in page
    assert client.post("/messages", data={"body": "字" * 1000}).status_code == 302  # exactly the limit is fine
    assert len(_portal_in(db, me)) == 1


def test_rate_limit_has_a_clear_message(participant_client, make_participant, db):
    me = make_participant(locale="en")
    client = participant_client(me)
    for n in range(pm.RATE_LIMIT[0]):
        assert client.post("/messages", data={"body": f"question {n}"}).status_code == 302
    page = client.post("/messages", data={"body": "one more"}).get_data(as_text=True)
    assert "You have sent 10 messages in the last hour" in page
    assert len(_portal_in(db, me)) == pm.RATE_LIMIT[0]


@pytest.mark.parametrize("text", [
    "我从昨天开始发烧", "今天早上呕血了", "大便是黑便", "I have a Fever since yesterday",
    "ＦＥＶＥＲ and chills", "I VOMITED  BLOOD this morning", "my father seems Confused",
])  # fmt: skip
def test_warning_signs_in_either_language_full_width_and_mixed_case(text, study):
    assert pm.red_flags_in(text, study.content["red_flags"])


def test_ordinary_messages_are_not_flagged(study):
    for text in ("可以改到下周吗？", "Can I bring my daughter?", "I feel fine"):
        assert not pm.red_flags_in(text, study.content["red_flags"])


def test_a_red_flag_message_tells_the_participant_to_call_now(participant_client, make_participant, db):
    me = make_participant(locale="zh_Hans_CN")
    client = participant_client(me)
    client.post("/messages", data={"body": "我今天呕血了，怎么办"})
    page = client.get("/messages").get_data(as_text=True)
    assert 'class="urgent-box"' in page and "tel:120" in page and "tel:01066933000" in page
    [message] = _portal_in(db, me)
    assert message.urgent and message.meta["red_flags"] == ["呕血"]


def test_conversation_newest_first_with_replies_and_sms_and_unread_marks(participant_client, make_participant, db):
    me = make_participant(locale="en")
    client = participant_client(me)
    t0 = datetime.now(UTC) - timedelta(hours=3)
    actor = Actor(type="participant", id=me.id)
    pm.send_portal_message(db, me, "first question", None, actor, t0)
    db.add(OutboxMessage(direction="out", participant_id=me.id, to_number=me.phone_e164, kind="reminder",
                         body="302 Hospital: study visit Tue 1 Dec", status="delivered",
                         created_at=t0 + timedelta(minutes=30)))  # fmt: skip
    pm.reply_in_portal(db, me, "the team answer", _staff(db), SYSTEM, t0 + timedelta(hours=1), DAY)
    db.commit()
    home = client.get("/contact").get_data(as_text=True)
    assert 'class="badge">1<' in home  # the unread reply is counted in the navigation
    page = client.get("/messages").get_data(as_text=True)
    answer, sms, question = page.index("the team answer"), page.index("study visit Tue 1 Dec"), page.index("first q")
    assert answer < sms < question  # newest first
    assert "unread" in page[:answer].rsplit("<li", 1)[1]  # marked as new on this visit
    again = client.get("/messages").get_data(as_text=True)
    assert "unread" not in again.split("Your conversation")[1]
    assert 'class="badge">' not in client.get("/contact").get_data(as_text=True)
    reads = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "message.portal_read")
    assert db.scalar(reads) == 1


def test_sign_in_codes_are_not_shown_in_the_conversation(participant_client, make_participant, db):
    me = make_participant(locale="en")
    client = participant_client(me)
    db.execute(OutboxMessage.__table__.update().where(OutboxMessage.kind == "sign_in_code").values(status="delivered"))
    db.commit()
    code_body = db.scalar(select(OutboxMessage.body).where(OutboxMessage.kind == "sign_in_code"))
    assert code_body not in client.get("/messages").get_data(as_text=True)


def test_withdrawn_participants_can_read_but_not_send(participant_client, make_participant, db):
    me = make_participant(locale="en")
    client = participant_client(me)
    client.post("/messages", data={"body": "before withdrawal"})
    me = db.get(Participant, me.id)
    me.status = "withdrawn"
    db.commit()
    page = client.get("/messages")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "before withdrawal" in text and "010-6693 3000" in text and 'name="body"' not in text
    refused = client.post("/messages", data={"body": "after withdrawal"}).get_data(as_text=True)
    assert "cannot send messages here" in refused
    assert [m.body for m in _portal_in(db, me)] == ["before withdrawal"]


def test_other_participants_messages_are_unreachable(participant_client, make_participant, db):
    alice, bob = make_participant(locale="en"), make_participant(locale="en")
    pm.send_portal_message(db, bob, "bob's private question", None, Actor(type="participant", id=bob.id),
                           datetime.now(UTC))  # fmt: skip
    pm.reply_in_portal(db, bob, "bob's private answer", _staff(db), SYSTEM, datetime.now(UTC), DAY)
    db.commit()
    client = participant_client(alice)
    page = client.get("/messages").get_data(as_text=True)
    assert "bob's private" not in page
    bob_ids = [m.id for m in db.scalars(select(OutboxMessage).where(OutboxMessage.participant_id == bob.id))]
    for message_id in bob_ids:
        for url in (f"/messages/{message_id}", f"/messages?id={message_id}"):
            response = client.get(url)
            assert response.status_code == 404 or "bob's private" not in response.get_data(as_text=True)
    with client.session_transaction() as s:  # even a forged "just sent" id shows nothing of Bob's
        s["portal_message_sent"] = bob_ids[0]
    assert "bob's private" not in client.get("/messages").get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_sign_in(client, study):
    for url in ("/messages", "/news"):
        response = client.get(url)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
