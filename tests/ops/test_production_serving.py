"""A production start sends the security headers, secure cookies, compressed pages and
fingerprinted static files with long-lived caching."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from portal.config import load_settings
from portal.security import CONTENT_SECURITY_POLICY


@pytest.fixture
def production_app(database_url: str, tmp_path) -> Flask:  # type: ignore[no-untyped-def]
    settings = load_settings(
        environ={
            "PORTAL_ENV": "production",
            "SECRET_KEY": "a" * 20 + "production-secret-0123456789",
            "DATABASE_URL": database_url,
            "PUBLIC_BASE_URL": "https://portal.example.org",
            "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
        }
    )
    app = create_app(settings)
    yield app
    app.extensions["engine"].dispose()


def test_production_sends_the_security_headers(production_app: Flask) -> None:
    response = production_app.test_client().get("/healthz")
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"


def test_development_has_no_hsts(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert "Strict-Transport-Security" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_production_session_cookie_is_secure_httponly_lax(production_app: Flask) -> None:
    @production_app.get("/_set_session_for_test")
    def _set() -> str:
        from flask import session

        session["x"] = 1
        return "ok"

    response = production_app.test_client().get("/_set_session_for_test")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_csp_forbids_inline_code() -> None:
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY


def test_static_files_are_fingerprinted_and_cached_for_a_year(app: Flask) -> None:
    with app.test_request_context():
        from flask import url_for

        url = url_for("static", filename="portal.css")
    assert re.fullmatch(r"/static/portal\.[0-9a-f]{12}\.css", url), url
    client = app.test_client()
    response = client.get(url)
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"]
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert b"{" in response.get_data()
    stale = client.get("/static/portal.000000000000.css")
    assert stale.status_code == 200
    assert "immutable" not in stale.headers.get("Cache-Control", "")
    assert client.get("/static/nothing.000000000000.css").status_code == 404


def test_pages_are_compressed_when_the_browser_accepts_it(app: Flask) -> None:
    @app.get("/_long_page_for_test")
    def _long() -> str:
        return "<p>" + "参与者 visit list " * 200 + "</p>"

    client = app.test_client()
    gz = client.get("/_long_page_for_test", headers={"Accept-Encoding": "gzip"})
    assert gz.headers.get("Content-Encoding") == "gzip"
    br = client.get("/_long_page_for_test", headers={"Accept-Encoding": "br, gzip"})
    assert br.headers.get("Content-Encoding") == "br"
    plain = client.get("/_long_page_for_test")
    assert "Content-Encoding" not in plain.headers
    small = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers


def test_each_security_header_is_sent_once(production_app: Flask) -> None:
    page = production_app.test_client().get("/healthz").headers
    for name in ("Content-Security-Policy", "Strict-Transport-Security", "X-Content-Type-Options",
                 "Referrer-Policy", "X-Frame-Options", "Cache-Control"):  # fmt: skip
        assert len(page.getlist(name)) == 1, name
