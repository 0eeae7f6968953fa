"""Admins deactivate and reactivate study-team accounts: audited, never themselves, never the last admin;
a deactivated account cannot sign in and its open sessions end at their next request."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import SYSTEM, Actor
from portal.models import AuditEvent, StaffUser
from portal.staff_accounts import StaffStatusError, deactivate_staff, upsert_staff

from .conftest import PASSWORD


def _events(db, action):
    return db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def _deactivate(client, staff_id, reason="Left the study team"):
    return client.post(f"/staff/admin/staff/{staff_id}/deactivate", data={"reason": reason}, follow_redirects=True)


def _active(db, staff_id):
    db.expire_all()
    return db.get(StaffUser, staff_id).is_active


def test_deactivated_account_cannot_sign_in_and_its_session_ends(app, sign_in, team, db):
    coord = team.users["coord_bj"]
    session_before = sign_in("coord_bj")
    assert session_before.get("/staff/worklist").status_code == 200
    page = _deactivate(sign_in("admin"), coord.id).get_data(as_text=True)
    assert f"{coord.email} is deactivated and can no longer sign in." in page
    assert not _active(db, coord.id)

    response = session_before.get("/staff/worklist")
    assert response.status_code == 302 and "/staff/sign-in" in response.headers["Location"]
    assert any(e.reason == "account deactivated" for e in _events(db, "staff.sign_out"))
    fresh = app.test_client()
    fresh.post("/staff/sign-in", data={"email": coord.email, "password": PASSWORD})
    assert fresh.get("/staff/worklist").status_code == 302

    event = _events(db, "staff.deactivate")[-1]
    assert event.object_id == str(coord.id) and event.reason == "Left the study team"
    assert event.before == {"is_active": True} and event.after["is_active"] is False
    assert event.actor_id == team.users["admin"].id


def test_reactivated_account_signs_in_again_but_old_sessions_stay_ended(app, sign_in, team, db):
    coord = team.users["coord_bj"]
    old_session = sign_in("coord_bj")
    admin = sign_in("admin")
    _deactivate(admin, coord.id)
    page = admin.post(f"/staff/admin/staff/{coord.id}/reactivate", data={"reason": "Back from leave"},
                      follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert f"{coord.email} can sign in again." in page
    assert _active(db, coord.id)
    assert old_session.get("/staff/worklist").status_code == 302  # signed in before the deactivation
    assert sign_in("coord_bj").get("/staff/worklist").status_code == 200
    event = _events(db, "staff.reactivate")[-1]
    assert (event.before, event.after, event.reason) == ({"is_active": False}, {"is_active": True}, "Back from leave")


def test_deactivation_needs_a_reason(sign_in, team, db):
    page = _deactivate(sign_in("admin"), team.users["coord_sh"].id, reason="  ").get_data(as_text=True)
    assert "Please give the reason for deactivating the account." in page
    assert _active(db, team.users["coord_sh"].id) and not _events(db, "staff.deactivate")


def test_an_admin_cannot_deactivate_themselves(sign_in, team, db):
    upsert_staff(db, "second.admin@test.example", "Second admin", "admin", (), PASSWORD, SYSTEM)
    db.commit()
    admin = sign_in("admin")
    page = _deactivate(admin, team.users["admin"].id).get_data(as_text=True)
    assert "You cannot deactivate your own account." in page
    assert _active(db, team.users["admin"].id) and not _events(db, "staff.deactivate")
    assert admin.get("/staff/admin/staff").status_code == 200


def test_the_last_active_admin_cannot_be_deactivated(sign_in, team, db):
    other, _ = upsert_staff(db, "second.admin@test.example", "Second admin", "admin", (), PASSWORD, SYSTEM)
    db.commit()
    assert "is deactivated" in _deactivate(sign_in("admin"), other.id).get_data(as_text=True)  # two admins: fine
    assert not _active(db, other.id)
    # Through the console an admin is always one of the active admins, so the last one can only be
    # reached by another road (the CLI, or a race: see the PostgreSQL test below).
    with pytest.raises(StaffStatusError) as refused:
        deactivate_staff(db, db.get(StaffUser, team.users["admin"].id), "retiring", SYSTEM, datetime.now(UTC))
    assert refused.value.code == "last_admin"
    db.rollback()
    assert _active(db, team.users["admin"].id)
    # A coordinator is never "the last admin".
    deactivate_staff(db, db.get(StaffUser, team.users["coord_sh"].id), "left", SYSTEM, datetime.now(UTC))


@pytest.mark.postgres
def test_two_admins_deactivating_each_other_at_once_leave_one_active(db, team):
    a = team.users["admin"]
    b, _ = upsert_staff(db, "second.admin@test.example", "Second admin", "admin", (), PASSWORD, SYSTEM)
    db.commit()
    a_id, b_id = a.id, b.id
    first, second = Session(db.get_bind()), Session(db.get_bind())
    deactivate_staff(first, first.get(StaffUser, b_id), "x", Actor("staff", a_id, "admin"), datetime.now(UTC))
    outcome: list[str] = []

    def other_side() -> None:  # blocks on the admins' row locks until `first` commits
        try:
            deactivate_staff(second, second.get(StaffUser, a_id), "y", Actor("staff", b_id, "admin"),
                             datetime.now(UTC))  # fmt: skip
            outcome.append("deactivated")
        except StaffStatusError as exc:
            outcome.append(exc.code)
        second.rollback()

    thread = threading.Thread(target=other_side)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive(), "the second deactivation should wait for the first"
    first.commit()
    thread.join(10)
    first.close()
    second.close()
    assert outcome == ["last_admin"]
    assert _active(db, a_id) and not _active(db, b_id)


def test_refusals_in_chinese(sign_in, team, db):
    team.users["admin"].preferred_locale = "zh_Hans_CN"
    db.commit()
    page = _deactivate(sign_in("admin"), team.users["admin"].id).get_data(as_text=True)
    assert "您不能停用自己的账户。" in page
    page = sign_in("admin").get("/staff/admin/staff").get_data(as_text=True)
    assert "停用" in page and "Deactivate" not in page


@pytest.mark.parametrize(
    ("locale", "form", "expected", "english_only"),
    [
        ("zh_Hans_CN", {"sites": "XX"}, "未知的中心代码：XX。", "unknown site code"),
        ("zh_Hans_CN", {"sites": "", "role": "coordinator"}, "研究协调员和研究者至少需要一个研究中心。", "--site"),
        ("zh_Hans_CN", {"password": "short"}, "密码至少需要 12 个字符", "password rejected"),
        ("en", {"sites": "XX"}, "Unknown site code: XX.", "unknown site code(s)"),
    ],
)
def test_account_form_errors_in_the_admins_language(sign_in, team, db, locale, form, expected, english_only):
    team.users["admin"].preferred_locale = locale
    db.commit()
    admin = sign_in("admin")
    data = {"email": "new.person@example.org", "full_name": "New Person", "role": "coordinator", "sites": "BJ",
            "password": "a-Long-enough-Passw0rd", **form}  # fmt: skip
    page = admin.post("/staff/admin/staff", data=data).get_data(as_text=True)
    assert expected in page and english_only not in page
    assert 'value="New Person"' in page  # what was typed is still there
    assert db.scalar(select(StaffUser).where(StaffUser.email == "new.person@example.org")) is None
