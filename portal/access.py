"""Who is signed in, and the decorators that keep each audience to its own pages.

Ownership of a record is checked in the query that loads it (see the blueprints), never by
trusting an id from the URL; these decorators only decide whether anyone may be here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import abort, redirect, request, session, url_for
from flask_login import current_user

from .models import StaffUser
from .patient_chrome import SignedInParticipant

P = ParamSpec("P")
R = TypeVar("R")


def here() -> str:
    """This page's path (and query, if any) to come back to after signing in."""
    return request.full_path if request.query_string else request.path


# The idle stamp moves forward at most this often: an unchanged session is neither re-signed nor
# sent back as a new cookie on every page. Sessions may so end up to this much before the limit.
SEEN_REFRESH_SECONDS = 30


def touch_seen(key: str, now: float) -> None:
    """Record activity for the idle timeout under ``key`` (epoch seconds)."""
    last = session.get(key)
    if not isinstance(last, int | float) or now - float(last) >= SEEN_REFRESH_SECONDS:
        session[key] = int(now)


def current_participant() -> SignedInParticipant | None:
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    return user if isinstance(user, SignedInParticipant) else None


def current_staff() -> StaffUser | None:
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    return user if isinstance(user, StaffUser) and user.is_active else None


def participant_required(view: Callable[P, R]) -> Callable[P, R]:
    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        if current_participant() is None:
            return redirect(url_for("patient.sign_in", next=here()))  # type: ignore[return-value]
        return view(*args, **kwargs)

    return wrapped


def staff_required(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Signed-in staff, optionally limited to roles; others get sign-in or 403."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            staff = current_staff()
            if staff is None:
                return redirect(url_for("staff.sign_in", next=here()))  # type: ignore[return-value]
            if roles and staff.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
