"""Staff-console fixtures: one account per role and site, a signed-in client, records at both sites."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import SYSTEM
from portal.models import Participant, StaffUser
from portal.staff_accounts import upsert_staff

PASSWORD = "demo-Passw0rd-2026!"
ACCOUNTS = {
    "admin": ("admin@test.example", "admin", ()),
    "coord_bj": ("coord.bj@test.example", "coordinator", ("BJ",)),
    "coord_sh": ("coord.sh@test.example", "coordinator", ("SH",)),
    "inv_bj": ("inv.bj@test.example", "investigator", ("BJ",)),
    "inv_sh": ("inv.sh@test.example", "investigator", ("SH",)),
}


@pytest.fixture(autouse=True)
def _forms_without_csrf(app: Flask) -> None:
    """Form posts in these tests skip the CSRF token; test_auth checks CSRF separately."""
    app.config["WTF_CSRF_ENABLED"] = False


@dataclass
class Team:
    users: dict[str, StaffUser]
    secrets: dict[str, str]


@pytest.fixture
def team(db: Session, study: object) -> Team:
    users, secrets = {}, {}
    for key, (email, role, sites) in ACCOUNTS.items():
        staff, _ = upsert_staff(db, email, key, role, sites, PASSWORD, SYSTEM)
        staff.preferred_locale = "en"  # assertions read English; test_i18n checks the Chinese console
        if role in ("admin", "investigator"):
            staff.totp_secret = pyotp.random_base32()
            staff.totp_enabled = True
            secrets[key] = staff.totp_secret
        users[key] = staff
    db.commit()
    return Team(users, secrets)


SignIn = Callable[[str], FlaskClient]


def fresh_code(db: Session, key: str, secret: str) -> str:
    """A code the portal has not accepted yet: a TOTP step is good once, so a second sign-in within
    30 seconds uses the next step (still inside the one-step drift window)."""
    totp = pyotp.TOTP(secret)
    step = totp.timecode(time.time())
    db.expire_all()
    last = db.scalar(select(StaffUser.totp_last_step).where(StaffUser.email == ACCOUNTS[key][0]))
    return totp.generate_otp(max(step, (last or 0) + 1))


@pytest.fixture
def sign_in(app: Flask, team: Team, db: Session) -> SignIn:
    """A fresh client signed in through the real forms (password, then authenticator code)."""

    def do(key: str) -> FlaskClient:
        client = app.test_client()
        email = ACCOUNTS[key][0]
        response = client.post("/staff/sign-in", data={"email": email, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        if key in team.secrets:
            assert response.headers["Location"].endswith("/staff/sign-in/code")
            code = fresh_code(db, key, team.secrets[key])
            response = client.post("/staff/sign-in/code", data={"code": code})
            assert response.status_code == 302
        assert "/staff/sign-in" not in response.headers["Location"]
        return client

    return do


@dataclass
class World:
    bj: Participant
    sh: Participant


@pytest.fixture
def world(make_participant: Callable[..., Participant]) -> World:
    return World(
        bj=make_participant(site="BJ", day0=date(2026, 12, 1), now=datetime(2026, 11, 25, tzinfo=UTC)),
        sh=make_participant(site="SH", day0=date(2026, 12, 1), now=datetime(2026, 11, 25, tzinfo=UTC)),
    )
