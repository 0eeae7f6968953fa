"""Study-team sign-in: password with lockout and back-off, TOTP second factor, recovery codes.

No Flask here: views call these functions and keep the half-signed-in state in the session.
Codes and passwords never reach the audit trail or the logs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
import segno
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import audit
from .audit import Actor
from .models import StaffRecoveryCode, StaffUser
from .passwords import hash_password, needs_rehash, password_problems, verify_password

FREE_ATTEMPTS = 5  # failures allowed before the first lock
FIRST_LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(hours=1)
TOTP_REQUIRED_ROLES = ("admin", "investigator")
RECOVERY_CODE_COUNT = 10
ISSUER = "Trial portal"
# Verifying against a real hash when the email is unknown keeps timing the same.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


class StaffAuthError(ValueError):
    """``code`` is a machine code the view translates."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


@dataclass(frozen=True)
class PasswordOutcome:
    status: str  # ok | needs_totp | needs_enrolment | invalid | locked
    staff: StaffUser | None = None
    locked_until: datetime | None = None


def lock_for(failed: int) -> timedelta | None:
    """Back-off: 1 min after the 5th failure, doubling with each further failure, at most 1 h."""
    if failed < FREE_ATTEMPTS:
        return None
    return min(FIRST_LOCK * (2 ** (failed - FREE_ATTEMPTS)), MAX_LOCK)


def totp_required(staff: StaffUser) -> bool:
    return staff.role in TOTP_REQUIRED_ROLES


def check_password(session: Session, email: str, password: str, actor: Actor, now: datetime) -> PasswordOutcome:
    """First step of sign-in. Unknown email, wrong password and locked account look alike to the caller
    except that 'locked' says until when (the user can do nothing else about it)."""
    email = email.strip().lower()
    staff = session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email))
    if staff is None or not staff.is_active:
        verify_password(_DUMMY_HASH, password)
        audit.record(session, actor, "staff.sign_in_failed", object_type="staff", after={"reason": "unknown"})
        return PasswordOutcome("invalid")
    staff_actor = Actor("staff", staff.id, staff.role, actor.request_id, actor.ip_address)
    if staff.locked_until is not None and staff.locked_until > now:
        audit.record(session, staff_actor, "staff.sign_in_failed", object_type="staff", object_id=staff.id,
                     after={"reason": "locked"})  # fmt: skip
        return PasswordOutcome("locked", staff, staff.locked_until)
    if not verify_password(staff.password_hash, password):
        staff.failed_logins += 1
        lock = lock_for(staff.failed_logins)
        staff.locked_until = now + lock if lock else None
        audit.record(session, staff_actor, "staff.sign_in_failed", object_type="staff", object_id=staff.id,
                     after={"reason": "password", "failed": staff.failed_logins,
                            "locked_until": staff.locked_until.isoformat() if staff.locked_until else None})
        if lock:
            return PasswordOutcome("locked", staff, staff.locked_until)
        return PasswordOutcome("invalid")
    if needs_rehash(staff.password_hash):
        staff.password_hash = hash_password(password)
    if staff.totp_enabled:
        return PasswordOutcome("needs_totp", staff)
    if totp_required(staff):
        return PasswordOutcome("needs_enrolment", staff)
    return PasswordOutcome("ok", staff)


def complete_sign_in(session: Session, staff: StaffUser, actor: Actor, now: datetime, method: str) -> None:
    staff.failed_logins = 0
    staff.locked_until = None
    staff.last_login_at = now
    audit.record(session, actor, "staff.sign_in", object_type="staff", object_id=staff.id, after={"method": method})


def record_sign_out(session: Session, staff: StaffUser, actor: Actor, reason: str = "") -> None:
    audit.record(session, actor, "staff.sign_out", object_type="staff", object_id=staff.id, reason=reason)


# --- second factor ---------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(staff: StaffUser, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=staff.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """An inline SVG QR code (no external service sees the secret)."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#1b1f24", light="#ffffff")


