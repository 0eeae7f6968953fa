"""Creating and updating study-team accounts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit
from .audit import Actor
from .models import Site, StaffUser
from .passwords import hash_password, password_problems


class StaffAccountError(ValueError):
    """``code`` says what is wrong, for the console to put in the user's language; the message
    (English, for the command line) and ``details`` (site codes or password problem codes) say more.

    Codes: unknown_sites, site_required, password_rejected, password_required, last_admin.
    """

    def __init__(self, code: str, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.details = tuple(details)


def upsert_staff(
    session: Session,
    email: str,
    full_name: str,
    role: str,
    site_codes: Sequence[str],
    password: str | None,
    actor: Actor,
) -> tuple[StaffUser, bool]:
    email = email.strip().lower()
    sites = list(session.scalars(select(Site).where(Site.code.in_(site_codes)))) if site_codes else []
    unknown = set(site_codes) - {s.code for s in sites}
    if unknown:
        raise StaffAccountError("unknown_sites", f"unknown site code(s): {', '.join(sorted(unknown))}",
                                sorted(unknown))  # fmt: skip
    if role != "admin" and not sites:
        raise StaffAccountError("site_required", "coordinators and investigators need at least one --site")
    staff = session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email))
    created = staff is None
    if password is not None:
        problems = password_problems(password, email)
        if problems:
            raise StaffAccountError("password_rejected", f"password rejected: {', '.join(problems)}", problems)
    if staff is None:
        if password is None:
            raise StaffAccountError("password_required", "a new account needs a password")
        staff = StaffUser(email=email, password_hash="")
        session.add(staff)
    if not created and staff.role == "admin" and role != "admin" and staff.is_active \
            and _other_active_admins(session, staff) == 0:
        raise StaffAccountError("last_admin", "the last active admin must stay an admin: make another admin first")
    before = {"role": staff.role, "full_name": staff.full_name}
    staff.full_name = full_name
    staff.role = role
    staff.sites = sites
    if password is not None:
        staff.password_hash = hash_password(password)
    session.flush()
    audit.record(
        session, actor, "staff.create" if created else "staff.update", object_type="staff",
        object_id=staff.id, before=None if created else before,
        after={"role": role, "full_name": full_name, "sites": ",".join(s.code for s in sites)},
    )  # fmt: skip
    return staff, created


# --- deactivation ------------------------------------------------------------------------------

REASON_MAX = 500


class StaffStatusError(StaffAccountError):
    """``code`` is a machine code the view translates: self | last_admin | reason_required | unchanged."""

    def __init__(self, code: str) -> None:
        super().__init__(code, code)


def _other_active_admins(session: Session, staff: StaffUser) -> int:
    # FOR UPDATE (PostgreSQL) locks the active admins' rows: two admins deactivating each other at
    # once are serialised, and the second sees the first's change and is refused.
    rows = session.scalars(
        select(StaffUser.id).where(StaffUser.role == "admin", StaffUser.is_active.is_(True)).with_for_update()
    ).all()
    return len([i for i in rows if i != staff.id])


def deactivate_staff(
    session: Session, staff: StaffUser, reason: str, actor: Actor, now: datetime
) -> None:
    """The account can no longer sign in; its open sessions end at their next request (see the console)."""
    reason = reason.strip()
    if not reason:
        raise StaffStatusError("reason_required")
    if actor.id == staff.id:
        raise StaffStatusError("self")
    if not staff.is_active:
        raise StaffStatusError("unchanged")
    if staff.role == "admin" and _other_active_admins(session, staff) == 0:
        raise StaffStatusError("last_admin")
    staff.is_active = False
    staff.deactivated_at = now
    session.flush()
    audit.record(session, actor, "staff.deactivate", object_type="staff", object_id=staff.id,
                 before={"is_active": True}, after={"is_active": False, "deactivated_at": now.isoformat()},
                 reason=reason[:REASON_MAX])  # fmt: skip


def reactivate_staff(session: Session, staff: StaffUser, reason: str, actor: Actor) -> None:
    """The account may sign in again (sessions from before the deactivation stay ended)."""
    if staff.is_active:
        raise StaffStatusError("unchanged")
    staff.is_active = True
    session.flush()
    audit.record(session, actor, "staff.reactivate", object_type="staff", object_id=staff.id,
                 before={"is_active": False}, after={"is_active": True},
                 reason=reason.strip()[:REASON_MAX])  # fmt: skip
