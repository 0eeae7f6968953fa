"""Error pages: in the reader's language and the portal's layout, never Werkzeug's English page."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal import audit
from portal.audit import SYSTEM
from portal.extensions import db_session
from portal.models import AuditEvent, OutboxMessage

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


def test_an_unknown_address_shows_a_not_found_page_in_the_readers_language(client):
    zh = client.get("/no-such-page", headers=ZH)
    assert zh.status_code == 404
    page = zh.get_data(as_text=True)
    assert "找不到此页面" in page and "返回首页" in page and "如遇紧急情况，请拨打 120。" in page
    assert 'href="/"' in page and "中文" not in page and ">English<" in page  # the language switch
    assert zh.headers["Cache-Control"] == "no-store"
    en = client.get("/no-such-page", headers=EN).get_data(as_text=True)
    assert "Page not found" in en and "The link may be old or mistyped." in en


def test_a_form_sent_after_its_session_ended_says_what_to_do_and_changes_nothing(app, client, db):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/sign-in", data={"phone": "13900000001"}, headers=ZH)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "此页面已打开较长时间" in page and "本次提交未做任何更改" in page
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_staff_address_gets_the_console_layout(client):
    response = client.get("/staff/no-such-page", headers=EN)
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Page not found" in page and "Study team console" in page and 'href="/staff/"' in page
    assert "120" not in page  # the emergency line is for participants


def test_a_wrong_method_keeps_the_allow_header(client):
    response = client.get("/sign-out", headers=EN)
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert "This request could not be used" in response.get_data(as_text=True)


def test_provider_webhooks_keep_their_short_plain_answers(client):
    response = client.post("/webhooks/twilio/inbound", data={"From": "+8613900000001", "Body": "1"})
    assert response.status_code == 403
    assert "<main" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/webhooks/twilio/inbound", 405), ("GET", "/webhooks/no-such-hook", 404), ("POST", "/healthz", 405),
    ("POST", "/metrics", 405), ("GET", "/static/no-such-file.css", 404),
])  # fmt: skip
def test_machine_addresses_that_match_no_route_keep_plain_answers(client, method, path, status):
    response = client.open(path, method=method, headers=EN)
    assert response.status_code == status
    assert "<main" not in response.get_data(as_text=True) and "Set-Cookie" not in response.headers


def test_an_error_page_leaves_messages_waiting_for_the_next_page(client):
    with client.session_transaction() as sess:
        sess["_flashes"] = [("info", "Your reply was sent.")]
    assert client.get("/no-such-page", headers=EN).status_code == 404
    with client.session_transaction() as sess:
        assert sess.get("_flashes") == [("info", "Your reply was sent.")]


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    """The app with one route that saves a row, then fails: as a bug in a view would."""

    def save_then_fail() -> str:
        session = db_session()
        audit.record(session, SYSTEM, "test.half_done")
        session.flush()
        raise RuntimeError("a bug")

    app.add_url_rule("/test-failure", "save_then_fail", save_then_fail)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the error page, not the traceback
    return app


def test_a_failure_on_our_side_shows_a_calm_page_and_saves_nothing_half_done(failing_app, db):
    response = failing_app.test_client().get("/test-failure", headers=ZH)
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "系统出现问题" in page and "您之前保存的内容不受影响" in page and "a bug" not in page
    assert db.scalar(select(func.count()).where(AuditEvent.action == "test.half_done")) == 0


def test_when_even_the_error_page_fails_a_plain_page_in_both_languages_remains(failing_app, monkeypatch):
    def broken(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("template broken")

    monkeypatch.setattr("portal.errors.render_template", broken)
    response = failing_app.test_client().get("/test-failure")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "系统出现问题" in page and "Something went wrong on our side" in page
