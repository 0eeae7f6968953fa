"""The team's side: portal messages in the inbox (urgent first), replies, handled with a reason, site scoping,
the content-free SMS notice (opt-out, quiet hours), the enquiries queue and study news."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import enquiries, news
from portal import portal_messages as pm
from portal.audit import SYSTEM, Actor
from portal.config import parse_quiet_hours
from portal.models import AuditEvent, Enquiry, NewsReceipt, OutboxMessage, Participant, Site, StaffUser
from portal.staff_accounts import upsert_staff

from .conftest import DAYTIME, NIGHT

PASSWORD = "demo-Passw0rd-2026!"
QUIET = parse_quiet_hours("21:00-08:00")


@pytest.fixture
def coordinators(db: Session, study) -> dict[str, StaffUser]:
    made = {}
    for site in ("BJ", "SH"):
        staff, _ = upsert_staff(db, f"coord.{site.lower()}@test.example", f"coord_{site}", "coordinator", (site,),
                                PASSWORD, SYSTEM)  # fmt: skip
        made[site] = staff
    db.commit()
    return made


@pytest.fixture
def staff_client(app: Flask, coordinators):
    def do(site: str) -> FlaskClient:
        client = app.test_client()
        response = client.post("/staff/sign-in", data={"email": f"coord.{site.lower()}@test.example",
                                                        "password": PASSWORD})  # fmt: skip
        assert response.status_code == 302 and "/staff/sign-in" not in response.headers["Location"]
        return client

    return do


def _send(db: Session, participant: Participant, text: str, when: datetime = DAYTIME) -> OutboxMessage:
    message = pm.send_portal_message(db, participant, text, None, Actor(type="participant", id=participant.id), when)
    db.commit()
    return message


def _notices(db: Session, participant: Participant) -> list[OutboxMessage]:
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).where(
        OutboxMessage.participant_id == participant.id, OutboxMessage.kind == "notification")))  # fmt: skip


def test_inbox_shows_portal_messages_urgent_first_with_channel(staff_client, make_participant, db):
    me = make_participant(site="BJ", locale="zh_Hans_CN")
    _send(db, me, "请问下次随访要空腹吗")
    _send(db, me, "我从昨天开始发烧，还呕血")
    page = staff_client("BJ").get("/staff/messages/inbox", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert page.index("发烧") < page.index("空腹")
    assert "紧急：危险信号" in page and "门户消息" in page  # staff language is theirs (zh by default)


def test_reply_reaches_the_portal_and_a_content_free_sms_in_their_language(
    staff_client, participant_client, make_participant, db
):  # fmt: skip
    me = make_participant(site="BJ", locale="en")
    question = _send(db, me, "Can I take my usual medicine before the infusion?")
    coordinator = staff_client("BJ")
    response = coordinator.post(f"/staff/participants/{me.id}/portal-reply",
                                data={"body": "Yes, take it as usual <b>with water</b>."})  # fmt: skip
    assert response.status_code == 302
    db.expire_all()
    reply = db.scalar(select(OutboxMessage).where(OutboxMessage.participant_id == me.id,
                                                  OutboxMessage.channel == "portal", OutboxMessage.direction == "out"))
    assert reply.status == "delivered" and reply.kind == "staff"  # never 'pending': the worker never sends it
    [notice] = _notices(db, me)
    assert notice.status == "pending" and notice.channel == "sms"
    assert "medicine" not in notice.body and "water" not in notice.body
    assert notice.body == "302 Hospital: you have a new message from your study team in your portal."
    assert db.get(OutboxMessage, question.id).handled_at is not None  # answered
    conversation = coordinator.get(f"/staff/participants/{me.id}/messages").get_data(as_text=True)
    assert "Handled by" in conversation or "处理" in conversation
    assert "&lt;b&gt;with water&lt;/b&gt;" in conversation and "<b>with water" not in conversation
    portal = participant_client(me)
    assert 'class="badge">1<' in portal.get("/contact").get_data(as_text=True)
    page = portal.get("/messages").get_data(as_text=True)
    assert "&lt;b&gt;with water&lt;/b&gt;" in page and "unread" in page


def test_notice_in_chinese_respects_opt_out_and_quiet_hours(db, make_participant, coordinators):
    zh = make_participant(site="SH", locale="zh_Hans_CN")
    pm.reply_in_portal(db, zh, "好的", coordinators["SH"], SYSTEM, NIGHT, QUIET)
    [notice] = _notices(db, zh)
    assert notice.body == "【华东研究中心】研究团队给您回复了消息，请登录研究门户查看。"
    assert notice.due_at == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # 08:00 Shanghai, the end of quiet hours
    opted = make_participant(site="SH", locale="zh_Hans_CN")
    opted.sms_opt_out = True
    db.flush()
    pm.reply_in_portal(db, opted, "好的", coordinators["SH"], SYSTEM, DAYTIME, QUIET)
    assert _notices(db, opted) == []
    # Each reply gets its own single notice.
    pm.reply_in_portal(db, zh, "还有一件事", coordinators["SH"], SYSTEM, DAYTIME, QUIET)
    assert len(_notices(db, zh)) == 2


def test_mark_handled_needs_a_reason_and_shows_who(staff_client, make_participant, db):
    me = make_participant(site="BJ", locale="en")
    message = _send(db, me, "Thank you!")
    client = staff_client("BJ")
    client.post(f"/staff/messages/{message.id}/close", data={"reason": ""})
    db.expire_all()
    assert db.get(OutboxMessage, message.id).handled_at is None
    client.post(f"/staff/messages/{message.id}/close", data={"reason": "answered by phone"})
    db.expire_all()
    closed = db.get(OutboxMessage, message.id)
    assert closed.handled_at and closed.handled_reason == "answered by phone" and closed.handled_by.email
    page = client.get(f"/staff/participants/{me.id}/messages", headers={"Accept-Language": "en"})
    assert "answered by phone" in page.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "message.handled")) == 1


def test_a_coordinator_of_another_site_can_neither_read_nor_answer(staff_client, make_participant, db):
    me = make_participant(site="BJ", locale="zh_Hans_CN")
    message = _send(db, me, "北京的消息")
    other = staff_client("SH")
    assert other.get(f"/staff/participants/{me.id}/messages").status_code == 404
    assert other.post(f"/staff/participants/{me.id}/portal-reply", data={"body": "hi"}).status_code == 404
    assert other.post(f"/staff/messages/{message.id}/close", data={"reason": "x"}).status_code == 404
    assert "北京的消息" not in other.get("/staff/messages/inbox").get_data(as_text=True)
    db.expire_all()
    assert _notices(db, me) == [] and db.get(OutboxMessage, message.id).handled_at is None


# --- enquiries in the console ----------------------------------------------------------------


def test_enquiries_queue_is_site_scoped_and_moves_to_enrolled(staff_client, make_participant, db, study):
    bj = db.scalar(select(Site).where(Site.code == "BJ"))
    data = enquiries.EnquiryInput(bj.id, "赵先生", "13800138010", "zh_Hans_CN", "morning", consent=True)
    receipt = enquiries.submit_enquiry(db, study, data, address="1.2.3.4", secret="s", now=DAYTIME)
    db.commit()
    mine, theirs = staff_client("BJ"), staff_client("SH")
    assert "赵先生" in mine.get("/staff/enquiries").get_data(as_text=True)
    assert "赵先生" not in theirs.get("/staff/enquiries").get_data(as_text=True)
    assert theirs.get(f"/staff/enquiries/{receipt.enquiry_id}").status_code == 404
    assert theirs.post(f"/staff/enquiries/{receipt.enquiry_id}/status", data={"status": "contacted"}).status_code == 404
    for status in ("contacted", "screening"):
        mine.post(f"/staff/enquiries/{receipt.enquiry_id}/status", data={"status": status, "note": status})
    # Enrolment form pre-filled from the enquiry (through the session, never the URL).
    response = mine.post(f"/staff/enquiries/{receipt.enquiry_id}/enrol")
    assert response.headers["Location"].endswith("/staff/participants/new")
    form = mine.get("/staff/participants/new").get_data(as_text=True)
    assert "赵先生" in form and "+8613800138010" in form
    participant = make_participant(site="BJ", phone="+8613800138010", name="赵先生")
    mine.post(f"/staff/enquiries/{receipt.enquiry_id}/status",
              data={"status": "enrolled", "study_code": participant.study_code})  # fmt: skip
    db.expire_all()
    enquiry = db.get(Enquiry, receipt.enquiry_id)
    assert enquiry.status == "enrolled" and enquiry.participant_id == participant.id
    page = mine.get(f"/staff/enquiries/{enquiry.id}").get_data(as_text=True)
    assert participant.study_code in page and "coord_BJ" in page


# --- study news ------------------------------------------------------------------------------


def test_news_to_one_site_reaches_only_its_participants_each_once(db, make_participant, coordinators, study):
    bj1, bj2 = make_participant(site="BJ", locale="zh_Hans_CN"), make_participant(site="BJ", locale="en")
    opted = make_participant(site="BJ")
    opted.sms_opt_out = True
    sh = make_participant(site="SH")
    db.flush()
    bj_site = db.scalar(select(Site).where(Site.code == "BJ"))
    draft = news.NewsDraft(bj_site.id, "研究进展", "Study progress", "感谢您的参与。", "Thank you.", notify_sms=True)
    item, sent = news.publish_news(db, study, draft, coordinators["BJ"], SYSTEM, NIGHT, QUIET, {bj_site.id})
    db.commit()
    assert sent == 2
    receivers = set(db.scalars(select(NewsReceipt.participant_id).where(NewsReceipt.news_item_id == item.id)))
    assert receivers == {bj1.id, bj2.id, opted.id} and sh.id not in receivers
    texts = {m.participant_id: m for m in db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "notification"))}
    assert set(texts) == {bj1.id, bj2.id}
    assert texts[bj2.id].body == "302 Hospital: there is news from your study team in your portal."
    assert all(m.due_at.hour == 0 for m in texts.values())  # 08:00 Shanghai: after quiet hours
    assert news.unread_news_count(db, bj1) == 1 and news.unread_news_count(db, sh) == 0
    news.mark_read(db, bj1, [item.id], DAYTIME)
    assert news.unread_news_count(db, bj1) == 0
    with pytest.raises(Exception):  # noqa: B017 - the unique constraint: never a second receipt
        db.add(NewsReceipt(news_item_id=item.id, participant_id=bj1.id))
        db.flush()
    db.rollback()


def test_a_coordinator_cannot_publish_to_another_site_or_the_whole_study(db, coordinators, study):
    sh_site = db.scalar(select(Site).where(Site.code == "SH"))
    bj_site = db.scalar(select(Site).where(Site.code == "BJ"))
    for target in (sh_site.id, None):
        with pytest.raises(news.NewsError):
            news.publish_news(db, study, news.NewsDraft(target, "a", "a", "b", "b"), coordinators["BJ"], SYSTEM,
                              DAYTIME, QUIET, {bj_site.id})  # fmt: skip


def test_participants_see_news_with_unread_marks(participant_client, make_participant, db, coordinators, study):
    me = make_participant(site="SH", locale="zh_Hans_CN")
    sh_site = db.scalar(select(Site).where(Site.code == "SH"))
    news.publish_news(db, study, news.NewsDraft(sh_site.id, "研究结果摘要", "Results summary", "摘要内容", "Summary"),
                      coordinators["SH"], SYSTEM, DAYTIME, QUIET, {sh_site.id})  # fmt: skip
    db.commit()
    client = participant_client(me)
    assert "研究动态" in client.get("/contact").get_data(as_text=True)
    page = client.get("/news").get_data(as_text=True)
    assert "研究结果摘要" in page and 'class="badge"' in page
    assert "研究结果摘要" in client.get("/news").get_data(as_text=True)
    assert news.unread_news_count(db, me) == 0


def test_news_badge_counts_only_my_own_reading(participant_client, make_participant, db, coordinators, study):
    """The badge is read with the signed-in participant in one statement: another participant of
    the site opening the news must not clear mine."""
    me, neighbour = make_participant(site="SH", locale="en"), make_participant(site="SH", locale="en")
    sh_site = db.scalar(select(Site).where(Site.code == "SH"))
    news.publish_news(db, study, news.NewsDraft(sh_site.id, "研究动态", "Study update", "内容", "Text"),
                      coordinators["SH"], SYSTEM, DAYTIME, QUIET, {sh_site.id})  # fmt: skip
    db.commit()
    participant_client(neighbour).get("/news")
    nav = participant_client(me).get("/contact").get_data(as_text=True)
    assert re.search(r'News <span class="badge">1<span class="sr-only"> unread</span>', nav)
