"""The benchmark's signed-in sessions behave like a real browser's after sign-in: opening a
page with one sets no new cookie (a session that did would make the portal mint and sign a
CSRF token on every request of the run, a cost no real user causes)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from bench.pages import COOKIE, PAGES, USER_AGENT, targets

from ..conftest import ParticipantFactory


def test_every_minted_session_is_used_as_is(app: Flask, db: Session, make_participant: ParticipantFactory) -> None:
    people = [make_participant() for _ in range(3)]
    found = targets(app, db, PAGES[0], people, [])
    assert len(found) == 3
    for target in found:
        client = app.test_client()
        client.set_cookie(COOKIE, target.cookie)
        response = client.get(target.path, headers={"User-Agent": USER_AGENT})
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers, target.path
