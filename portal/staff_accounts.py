"""Creating and updating study-team accounts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit
from .audit import Actor
from .models import Site, StaffUser
from .passwords import hash_password, password_problems


class StaffAccountError(ValueError):
    pass


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
        raise StaffAccountError(f"unknown site code(s): {', '.join(sorted(unknown))}")
    if role != "admin" and not sites:
        raise StaffAccountError("coordinators and investigators need at least one --site")
    staff = session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email))
    created = staff is None
    if password is not None:
        problems = password_problems(password, email)
        if problems:
            raise StaffAccountError(f"password rejected: {', '.join(problems)}")
    if staff is None:
        if password is None:
            raise StaffAccountError("a new account needs a password")
        staff = StaffUser(email=email, password_hash="")
        session.add(staff)
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
