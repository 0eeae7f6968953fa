# ruff: noqa: E501 - bilingual expectations read best on one line
"""Every patient page in both languages, with its error paths."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from portal.models import ConsentAcknowledgement, RescheduleRequest

from .conftest import visits_of

ZH, EN = "zh_Hans_CN", "en"
T = {
    ZH: {"html": 'lang="zh-Hans"', "bl_date": "2026年12月1日 星期二", "next": "您的下一次随访", "confirm": "我会按时到",
         "legal": "您签署的纸质知情同意书为正式法律文件", "emergency": "如遇紧急情况，请拨打 120",
         "above": "高于常见范围", "below": "低于常见范围", "alt": "丙氨酸氨基转移酶", "meld": "分数越低越好"},
    EN: {"html": 'lang="en"', "bl_date": "Tuesday, 1 December 2026", "next": "Your next visit", "confirm": "I will come",
         "legal": "The signed paper consent form is the legal record", "emergency": "In an emergency call 120",
         "above": "Above the usual range", "below": "Below the usual range", "alt": "ALT, a liver enzyme",
         "meld": "lower is better"},
}  # fmt: skip


@pytest.fixture(autouse=True)
def _clock(frozen_now):
    return frozen_now


@pytest.fixture(params=[ZH, EN])
def locale(request):
    return request.param


@pytest.fixture
def me(make_participant, sign_in, locale):
    participant = make_participant(locale=locale)
    sign_in(participant)
    return participant


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def test_home_shows_the_next_visit_timeline_and_progress(client, db, me, locale, book):
    visits = visits_of(db, me)
    book(visits[0])
    html = page(client, "/")
    t = T[locale]
    assert t["html"] in html and t["next"] in html and t["bl_date"] in html
    assert "08:00" in html or "8:00 am" in html
    assert ("6天" if locale == ZH else "In 6 days") in html
    assert ("第1次随访，共" if locale == ZH else "Visit 1 of") in html
    assert ("北京市丰台区" if locale == ZH else "Fengtai District") in html and "uri.amap.com" in html
    assert ("细胞输注" if locale == ZH else "Cell infusion") in html  # UC-MSC arm: infusion day
    assert ("请空腹前来抽血" if locale == ZH else "Please come fasting") in html
    assert t["confirm"] in html
    assert ("可预约日期范围" if locale == ZH else "Possible dates") in html  # later visits show their window
    assert "UC-MSC" not in html and "control" not in html.lower().replace("controls", "")


def test_control_arm_never_sees_infusion_advice(client, db, make_participant, sign_in):
    p = make_participant(arm="control")
    sign_in(p)
    html = page(client, "/") + page(client, f"/visits/{visits_of(db, p)[0].id}")
    assert "细胞输注" not in html and "infusion" not in html.lower()


def test_confirm_a_booked_visit(client, db, me, locale, book):
    visit = book(visits_of(db, me)[0])
    response = client.post(f"/visits/{visit.id}/confirm", data={"next": "/"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    html = page(client, "/")
    assert ("谢谢您。我们已记录您会按时到" if locale == ZH else "We have noted that you will come") in html
    db.refresh(visit)
    assert visit.status == "confirmed" and visit.confirmed_channel == "portal"


def test_an_unbooked_visit_cannot_be_confirmed(client, db, me, locale):
    visit = visits_of(db, me)[0]
    html = page(client, f"/visits/{visit.id}")
    assert T[locale]["confirm"] not in html
    client.post(f"/visits/{visit.id}/confirm")
    assert ("这次随访现在无法确认" if locale == ZH else "cannot be confirmed now") in page(client, f"/visits/{visit.id}")


def test_visit_page(client, db, me, locale):
    visit = visits_of(db, me)[1]
    html = page(client, f"/visits/{visit.id}")
    assert ("第4周随访" if locale == ZH else "Week 4 visit") in html
    assert ("2026年12月26日" if locale == ZH else "Saturday, 26 December 2026") in html  # window start


def test_reschedule_request_and_its_state(client, db, me, locale):
    visit = visits_of(db, me)[1]  # W4: 26 Dec – 1 Jan
    html = page(client, f"/visits/{visit.id}/reschedule")
    assert 'min="2026-12-26"' in html and 'max="2027-01-01"' in html
    response = client.post(f"/visits/{visit.id}/reschedule",
                           data={"date_1": "2026-12-27", "date_2": "2026-12-30", "note": "出差"})  # fmt: skip
    assert response.status_code == 302
    request = db.scalar(select(RescheduleRequest))
    assert request.proposed_dates == [date(2026, 12, 27), date(2026, 12, 30)] and request.status == "pending"
    html = page(client, f"/visits/{visit.id}")
    assert ("您已申请改期" if locale == ZH else "You asked for another date") in html


def test_reschedule_page_says_the_date_format_and_takes_typed_dates(client, db, me, locale):
    visit = visits_of(db, me)[1]  # W4: 26 Dec – 1 Jan
    html = page(client, f"/visits/{visit.id}/reschedule")
    hint = "请选择日期，或按“年-月-日”填写，例如 2026-12-26。" if locale == ZH else "year-month-day, for example 2026-12-26"
    assert hint in html and 'aria-describedby="date-format"' in html
    assert f'lang="{"zh-CN" if locale == ZH else "en"}"' in html
    # A browser without a date picker shows a text box: year-first typed dates are accepted.
    response = client.post(f"/visits/{visit.id}/reschedule", data={"date_1": "2026/12/27", "date_2": "2026年12月30日"})
    assert response.status_code == 302
    assert db.scalar(select(RescheduleRequest)).proposed_dates == [date(2026, 12, 27), date(2026, 12, 30)]


@pytest.mark.parametrize(
    ("form", "zh", "en"),
    [
        ({"date_1": "2027-02-01"}, "请选择2026年12月26日 星期六至2027年1月1日 星期五之间的日期",
         "Please choose dates between Saturday, 26 December 2026 and Friday, 1 January 2027"),
        ({"date_1": ""}, "请至少选择一个日期", "Please choose at least one date"),
        ({"date_1": "2026-13-40"}, "有一个日期无效", "not a real date"),
        ({"date_1": "12/27/2026"}, "有一个日期无效", "not a real date"),
        ({"date_1": "2026-12-27", "date_2": "2026-12-27"}, "请选择不同的日期", "Please choose different dates"),
    ],
)  # fmt: skip
def test_reschedule_errors(client, db, me, locale, form, zh, en):
    visit = visits_of(db, me)[1]
    html = client.post(f"/visits/{visit.id}/reschedule", data=form).get_data(as_text=True)
    assert (zh if locale == ZH else en) in html and 'role="alert"' in html
    assert db.scalar(select(RescheduleRequest)) is None


def test_reschedule_twice_and_in_the_past(client, db, me, locale, sign_in):
    import time_machine

    visit = visits_of(db, me)[1]
    client.post(f"/visits/{visit.id}/reschedule", data={"date_1": "2026-12-27"})
    html = client.post(f"/visits/{visit.id}/reschedule", data={"date_1": "2026-12-28"}).get_data(as_text=True)
    assert ("您已为这次随访申请改期" if locale == ZH else "You already asked") in html
    with time_machine.travel(date(2026, 12, 29), tick=False):
        sign_in(me)
        html = client.post(f"/visits/{visit.id}/reschedule", data={"date_1": "2026-12-27"}).get_data(as_text=True)
        assert ("这个日期已经过去了" if locale == ZH else "already passed") in html


def test_visit_calendar_file(client, db, me, book):
    visit = book(visits_of(db, me)[0])
    response = client.get(f"/visits/{visit.id}/calendar.ics")
    assert response.mimetype == "text/calendar"
    text = response.get_data(as_text=True)
    assert "BEGIN:VTIMEZONE" in text and "TZID:Asia/Shanghai" in text
    assert "DTSTART;TZID=Asia/Shanghai:20261201T080000" in text
    assert "TRIGGER:-P1D" in text
    assert "cirrhosis" not in text.lower() and "stem" not in text.lower() and "UC-MSC" not in text


def test_calendar_page_and_feed(client, db, me, locale):
    html = page(client, "/calendar")
    assert ("生成我的日历链接" if locale == ZH else "Make my calendar link") in html
    html = client.post("/calendar/new").get_data(as_text=True)
    assert "webcal://" in html
    feed = html.split('/calendar/feed/')[1].split('.ics')[0]
    response = client.get(f"/calendar/feed/{feed}.ics")
    assert response.status_code == 200 and response.get_data(as_text=True).count("BEGIN:VEVENT") == 17


def test_contact_page_and_sms_switch(client, db, me, locale):
    html = page(client, "/contact")
    assert T[locale]["emergency"] in html and 'href="tel:01066933000"' in html
    assert ("周一至周五" if locale == ZH else "Monday to Friday") in html
    client.post("/contact/sms", data={})
    db.refresh(me)
    assert me.sms_opt_out and me.sms_opt_out_channel == "portal"
    assert ("短信提醒已关闭" if locale == ZH else "Text message reminders are off") in page(client, "/contact")
    client.post("/contact/sms", data={"enabled": "y"})
    db.refresh(me)
    assert not me.sms_opt_out


def test_language_switch_is_saved_and_changes_every_page(client, db, me, locale):
    other = EN if locale == ZH else ZH
    client.post("/language", data={"locale": other, "next": "/contact"})
    db.refresh(me)
    assert me.preferred_locale == other
    assert T[other]["html"] in page(client, "/contact")


def test_consents_signed_and_reconsent_banner(client, db, me, locale, study, consent_setup):
    versions = consent_setup(me, study.id)
    html = page(client, "/consents")
    assert T[locale]["legal"] in html
    assert ("版本 1.0，签署于2026年11月20日" if locale == ZH else "Version 1.0, signed on Friday, 20 November 2026") in html
    assert f"/consents/{versions['v1_en'].id}" in html  # the other language of the signed version
    banner = "知情同意书有新版本" if locale == ZH else "There is a new version of the consent form"
    assert banner in page(client, "/") and banner in page(client, "/results")
    pending = versions["v2_zh" if locale == ZH else "v2_en"]
    html = page(client, f"/consents/{pending.id}")
    assert ("我已阅读新版本" if locale == ZH else "I have read the new version") in html
    pdf = client.get(f"/consents/{pending.id}/file")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    client.post(f"/consents/{pending.id}/acknowledge")
    ack = db.scalar(select(ConsentAcknowledgement))
    assert ack.version_id == pending.id and ack.locale == locale and ack.acknowledged_at is not None
    assert banner not in page(client, "/")


def test_missing_consent_file_is_404(client, db, me, study, consent_setup, app):
    versions = consent_setup(me, study.id, with_v2=False)
    (app.config["PORTAL_SETTINGS"].instance_path / "consents" / versions["v1_zh"].file_path).unlink()
    assert client.get(f"/consents/{versions['v1_zh'].id}/file").status_code == 404


def test_results_released_only_with_plain_words_and_chart(client, db, me, locale, add_panel):
    visits = visits_of(db, me)
    add_panel(me, visits[0], {"ALT": (55, "U/L", 7, 40), "ALB": (38.2, "g/L", 40, 55), "NA": (140, "mmol/L", 137, 147)},
              meld=12, child_pugh="B")  # fmt: skip
    add_panel(me, visits[1], {"ALT": (35, "U/L", 7, 40)})
    hidden = add_panel(me, visits[2], {"ALT": (999, "U/L", 7, 40)}, released=False)
    t = T[locale]
    html = page(client, "/results")
    assert t["alt"] in html and "<svg" in html and "<table" in html and "999" not in html
    assert "55" in html and "35" in html
    first = visits[0]
    panel_id = db.scalar(select(hidden.__class__.id).where(hidden.__class__.visit_id == first.id))
    html = page(client, f"/results/{panel_id}")
    assert t["above"] in html and t["below"] in html
    assert ("在常见范围内" if locale == ZH else "Within the usual range") in html
    scores = ("MELD评分：12", "Child-Pugh分级：B级") if locale == ZH else ("MELD score: 12", "Child–Pugh class: B")
    assert scores[0] in html and t["meld"] in html and scores[1] in html
    assert "异常" not in html and "abnormal" not in html.lower()
    assert client.get(f"/results/{hidden.id}").status_code == 404


def test_no_results_yet(client, me, locale):
    assert ("目前还没有可查看的结果" if locale == ZH else "No results have been shared yet") in page(client, "/results")


def test_pages_are_small(client, db, me, book, add_panel):
    import gzip

    visits = visits_of(db, me)
    book(visits[0])
    add_panel(me, visits[0], {"ALT": (55, "U/L", 7, 40)})
    for url in ("/", f"/visits/{visits[0].id}", "/results", "/contact", "/consents", "/calendar",
                "/static/portal.css"):  # fmt: skip
        assert len(gzip.compress(client.get(url).data)) < 60_000, url
