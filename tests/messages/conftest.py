"""Fixtures for messages, enquiries and news: CSRF off for form posts (one test checks it), signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import OutboxMessage, Participant

CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
# 10:00 in Shanghai: outside quiet hours.
DAYTIME = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
# 23:00 in Shanghai: inside the default quiet hours (21:00–08:00).
NIGHT = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _forms_without_csrf(app: Flask) -> None:
    app.config["SIGN_IN_MIN_SECONDS"] = 0
    app.config["WTF_CSRF_ENABLED"] = False


ParticipantSignIn = Callable[..., FlaskClient]


@pytest.fixture
def participant_client(app: Flask, db: Session) -> ParticipantSignIn:
    """A fresh client signed in as the participant through the phone-code flow."""

    def do(participant: Participant) -> FlaskClient:
        client = app.test_client()
        response = client.post("/sign-in", data={"phone": participant.phone_e164})
        assert response.status_code == 302, response.get_data(as_text=True)[:400]
        db.expire_all()
        body = db.scalar(
            select(OutboxMessage.body)
            .where(OutboxMessage.participant_id == participant.id, OutboxMessage.kind == "sign_in_code")
            .order_by(OutboxMessage.id.desc())
        )
        match = CODE_RE.search(body or "")
        assert match, "no sign-in code was queued"
        response = client.post("/sign-in/code", data={"code": match.group(1)})
        assert response.status_code == 302 and "/sign-in" not in response.headers["Location"]
        return client

    return do
