"""Volunteer enquiries: the form, robots, rate limits, duplicates, the SMS, and the retention purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import enquiries
from portal.audit import Actor
from portal.models import AuditEvent, Enquiry, EnquiryNote, OutboxMessage, Site, StaffUser, Study

from .conftest import DAYTIME


def _site(db: Session, code: str) -> Site:
    return db.scalar(select(Site).where(Site.code == code))


def _form(site: Site, **changes: str) -> dict[str, str]:
    data = {"site": str(site.id), "full_name": "王小明", "phone": "138 0013 8000", "preferred_locale": "zh_Hans_CN",
            "call_time": "morning", "message": "我想了解这个研究", "consent": "y", "website": ""}  # fmt: skip
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _count(db: Session, model: type) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_study_page_in_both_languages_links_to_the_form(client: FlaskClient, study: Study):
    zh = client.get("/study", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "NCT03945487" in zh and "自愿" in zh and "随机" in zh and "010-6693 3000" in zh and "上海" in zh
    assert "解放军总医院第五医学中心" in zh  # the sponsor
    en = client.get("/study", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "NCT03945487" in en and "your choice" in en
    assert "random" in en and "Monday to Friday, 8:30 am" in en and "Shanghai" in en
    assert "/study/contact?site=SH" in en


def test_enquiry_is_stored_confirmed_and_texted_in_the_chosen_language(client: FlaskClient, db: Session, study: Study):
    sh = _site(db, "SH")
    response = client.post("/study/contact", data=_form(sh, preferred_locale="en"),
                           headers={"Accept-Language": "en"})  # fmt: skip
    assert response.status_code == 302
    page = client.get(response.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Your message has been sent to the study team at East China Research Centre (Shanghai) on" in page
    enquiry = db.scalar(select(Enquiry))
    assert enquiry.site_id == sh.id and enquiry.phone_e164 == "+8613800138000" and enquiry.status == "new"
    sms = db.get(OutboxMessage, enquiry.confirmation_message_id)
    assert sms.kind == "enquiry" and sms.participant_id is None and sms.to_number == "+8613800138000"
    assert sms.body.startswith("East China Centre:") and "enquiry" in sms.body
    for word in ("stem", "cirrhosis", "干细胞", "肝硬化"):
        assert word not in sms.body.lower()


def test_validation_errors_are_shown_in_both_languages(client: FlaskClient, db: Session, study: Study):
    bj = _site(db, "BJ")
    bad = _form(bj, full_name="", phone="12345", consent=None, message="x" * 501)
    en = client.post("/study/contact", data=bad, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Please enter your name." in en and "That does not look like a mobile number" in en
    assert "Please tick the box" in en and "Please shorten your message to 500 characters." in en
    zh = client.post("/study/contact", data=bad, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "请输入您的姓名" in zh
    assert _count(db, Enquiry) == 0 and _count(db, OutboxMessage) == 0


def test_the_honeypot_gets_the_same_answer_and_stores_nothing(client: FlaskClient, db: Session, study: Study):
    response = client.post("/study/contact", data=_form(_site(db, "BJ"), website="http://spam.example"))
    assert response.status_code == 302 and response.headers["Location"].endswith("/study/contact/sent")
    assert _count(db, Enquiry) == 0 and _count(db, OutboxMessage) == 0


def test_a_duplicate_gets_the_same_answer_without_a_second_row_or_sms(client: FlaskClient, db: Session, study: Study):
    bj = _site(db, "BJ")
    first = client.post("/study/contact", data=_form(bj))
    second = client.post("/study/contact", data=_form(bj, phone="+86 138-0013-8000"))
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert _count(db, Enquiry) == 1 and _count(db, OutboxMessage) == 1


def test_rate_limit_per_address(client: FlaskClient, db: Session, study: Study):
    bj = _site(db, "BJ")
    for n in range(enquiries.ADDRESS_LIMIT[0]):
        assert client.post("/study/contact", data=_form(bj, phone=f"13900{n:06d}")).status_code == 302
    page = client.post("/study/contact", data=_form(bj, phone="13911112222"), headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "several enquiries from here" in page.get_data(as_text=True)
    assert _count(db, Enquiry) == enquiries.ADDRESS_LIMIT[0]


def test_rate_limit_per_number_across_addresses(db: Session, study: Study):
    bj, sh = _site(db, "BJ"), _site(db, "SH")
    # Two sites the same day, then again two days later (past the duplicate window), each from another address.
    for n, (site, when) in enumerate([(bj, DAYTIME), (sh, DAYTIME), (bj, DAYTIME + timedelta(days=2))]):
        data = enquiries.EnquiryInput(site.id, "李", "13800138000", "zh_Hans_CN", "any", consent=True)
        receipt = enquiries.submit_enquiry(db, study, data, address=f"10.0.0.{n}", secret="s", now=when)
        assert receipt.outcome == "created"
    data = enquiries.EnquiryInput(sh.id, "李", "13800138000", "zh_Hans_CN", "any", consent=True)
    with pytest.raises(enquiries.EnquiryRateLimited) as error:
        enquiries.submit_enquiry(db, study, data, address="10.0.0.99", secret="s", now=DAYTIME + timedelta(days=3))
    assert error.value.code == "number"


def test_csrf_is_required(app, client: FlaskClient, db: Session, study: Study):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/study/contact", data=_form(_site(db, "BJ")), headers={"Accept-Language": "en"})
    assert response.status_code in (200, 400) and _count(db, Enquiry) == 0


# --- the team's workflow and retention ---------------------------------------------------------


def _enquiry(db: Session, study: Study, site: str, phone: str, when: datetime) -> Enquiry:
    data = enquiries.EnquiryInput(_site(db, site).id, "张三", phone, "zh_Hans_CN", "any", consent=True)
    receipt = enquiries.submit_enquiry(db, study, data, address=phone, secret="s", now=when)
    db.flush()
    return db.get(Enquiry, receipt.enquiry_id)


def _staff(db: Session) -> StaffUser:
    staff = StaffUser(email="c@example.org", full_name="协调员", role="coordinator", password_hash="x")
    db.add(staff)
    db.flush()
    return staff


def test_status_workflow_is_enforced_noted_and_audited(db: Session, study: Study, make_participant):
    staff = _staff(db)
    actor = Actor(type="staff", id=staff.id, role="coordinator")
    enquiry = _enquiry(db, study, "BJ", "13800138001", DAYTIME)
    with pytest.raises(enquiries.EnquiryStateError):
        enquiries.change_status(db, enquiry, "enrolled", "", staff, actor, DAYTIME)
    for status in ("contacted", "screening"):
        enquiries.change_status(db, enquiry, status, f"step {status}", staff, actor, DAYTIME)
    other_site = make_participant(site="SH")
    with pytest.raises(enquiries.EnquiryStateError):
        enquiries.change_status(db, enquiry, "enrolled", "", staff, actor, DAYTIME, participant=other_site)
    participant = make_participant(site="BJ")
    enquiries.change_status(db, enquiry, "enrolled", "enrolled", staff, actor, DAYTIME, participant=participant)
    db.commit()
    assert enquiry.status == "enrolled" and enquiry.participant_id == participant.id
    assert [n.status_to for n in reversed(enquiry.notes)] == ["contacted", "screening", "enrolled"]
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "enquiry.status")).all()
    assert [e.after["status"] for e in events] == ["contacted", "screening", "enrolled"]
    assert all("张三" not in str(e.before) + str(e.after) + e.reason for e in events)


def test_queue_is_site_scoped(db: Session, study: Study):
    bj, sh = _site(db, "BJ"), _site(db, "SH")
    mine = _enquiry(db, study, "BJ", "13800138002", DAYTIME)
    theirs = _enquiry(db, study, "SH", "13800138003", DAYTIME)
    assert [e.id for e in enquiries.enquiry_queue(db, {bj.id})] == [mine.id]
    assert enquiries.get_enquiry(db, {bj.id}, theirs.id) is None
    assert enquiries.get_enquiry(db, {sh.id}, theirs.id).id == theirs.id
    assert enquiries.status_counts(db, {bj.id})["new"] == 1


def test_retention_purge_deletes_expired_and_keeps_enrolled_and_recent(db: Session, study: Study, make_participant):
    staff = _staff(db)
    actor = Actor(type="staff", id=staff.id)
    old = DAYTIME - timedelta(days=200)
    expired = _enquiry(db, study, "BJ", "13800138004", old)
    enquiries.change_status(db, expired, "contacted", "called", staff, actor, old)
    ineligible = _enquiry(db, study, "SH", "13800138005", old)
    enrolled = _enquiry(db, study, "BJ", "13800138006", old)
    for status in ("contacted", "screening"):
        enquiries.change_status(db, enrolled, status, "", staff, actor, old)
    enquiries.change_status(db, enrolled, "enrolled", "", staff, actor, old, participant=make_participant(site="BJ"))
    recent = _enquiry(db, study, "BJ", "13800138007", DAYTIME - timedelta(days=10))
    expired_sms = expired.confirmation_message_id
    ids = (expired.id, ineligible.id)
    db.commit()

    assert enquiries.purge_expired_enquiries(db, DAYTIME, 180) == 2
    db.commit()
    db.expire_all()
    left = set(db.scalars(select(Enquiry.id)))
    assert left == {enrolled.id, recent.id} and not set(ids) & left
    assert db.scalar(select(func.count()).select_from(EnquiryNote).where(EnquiryNote.enquiry_id.in_(ids))) == 0
    assert db.get(OutboxMessage, expired_sms) is None  # the phone number goes with it
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "enquiry.purge"))
    assert event.after["enquiries"] == 2 and "138" not in str(event.after)
    assert enquiries.purge_expired_enquiries(db, DAYTIME, 180) == 0


def test_retention_setting_defaults_to_180_days(settings):
    assert settings.enquiry_retention_days == 180
    from portal.config import load_settings

    assert load_settings(environ={"ENQUIRY_RETENTION_DAYS": "30", "SECRET_KEY": "k" * 40}).enquiry_retention_days == 30



def test_the_worker_runs_the_purge_hourly_with_the_configured_retention(app, db: Session, study: Study):
    from types import SimpleNamespace

    from scheduler.jobs import JOBS

    job = next(j for j in JOBS if j.id == "purge_enquiries")
    assert job.seconds <= 24 * 3600
    _enquiry(db, study, "BJ", "13800138008", datetime.now(UTC) - timedelta(days=181))
    kept = _enquiry(db, study, "BJ", "13800138009", datetime.now(UTC) - timedelta(days=179))
    db.commit()
    ctx = SimpleNamespace(settings=app.config["PORTAL_SETTINGS"], session_factory=app.extensions["session_factory"])
    job.func(ctx)
    db.expire_all()
    assert list(db.scalars(select(Enquiry.id))) == [kept.id]
