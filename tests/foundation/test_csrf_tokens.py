"""A session's forms carry one signed CSRF token, signed once (portal/csrf_tokens.py): every
page of the session shows the same token, it is accepted, and a token of another session is not."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _token(client: FlaskClient) -> str:
    page = client.get("/study")
    assert page.status_code == 200
    tokens = set(TOKEN_RE.findall(page.get_data(as_text=True)))
    assert len(tokens) == 1
    return tokens.pop()


def _switch_language(client: FlaskClient, token: str) -> int:
    return client.post("/language", data={"locale": "en", "csrf_token": token, "next": "/study"}).status_code


@pytest.fixture
def csrf_app(app: Flask, study: object) -> Flask:
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def test_every_page_of_a_session_shows_the_same_token_and_it_is_accepted(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    start = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    tokens = []
    for seconds in (0, 5, 65):  # a token signed afresh would carry each page's time
        with time_machine.travel(start + timedelta(seconds=seconds), tick=False):
            tokens.append(_token(client))
    assert tokens[1] == tokens[2]
    assert all(_switch_language(client, token) == 302 for token in tokens)


def test_a_token_from_another_session_is_refused(csrf_app: Flask) -> None:
    mine, theirs = csrf_app.test_client(), csrf_app.test_client()
    _token(mine)
    assert _switch_language(mine, _token(theirs)) == 400
    assert _switch_language(mine, "forged") == 400


def test_tokens_with_a_time_limit_are_never_cached() -> None:
    """A token signed earlier is only as good as a new one when tokens do not expire on their own."""
    from portal import csrf_tokens

    app = Flask(__name__)
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    with pytest.raises(RuntimeError, match="time limit"):
        csrf_tokens.install(app)
