"""The study team on a laptop-sized Chromium: a coordinator enrols a participant, schedules a visit,
records the baseline and its labs, sends a message (live preview and segment count); an investigator
signs in with an authenticator code and releases the panel, which then appears in the participant's portal."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from portal.audit import SYSTEM
from portal.models import AuditEvent, OutboxMessage, Participant, ResultPanel, Visit, VisitDefinition
from portal.staff_accounts import upsert_staff

from .conftest import screenshot

PASSWORD = "Browser-Test-Passw0rd-9"
LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture
def staff_team(live_server: Any) -> dict[str, str]:
    with live_server.session() as s:
        upsert_staff(s, "coord.browser@test.example", "Coordinator", "coordinator", ["BJ"], PASSWORD, SYSTEM)
        inv, _ = upsert_staff(s, "inv.browser@test.example", "Investigator", "investigator", ["BJ"], PASSWORD, SYSTEM)
        inv.totp_secret, inv.totp_enabled = pyotp.random_base32(), True
        s.commit()
        return {"inv_secret": inv.totp_secret}


@pytest.fixture
def laptop_page(browser: Any) -> Any:
    context = browser.new_context(viewport=LAPTOP, locale="zh-CN")
    context.set_default_timeout(15_000)
    yield context.new_page
    context.close()


def staff_sign_in(page: Any, base: str, email: str, code: str | None = None) -> None:
    page.goto(f"{base}/staff/")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    if code is not None:
        page.wait_for_url("**/staff/sign-in/code")
        page.fill("#code", code)
        page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/staff/worklist")


def visit_id(live_server: Any, participant_id: int, code: str) -> int:
    with live_server.session() as s:
        return s.scalar(select(Visit.id).join(VisitDefinition)
                        .where(Visit.participant_id == participant_id, VisitDefinition.code == code))  # fmt: skip


def test_coordinator_and_investigator_flow(live_server: Any, staff_team: dict[str, str], laptop_page: Any,
                                           browser_page: Any) -> None:  # fmt: skip
    base = live_server.url
    today = datetime.now(UTC).date()
    day0 = today - timedelta(days=3)
    page = laptop_page()

    # Coordinator: enrol.
    staff_sign_in(page, base, "coord.browser@test.example")
    page.goto(f"{base}/staff/participants/new")
    page.fill("#study_code", "BJ-7001")
    page.fill("#full_name", "浏览器流程")
    page.fill("#phone", "139 0000 7001")
    page.select_option("#arm", "ucmsc")
    page.select_option("#site", "BJ")
    page.fill("#day0", day0.isoformat())
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/staff/participants/\d+$"))
    participant_id = int(page.url.rsplit("/", 1)[1])
    assert "BJ-7001" in page.inner_text("h1")
    screenshot(page, "staff-01-participant")

    # Schedule week 4 inside its window, then record the baseline attended.
    w4 = visit_id(live_server, participant_id, "W4")
    page.goto(f"{base}/staff/visits/{w4}")
    page.select_option("#action", "schedule")
    page.fill("#day", (day0 + timedelta(days=28)).isoformat())
    page.fill("#at", "09:30")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"**/staff/visits/{w4}")
    assert page.locator(".flash-info").count() == 1
    bl = visit_id(live_server, participant_id, "BL")
    page.goto(f"{base}/staff/visits/{bl}")
    page.select_option("#action", "attended")
    page.fill("#day", day0.isoformat())
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"**/staff/visits/{bl}")

    # Labs for the baseline (bilirubin typed in mg/dL).
    page.goto(f"{base}/staff/visits/{bl}/results")
    for code, value in (("TBIL", "3.0"), ("CREA", "132.6"), ("INR", "2.0"), ("NA", "130"), ("ALB", "30"),
                        ("ALT", "56")):  # fmt: skip
        page.fill(f"#v_{code}", value)
    page.select_option("select[name=u_TBIL]", "mg/dL")
    page.select_option("#ascites", "2")
    page.select_option("#encephalopathy", "1")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/staff/results/\d+$"))
    panel_url = page.url
    assert page.inner_text("[data-testid=meld]") == "22"
    screenshot(page, "staff-02-panel")

    # A message, with the live preview and segment counter.
    page.goto(f"{base}/staff/participants/{participant_id}/messages")
    page.fill("#body", "请明天上午带上身份证。")
    page.wait_for_function("document.getElementById('segments').textContent === '1'")
    assert "身份证" in page.inner_text("#preview")
    page.locator("#send-form button[type=submit]").click()
    page.wait_for_url(f"**/staff/participants/{participant_id}/messages")
    assert "请明天上午带上身份证。" in page.inner_text("ol.conversation")
    screenshot(page, "staff-03-conversation")
    page.locator("header form button[type=submit]").last.click()  # sign out
    page.wait_for_url("**/staff/sign-in")

    # Investigator: authenticator code, release.
    staff_sign_in(page, base, "inv.browser@test.example", pyotp.TOTP(staff_team["inv_secret"]).now())
    page.goto(panel_url)
    page.locator("form[action$='/release'] button[type=submit]").click()
    page.wait_for_url(panel_url)
    assert page.locator(".badge.state-in_window").count() == 1
    screenshot(page, "staff-04-released")

    with live_server.session() as s:
        panel = s.scalar(select(ResultPanel).where(ResultPanel.participant_id == participant_id))
        assert panel.released_at is not None
        kinds = set(s.scalars(select(OutboxMessage.kind).where(OutboxMessage.participant_id == participant_id)))
        assert {"staff", "notification"} <= kinds
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.participant_id == participant_id)))
        assert {"participant.enrol", "visit.schedule", "visit.complete", "results.enter", "message.send",
                "results.release"} <= actions  # fmt: skip
        phone = s.get(Participant, participant_id).phone_e164

    # The participant sees the released result in the portal.
    patient = browser_page
    patient.goto(f"{base}/")
    local = phone.removeprefix("+86")
    patient.fill("#phone", local)
    patient.locator("main form button[type=submit]").first.click()
    patient.wait_for_url("**/sign-in/code")
    patient.fill("#code", live_server.last_sms_code(participant_id))
    patient.locator("form.card button[type=submit]").click()
    patient.wait_for_url(f"{base}/")
    patient.goto(f"{base}/results")
    assert patient.locator("a.rowlink").count() == 1
    patient.locator("a.rowlink").first.click()
    assert "56" in patient.inner_text("main")
    screenshot(patient, "staff-05-patient-result")
