"""A participant on a phone-sized Chromium, in Chinese and in English: sign in with the SMS code,
see and confirm the next visit, download the .ics, open a consent form, view results with the
chart, switch language; axe-core finds no serious or critical problem on any patient page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .checks import check_page
from .conftest import screenshot

TEXT = {
    "zh": {"accept": "zh-CN", "lang": "zh-Hans", "next": "您的下一次随访", "confirm": "我会按时到",
           "thanks": "我们已记录您会按时到", "send": "获取验证码", "sign_in": "登录", "ics": "加入我的日历",
           "consents": "知情同意书", "read": "阅读", "results": "检查结果", "switch": "English",
           "chart": "丙氨酸氨基转移酶", "legal": "纸质知情同意书为正式法律文件"},
    "en": {"accept": "en-US", "lang": "en", "next": "Your next visit", "confirm": "I will come",
           "thanks": "We have noted that you will come", "send": "Send me a code", "sign_in": "Sign in",
           "ics": "Add to my calendar", "consents": "Consent", "read": "Read", "results": "Results",
           "switch": "中文", "chart": "ALT, a liver enzyme", "legal": "signed paper consent form is the legal record"},
}  # fmt: skip

def sign_in(page: Any, live_server: Any, who: str, axe_check: Any) -> None:
    t = TEXT[who.split("_")[0]]
    person = live_server.seed[who]
    page.goto(f"{live_server.url}/")
    assert "/sign-in" in page.url
    assert page.get_attribute("html", "lang") == t["lang"]
    check_page(page, axe_check, f"{who}-01-sign-in")
    local = person["phone"].removeprefix("+86")
    page.fill("#phone", f"{local[:3]} {local[3:7]} {local[7:]}")
    page.get_by_role("button", name=t["send"]).click()
    page.wait_for_url("**/sign-in/code")
    check_page(page, axe_check, f"{who}-02-code")
    page.fill("#code", live_server.last_sms_code(person["id"]))
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/")


def visit_every_page(page: Any, live_server: Any, axe_check: Any, prefix: str) -> None:
    base = live_server.url
    page.goto(f"{base}/")
    check_page(page, axe_check, f"{prefix}-home")
    visit_href = page.locator("section.next > p > a[href^='/visits/']").last.get_attribute("href")
    page.goto(base + visit_href)
    check_page(page, axe_check, f"{prefix}-visit")
    reschedule = page.locator("a[href$='/reschedule']")
    if reschedule.count():
        reschedule.first.click()
        check_page(page, axe_check, f"{prefix}-reschedule")
    for path, name in (("/results", "results"), ("/consents", "consents"), ("/contact", "contact"),
                       ("/calendar", "calendar"), ("/messages", "messages"), ("/news", "news")):  # fmt: skip
        page.goto(base + path)
        check_page(page, axe_check, f"{prefix}-{name}")
    page.goto(f"{base}/results")
    page.locator("a.rowlink").first.click()
    check_page(page, axe_check, f"{prefix}-result")
    page.goto(f"{base}/consents")
    page.locator("ul.list a.button").first.click()
    check_page(page, axe_check, f"{prefix}-consent")


@pytest.mark.parametrize("who", ["zh", "en"])
def test_participant_flow(live_server, browser_page_for, axe_check, who):
    t = TEXT[who]
    page = browser_page_for(t["accept"])
    sign_in(page, live_server, who, axe_check)

    # The next visit, confirmed with one tap.
    next_card = page.locator("section.next")
    assert t["next"] in next_card.inner_text()
    page.get_by_role("button", name=t["confirm"]).first.click()
    assert t["thanks"] in page.locator(".flash").inner_text()
    check_page(page, axe_check, f"{who}-03-confirmed")

    # The visit's .ics file.
    with page.expect_download() as download_info:
        page.locator("section.next").get_by_role("link", name=t["ics"]).click()
    ics = Path(download_info.value.path()).read_text(encoding="utf-8")
    assert "BEGIN:VEVENT" in ics and "TZID=Asia/Shanghai" in ics and "TRIGGER:-P1D" in ics

    # A consent form opens as a PDF.
    page.get_by_role("link", name=t["consents"], exact=True).click()
    assert t["legal"] in page.inner_text("main")
    page.locator("ul.list a.button").first.click()
    pdf_href = page.locator("a[href$='/file']").first.get_attribute("href")
    response = page.request.get(live_server.url + pdf_href)
    assert response.ok and response.headers["content-type"] == "application/pdf" and response.body()[:4] == b"%PDF"

    # Results with a chart and its data table.
    page.get_by_role("link", name=t["results"], exact=True).click()
    assert page.locator("svg.chart").count() >= 3 and page.locator("table.data").count() >= 3
    assert t["chart"] in page.inner_text("main")

    visit_every_page(page, live_server, axe_check, f"{who}-page")

    # Switch language: the page follows, and the choice is saved.
    page.goto(f"{live_server.url}/")
    page.get_by_role("button", name=t["switch"]).click()
    other = "en" if who == "zh" else "zh"
    assert page.get_attribute("html", "lang") == TEXT[other]["lang"]
    assert TEXT[other]["next"] in page.inner_text("main")
    visit_every_page(page, live_server, axe_check, f"{who}-switched")


def test_readable_at_200_percent_text(live_server, browser_page_for, axe_check):
    page = browser_page_for("zh-CN")
    sign_in(page, live_server, "zh_extra", axe_check)
    for path in ("/", "/results", "/contact"):
        page.goto(live_server.url + path)
        page.add_style_tag(content="html { font-size: 200% !important; }")
        screenshot(page, f"zh-200pct{path.replace('/', '-') or '-home'}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path


def test_withdrawn_participant_sees_the_site_phone(live_server, browser_page_for, axe_check):
    page = browser_page_for("zh-CN")
    person = live_server.seed["withdrawn"]
    page.goto(f"{live_server.url}/sign-in")
    page.fill("#phone", person["phone"])
    page.get_by_role("button", name=TEXT["zh"]["send"]).click()
    page.fill("#code", live_server.last_sms_code(person["id"]))
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url("**/closed")
    assert page.locator("a[href^='tel:']").count() == 1
    check_page(page, axe_check, "zh-closed")
    page.get_by_role("button", name="English").click()
    assert "the portal is closed for you" in page.inner_text("main")
    check_page(page, axe_check, "en-closed")


def test_works_with_javascript_off(live_server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False, locale="en-US")
    try:
        page = context.new_page()
        sign_in(page, live_server, "en_extra", lambda _page: [])
        assert "Your next visit" in page.inner_text("main")
    finally:
        context.close()