def matched_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is (now, one step before or after for clock drift), else None.

    pyotp's ``verify`` only says yes or no; the step is what replay protection needs. This mirrors
    ``verify(code, for_time=now, valid_window=1)`` (same timecode, same constant-time comparison);
    pyotp>=2.10's ``verify_and_get_timecode`` does the same but the declared range starts at 2.9.
    The newest matching step wins, so a rare collision never makes a fresh code look replayed.
    """
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current + 1, current, current - 1):
        if hmac.compare_digest(code, totp.generate_otp(step)):
            return step
    return None


def _accept_step(session: Session, staff: StaffUser, step: int) -> bool:
    """Record ``step`` as the last accepted one unless it is not newer than the one stored.

    A conditional UPDATE, so two requests racing with the same code cannot both succeed
    (PostgreSQL re-checks the WHERE after the first commits; SQLite serialises writers).
    """
    newer = or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step)
    result = session.execute(
        update(StaffUser).where(StaffUser.id == staff.id, newer).values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    set_committed_value(staff, "totp_last_step", step)
    return True


def _check_totp(session: Session, staff: StaffUser, secret: str, code: str, now: datetime) -> str:
    """'ok' (and the step is now used up), 'reused' for a code of an already used step, or 'bad'."""
    step = matched_step(secret, code, now)
    if step is None:
        return "bad"
    return "ok" if _accept_step(session, staff, step) else "reused"


def enable_totp(
    session: Session, staff: StaffUser, secret: str, code: str, actor: Actor, now: datetime
) -> list[str]:
    """Turn the second factor on once the user proves their app has the secret; returns recovery codes."""
    result = _check_totp(session, staff, secret, code, now)
    if result != "ok":
        if result == "reused":
            audit.record(session, actor, "staff.totp_enrol_failed", object_type="staff", object_id=staff.id,
                         after={"reason": "totp_reused"})  # fmt: skip
        raise StaffAuthError("reused" if result == "reused" else "bad_code")
    staff.totp_secret = secret
    staff.totp_enabled = True
    codes = _replace_recovery_codes(session, staff)
    audit.record(session, actor, "staff.totp_enrol", object_type="staff", object_id=staff.id)
    return codes


def verify_second_factor(session: Session, staff: StaffUser, code: str, actor: Actor, now: datetime) -> str:
    """'totp' or 'recovery' when the code is good; counts a failure (with lockout) otherwise.

    A replayed TOTP code counts as a failure too: whoever sends it already passed the password step.
    """
    if staff.locked_until is not None and staff.locked_until > now:
        raise StaffAuthError("locked")
    totp = _check_totp(session, staff, staff.totp_secret, code, now) if staff.totp_secret else "bad"
    if totp == "ok":
        return "totp"
    if totp == "bad" and _use_recovery_code(session, staff, code, now):
        audit.record(session, actor, "staff.recovery_code_used", object_type="staff", object_id=staff.id)
        return "recovery"
    reason = "totp_reused" if totp == "reused" else "second_factor"
    staff.failed_logins += 1
    lock = lock_for(staff.failed_logins)
    staff.locked_until = now + lock if lock else None
    audit.record(session, actor, "staff.sign_in_failed", object_type="staff", object_id=staff.id,
                 after={"reason": reason, "failed": staff.failed_logins})  # fmt: skip
    raise StaffAuthError("locked" if lock else "reused" if totp == "reused" else "bad_code")


def _hash_code(code: str) -> str:
    # Recovery codes carry 50 random bits, so a plain digest is enough (unlike passwords).
    return hashlib.sha256(code.strip().lower().replace("-", "").encode()).hexdigest()


def _replace_recovery_codes(session: Session, staff: StaffUser) -> list[str]:
    session.execute(
        update(StaffRecoveryCode)
        .where(StaffRecoveryCode.staff_id == staff.id, StaffRecoveryCode.used_at.is_(None))
        .values(used_at=datetime.now(UTC))
    )
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(StaffRecoveryCode(staff_id=staff.id, code_hash=_hash_code(raw)))
    session.flush()
    return codes


def _use_recovery_code(session: Session, staff: StaffUser, code: str, now: datetime) -> bool:
    if len(code.strip()) < 10:
        return False
    wanted = _hash_code(code)
    unused = session.scalars(
        select(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == staff.id, StaffRecoveryCode.used_at.is_(None))
    )
    for row in unused:
        if hmac.compare_digest(row.code_hash, wanted):
            row.used_at = now
            return True
    return False


def remaining_recovery_codes(session: Session, staff: StaffUser) -> int:
    return session.scalar(
        select(func.count()).where(StaffRecoveryCode.staff_id == staff.id, StaffRecoveryCode.used_at.is_(None))
    ) or 0


def new_recovery_codes(session: Session, staff: StaffUser, actor: Actor) -> list[str]:
    codes = _replace_recovery_codes(session, staff)
    audit.record(session, actor, "staff.recovery_codes_renewed", object_type="staff", object_id=staff.id)
    return codes


# --- passwords managed by people ---------------------------------------------------------------


def change_password(session: Session, staff: StaffUser, current: str, new: str, actor: Actor) -> None:
    if not verify_password(staff.password_hash, current):
        raise StaffAuthError("wrong_password")
    _set_password(staff, new)
    staff.must_change_password = False
    audit.record(session, actor, "staff.password_change", object_type="staff", object_id=staff.id)


def admin_reset_password(
    session: Session, staff: StaffUser, temporary: str, actor: Actor, *, reset_second_factor: bool = False
) -> None:
    """An admin sets a temporary password the user must change at next sign-in; clears the lock."""
    _set_password(staff, temporary)
    staff.must_change_password = True
    staff.failed_logins = 0
    staff.locked_until = None
    if reset_second_factor:
        staff.totp_enabled = False
        staff.totp_secret = None
        staff.totp_last_step = None  # the step belonged to the old secret
        _replace_recovery_codes(session, staff)
    audit.record(session, actor, "staff.password_reset", object_type="staff", object_id=staff.id,
                 after={"second_factor_reset": reset_second_factor})  # fmt: skip


def _set_password(staff: StaffUser, new: str) -> None:
    problems = password_problems(new, staff.email)
    if problems:
        raise StaffAuthError(problems[0])
    staff.password_hash = hash_password(new)
