"""Fixtures for the reminder service: the loopback Twilio, a live portal for its callbacks,
and helpers that book visits."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from datetime import time

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from portal.audit import SYSTEM
from portal.models import Participant, Visit
from portal.schedule import schedule_visit
from tests.reminders.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, FakeServer, FakeTwilio

FROM_NUMBER = "+15005550006"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fake_twilio() -> Iterator[FakeServer]:
    server = FakeServer(FakeTwilio()).start()
    yield server
    server.stop()


@pytest.fixture
def portal_port() -> int:
    return free_port()


def twilio_overrides(fake: FakeServer, portal_port: int, **extra: object) -> dict[str, object]:
    values: dict[str, object] = {
        "sms_backend": "twilio",
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_from_number": FROM_NUMBER,
        "twilio_api_base": fake.base_url,
        "twilio_timeout_seconds": 1.0,
        "public_base_url": f"http://127.0.0.1:{portal_port}",
    }
    values.update(extra)
    return values


@pytest.fixture
def live_portal(app: Flask, portal_port: int) -> Iterator[str]:
    """The portal served over HTTP on loopback, so the fake Twilio can post its callbacks."""
    server = make_server("127.0.0.1", portal_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{portal_port}"
    server.shutdown()


BookVisits = Callable[..., list[Visit]]


@pytest.fixture
def book_visits(db: Session) -> BookVisits:
    """Book visits of a participant on their target dates (site-local ``at``), like the team would."""

    def book(participant: Participant, *, at: time = time(9, 0), codes: tuple[str, ...] = (),
             infusion_at: time | None = None) -> list[Visit]:  # fmt: skip
        visits = db.scalars(
            select(Visit).where(Visit.participant_id == participant.id).order_by(Visit.target_date)
        ).all()
        booked = []
        for visit in visits:
            if codes and visit.definition.code not in codes:
                continue
            when = infusion_at if (infusion_at and visit.is_infusion) else at
            schedule_visit(db, visit, visit.target_date, when, SYSTEM)
            booked.append(visit)
        db.commit()
        return booked

    return book
