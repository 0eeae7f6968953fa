"""Messages, news and the public study page in a real phone-sized Chromium, in Chinese and in English:
a participant writes to the study team and sees the confirmation; a coordinator answers from the console;
the participant sees the answer and the unread mark; a visitor reads the study page and sends an enquiry.
axe-core reports no serious or critical violation on the new pages, signed in and signed out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from portal.audit import SYSTEM
from portal.models import Enquiry, OutboxMessage, Study
from portal.participants import EnrolmentData, enrol_participant
from portal.staff_accounts import upsert_staff

from .checks import check_page
from .conftest import screenshot

PASSWORD = "Browser-Messages-Passw0rd-7"
TEXT = {
    "zh": {"accept": "zh-CN", "locale": "zh_Hans_CN", "messages": "消息", "send": "获取验证码",
           "confirm": "发送给", "question": "我从昨天开始发烧，输注前可以吃平时的药吗？", "urgent": "拨打 120",
           "reply": "可以照常服药，请多喝水。如发烧超过38.5度请马上打电话。", "study": "注册编号",
           "sent": "您的消息已于"},
    "en": {"accept": "en-US", "locale": "en", "messages": "Messages", "send": "Send me a code",
           "confirm": "Your message has been sent to the study team at", "question": "Can I take my usual medicine?",
           "urgent": None, "reply": "Yes, take it as usual with some water.", "study": "Registry identifier",
           "sent": "Your message has been sent to the study team at"},
}  # fmt: skip
PHONES = {"zh": "+8613900000701", "en": "+8613900000702"}

@pytest.fixture
def people(live_server: Any) -> dict[str, Any]:
    """A participant per language at BJ (nobody else signs in as them) and BJ's coordinator."""
    made: dict[str, Any] = {}
    with live_server.session() as s:
        study = s.scalar(select(Study))
        for lang, phone in PHONES.items():
            from portal.models import Participant

            p = s.scalar(select(Participant).where(Participant.phone_e164 == phone))
            if p is None:
                p = enrol_participant(s, study, EnrolmentData(
                    study_code=f"BJ-{phone[-4:]}", full_name=f"消息测试{lang}", phone=phone, site_code="BJ",
                    arm_code="control", day0=date.today(), preferred_locale=TEXT[lang]["locale"],
                ), SYSTEM, now=datetime.now(UTC))  # fmt: skip
            made[lang] = {"id": p.id, "phone": phone}
        upsert_staff(s, "coord.messages@test.example", "Coordinator BJ", "coordinator", ["BJ"], PASSWORD, SYSTEM)
        s.commit()
    return made


def participant_sign_in(page: Any, live_server: Any, person: dict[str, Any], send_label: str) -> None:
    page.goto(f"{live_server.url}/sign-in")
    local = person["phone"].removeprefix("+86")
    page.fill("#phone", local)
    page.get_by_role("button", name=send_label).click()
    page.wait_for_url("**/sign-in/code")
    page.fill("#code", live_server.last_sms_code(person["id"]))
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_participant_writes_coordinator_answers(live_server, browser_page_for, axe_check, people, lang):
    t = TEXT[lang]
    page = browser_page_for(t["accept"])
    participant_sign_in(page, live_server, people[lang], t["send"])
    page.locator("nav.tabs").get_by_role("link", name=t["messages"]).click()
    page.wait_for_url("**/messages")
    check_page(page, axe_check, f"messages-{lang}-01-empty")
    page.fill("#body", t["question"])
    assert str(len(t["question"])) in page.inner_text("#body-count")  # counted as typed
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url("**/messages")
    assert t["sent"] in page.inner_text("main")
    if t["urgent"]:
        assert page.locator(".urgent-box").is_visible() and t["urgent"] in page.inner_text(".urgent-box")
    check_page(page, axe_check, f"messages-{lang}-02-sent")

    staff = browser_page_for(t["accept"])
    staff.goto(f"{live_server.url}/staff/")
    staff.fill("#email", "coord.messages@test.example")
    staff.fill("#password", PASSWORD)
    staff.locator("main form button[type=submit]").click()
    staff.wait_for_url("**/staff/worklist")
    staff.goto(f"{live_server.url}/staff/messages/inbox")
    row = staff.locator("tr", has_text=t["question"][:8])
    assert row.count() == 1
    row.get_by_role("link").first.click()
    staff.wait_for_url("**/staff/participants/*/messages")
    staff.fill("#portal-reply-body", t["reply"])
    staff.locator("#portal-reply form button[type=submit]").last.click()
    staff.wait_for_url("**/messages*")
    screenshot(staff, f"messages-{lang}-03-staff-replied")

    page.goto(f"{live_server.url}/contact")
    badge = page.locator("nav.tabs a", has_text=t["messages"]).locator(".badge")
    assert badge.inner_text().startswith("1")
    page.locator("nav.tabs").get_by_role("link", name=t["messages"]).click()
    page.wait_for_url("**/messages")
    first = page.locator("ol.thread li").first
    assert t["reply"] in first.inner_text() and "unread" in (first.get_attribute("class") or "")
    check_page(page, axe_check, f"messages-{lang}-04-answer")
    with live_server.session() as s:
        notice = s.scalar(select(OutboxMessage).where(OutboxMessage.participant_id == people[lang]["id"],
                                                      OutboxMessage.kind == "notification"))  # fmt: skip
        assert notice is not None and t["reply"] not in notice.body
    page.goto(f"{live_server.url}/news")
    check_page(page, axe_check, f"messages-{lang}-05-news")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_visitor_reads_the_study_page_and_sends_an_enquiry(live_server, browser_page_for, axe_check, lang):
    t = TEXT[lang]
    page = browser_page_for(t["accept"])
    page.goto(f"{live_server.url}/sign-in")
    page.locator("a[href='/study']").first.click()
    page.wait_for_url("**/study")
    assert "NCT03945487" in page.inner_text("main") and t["study"] in page.inner_text("main")
    check_page(page, axe_check, f"study-{lang}-01-page")
    page.locator("a[href='/study/contact?site=SH']").click()
    page.wait_for_url("**/study/contact?site=SH")
    check_page(page, axe_check, f"study-{lang}-02-form")
    page.locator("button[type=submit]").last.click()  # nothing filled in: errors, shown accessibly
    check_page(page, axe_check, f"study-{lang}-03-errors")
    page.fill("#full_name", "访客" if lang == "zh" else "Visitor")
    page.fill("#phone", "13700137001" if lang == "zh" else "13700137002")
    page.locator("input[name=site][value]").last.check()
    page.locator("input[name=consent]").check()
    page.locator("button[type=submit]").last.click()
    page.wait_for_url("**/study/contact/sent")
    assert t["sent"] in page.inner_text("main")
    check_page(page, axe_check, f"study-{lang}-04-sent")
    with live_server.session() as s:
        enquiry = s.scalar(select(Enquiry).where(Enquiry.phone_e164.like("%13700137%")).order_by(Enquiry.id.desc()))
        assert enquiry is not None and s.get(OutboxMessage, enquiry.confirmation_message_id) is not None
