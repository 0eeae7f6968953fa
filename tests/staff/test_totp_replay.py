"""A TOTP code works once: the same code again (within its 30-second window) is refused, the next one works."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pyotp
import pytest
from sqlalchemy import select

from portal import staff_auth
from portal.audit import SYSTEM
from portal.models import AuditEvent, StaffUser

from .conftest import PASSWORD

REUSED_EN = "That code has already been used. Wait for the next code in your app and enter that one."
REUSED_ZH = "该验证码已使用过"


def _failures(db, reason):
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "staff.sign_in_failed")).all()
    return [e for e in events if e.after["reason"] == reason]


def _password_step(app, email, language="en"):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language  # not signed in yet: the browser's language
    response = client.post("/staff/sign-in", data={"email": email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/staff/sign-in/code")
    return client


def _next_code(secret: str) -> str:
    # The following 30-second step: accepted (one step of clock drift) and newer than any used so far.
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_the_same_code_twice_is_refused_and_the_next_code_works(app, team, db):
    secret, email = team.secrets["inv_bj"], team.users["inv_bj"].email
    code = pyotp.TOTP(secret).now()
    first = _password_step(app, email)
    assert first.post("/staff/sign-in/code", data={"code": code}).status_code == 302

    second = _password_step(app, email)
    response = second.post("/staff/sign-in/code", data={"code": code})
    assert response.status_code == 200 and REUSED_EN in response.get_data(as_text=True)
    assert second.get("/staff/worklist").status_code == 302  # not signed in
    refused = _failures(db, "totp_reused")
    assert len(refused) == 1 and refused[0].object_id == str(team.users["inv_bj"].id)
    assert code not in str(refused[0].after)

    assert second.post("/staff/sign-in/code", data={"code": _next_code(secret)}).status_code == 302
    assert second.get("/staff/worklist").status_code == 200


def test_the_refusal_is_said_in_chinese(app, team, db):
    secret, email = team.secrets["admin"], team.users["admin"].email
    code = pyotp.TOTP(secret).now()
    _password_step(app, email).post("/staff/sign-in/code", data={"code": code})
    client = _password_step(app, email, "zh-CN")
    page = client.post("/staff/sign-in/code", data={"code": code})
    text = page.get_data(as_text=True)
    assert REUSED_ZH in text and REUSED_EN not in text


def test_a_replayed_code_counts_towards_the_lockout(app, team, db):
    secret, email = team.secrets["inv_bj"], team.users["inv_bj"].email
    code = pyotp.TOTP(secret).now()
    _password_step(app, email).post("/staff/sign-in/code", data={"code": code})
    client = _password_step(app, email)
    for _ in range(5):
        client.post("/staff/sign-in/code", data={"code": code})
    db.expire_all()
    assert db.get(StaffUser, team.users["inv_bj"].id).locked_until is not None
    assert len(_failures(db, "totp_reused")) == 5


def test_the_code_that_confirmed_enrolment_cannot_sign_in(app, sign_in, team, db):
    client = sign_in("coord_bj")
    page = client.get("/staff/sign-in/authenticator").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    code = pyotp.TOTP(secret).now()
    client.post("/staff/sign-in/authenticator", data={"code": code})
    client.post("/staff/sign-out")
    db.expire_all()
    assert db.get(StaffUser, team.users["coord_bj"].id).totp_enabled

    again = _password_step(app, team.users["coord_bj"].email)
    response = again.post("/staff/sign-in/code", data={"code": code})
    assert response.status_code == 200 and REUSED_EN in response.get_data(as_text=True)
    assert again.post("/staff/sign-in/code", data={"code": _next_code(secret)}).status_code == 302


def test_admin_reset_of_the_authenticator_forgets_the_old_step(sign_in, team, db):
    target = team.users["inv_bj"]
    target.totp_last_step = 10**9
    db.commit()
    sign_in("admin").post(f"/staff/admin/staff/{target.id}/reset",
                          data={"password": "Temporary-Lantern-42", "reset_second_factor": "y"})  # fmt: skip
    db.expire_all()
    assert db.get(StaffUser, target.id).totp_last_step is None


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_domain_refuses_a_used_step_at_enrolment_and_sign_in(db, team, backend):
    assert db.get_bind().dialect.name == backend
    staff = team.users["coord_bj"]
    secret, moment = pyotp.random_base32(), datetime(2026, 12, 1, 1, 0, 10, tzinfo=UTC)
    code = pyotp.TOTP(secret).at(moment)
    staff_auth.enable_totp(db, staff, secret, code, SYSTEM, moment)
    step = staff.totp_last_step
    assert step == pyotp.TOTP(secret).timecode(moment)
    with pytest.raises(staff_auth.StaffAuthError) as refused:  # a second confirmation racing the first
        staff_auth.enable_totp(db, staff, secret, code, SYSTEM, moment)
    assert refused.value.code == "reused"
    assert db.scalars(select(AuditEvent).where(AuditEvent.action == "staff.totp_enrol_failed")).one().after == {
        "reason": "totp_reused"}  # fmt: skip
    with pytest.raises(staff_auth.StaffAuthError) as refused:  # same step, 20 s later
        staff_auth.verify_second_factor(db, staff, code, SYSTEM, moment.replace(second=29))
    assert refused.value.code == "reused"
    # The previous step's code is still inside the drift window but older than the used step.
    older = pyotp.TOTP(secret).at(moment, counter_offset=-1)
    with pytest.raises(staff_auth.StaffAuthError):
        staff_auth.verify_second_factor(db, staff, older, SYSTEM, moment)
    newer = pyotp.TOTP(secret).at(moment, counter_offset=1)
    assert staff_auth.verify_second_factor(db, staff, newer, SYSTEM, moment) == "totp"
    db.commit()
    db.expire_all()
    assert db.get(StaffUser, staff.id).totp_last_step == step + 1


def test_matched_step_follows_pyotps_window():
    secret, moment = pyotp.random_base32(), datetime(2026, 12, 1, 1, 0, 10, tzinfo=UTC)
    totp = pyotp.TOTP(secret)
    current = totp.timecode(moment)
    for offset in (-1, 0, 1):
        code = totp.at(moment, counter_offset=offset)
        assert staff_auth.matched_step(secret, code, moment) == current + offset
        assert totp.verify(code, for_time=moment, valid_window=1)
    far = totp.at(moment, counter_offset=2)
    assert staff_auth.matched_step(secret, far, moment) is None
    assert staff_auth.matched_step(secret, "12a456", moment) is None
