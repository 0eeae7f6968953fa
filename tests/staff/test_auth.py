"""Staff sign-in: password rules, lockout with back-off, TOTP enrolment and codes, recovery codes,
safe `next`, idle timeout, CSRF, admin password reset."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import select

from portal.models import AuditEvent, StaffUser
from portal.staff_auth import lock_for

from .conftest import PASSWORD


def _events(db, action):
    return db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_coordinator_signs_in_with_password_and_lands_on_worklist(app, team, db):
    client = app.test_client()
    response = client.post("/staff/sign-in", data={"email": "Coord.BJ@test.example", "password": PASSWORD})
    assert response.headers["Location"].endswith("/staff/")
    assert client.get("/staff/worklist").status_code == 200
    assert len(_events(db, "staff.sign_in")) == 1


def test_wrong_password_is_refused_and_audited(app, team, db):
    client = app.test_client()
    response = client.post("/staff/sign-in", data={"email": "coord.bj@test.example", "password": "nope-nope-nope"})
    assert response.status_code == 200
    assert client.get("/staff/worklist").status_code == 302
    failed = _events(db, "staff.sign_in_failed")
    assert len(failed) == 1 and failed[0].after["reason"] == "password"
    assert "nope" not in str(failed[0].after)


def test_lockout_after_five_failures_even_with_the_right_password(app, team, db):
    client = app.test_client()
    for _ in range(5):
        client.post("/staff/sign-in", data={"email": "coord.bj@test.example", "password": "wrong-password-x"})
    response = client.post("/staff/sign-in", data={"email": "coord.bj@test.example", "password": PASSWORD})
    assert response.status_code == 200
    assert client.get("/staff/worklist").status_code == 302
    db.expire_all()
    staff = db.scalar(select(StaffUser).where(StaffUser.email == "coord.bj@test.example"))
    assert staff.locked_until is not None


def test_back_off_doubles_up_to_an_hour():
    assert lock_for(4) is None
    assert lock_for(5) == timedelta(minutes=1)
    assert lock_for(6) == timedelta(minutes=2)
    assert lock_for(20) == timedelta(hours=1)


def test_lock_expires(app, team, db):
    staff = team.users["coord_bj"]
    staff.failed_logins, staff.locked_until = 5, datetime.now(UTC) - timedelta(seconds=1)
    db.commit()
    client = app.test_client()
    response = client.post("/staff/sign-in", data={"email": staff.email, "password": PASSWORD})
    assert response.status_code == 302


def test_investigator_needs_the_authenticator_code(app, team, db):
    client = app.test_client()
    response = client.post("/staff/sign-in", data={"email": "inv.bj@test.example", "password": PASSWORD})
    assert response.headers["Location"].endswith("/staff/sign-in/code")
    assert client.get("/staff/worklist").status_code == 302  # not signed in yet
    assert client.post("/staff/sign-in/code", data={"code": "000000"}).status_code == 200
    code = pyotp.TOTP(team.secrets["inv_bj"]).now()
    assert client.post("/staff/sign-in/code", data={"code": code}).status_code == 302
    assert client.get("/staff/worklist").status_code == 200


def test_admin_without_authenticator_must_enrol_first_and_gets_recovery_codes(app, team, db):
    admin = team.users["admin"]
    admin.totp_enabled, admin.totp_secret = False, None
    db.commit()
    client = app.test_client()
    response = client.post("/staff/sign-in", data={"email": admin.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/staff/sign-in/authenticator")
    page = client.get("/staff/sign-in/authenticator").get_data(as_text=True)
    assert "<svg" in page
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert client.get("/staff/admin/audit").status_code == 302
    response = client.post("/staff/sign-in/authenticator", data={"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", response.get_data(as_text=True))
    assert len(codes) == 10
    assert client.get("/staff/admin/audit").status_code == 200
    # Next time: password, then a recovery code works once.
    client.post("/staff/sign-out")
    for expected in (302, 200):
        client.post("/staff/sign-in", data={"email": admin.email, "password": PASSWORD})
        response = client.post("/staff/sign-in/code", data={"code": codes[0]})
        assert response.status_code == expected
        client.post("/staff/sign-out")
    assert _events(db, "staff.totp_enrol") and _events(db, "staff.recovery_code_used")


def test_coordinator_may_turn_the_authenticator_on(sign_in, team, db):
    client = sign_in("coord_bj")
    page = client.get("/staff/sign-in/authenticator").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    client.post("/staff/sign-in/authenticator", data={"code": pyotp.TOTP(secret).now()})
    db.expire_all()
    assert db.get(StaffUser, team.users["coord_bj"].id).totp_enabled


def test_next_only_redirects_inside_the_site(app, team):
    for target, expected in [("/staff/participants?q=BJ", "/staff/participants?q=BJ"),
                             ("https://evil.example/", "/staff/"), ("//evil.example/x", "/staff/"),
                             ("/\\evil.example", "/staff/")]:  # fmt: skip
        client = app.test_client()
        response = client.post("/staff/sign-in", data={"email": "coord.bj@test.example", "password": PASSWORD,
                                                       "next": target})  # fmt: skip
        assert response.headers["Location"] == expected


def test_idle_session_is_signed_out(app, sign_in, settings, db):
    client = sign_in("coord_bj")
    assert client.get("/staff/worklist").status_code == 200
    with client.session_transaction() as sess:
        sess["staff_seen"] = time.time() - settings.staff_idle_minutes * 60 - 5
    response = client.get("/staff/worklist")
    assert response.status_code == 302 and "/staff/sign-in" in response.headers["Location"]
    assert client.get("/staff/worklist").status_code == 302
    assert any(e.reason == "idle timeout" for e in _events(db, "staff.sign_out"))


def test_sign_out_ends_the_session(sign_in, db):
    client = sign_in("coord_bj")
    client.post("/staff/sign-out")
    assert client.get("/staff/worklist").status_code == 302
    assert _events(db, "staff.sign_out")


def test_csrf_token_is_required(app, team):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    response = client.post("/staff/sign-in", data={"email": "coord.bj@test.example", "password": PASSWORD})
    assert response.status_code == 400


def test_admin_resets_a_password_which_must_then_be_changed(app, sign_in, team, db):
    admin = sign_in("admin")
    target = team.users["coord_bj"]
    assert admin.post(f"/staff/admin/staff/{target.id}/reset", data={"password": "short"}).status_code == 302
    db.expire_all()
    assert not db.get(StaffUser, target.id).must_change_password  # refused: too short
    admin.post(f"/staff/admin/staff/{target.id}/reset", data={"password": "Temporary-Lantern-42"})
    client = app.test_client()
    response = client.post("/staff/sign-in", data={"email": target.email, "password": "Temporary-Lantern-42"})
    assert response.headers["Location"].endswith("/staff/account/password")
    assert client.get("/staff/worklist").headers["Location"].endswith("/staff/account/password")
    client.post("/staff/account/password", data={"current": "Temporary-Lantern-42", "new": "Another-Good-Phrase-7"})
    assert client.get("/staff/worklist").status_code == 200
    assert _events(db, "staff.password_reset") and _events(db, "staff.password_change")
