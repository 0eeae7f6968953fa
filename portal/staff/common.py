"""Helpers shared by the console's views: who is acting, their sites, the site-local day, idle timeout."""

from __future__ import annotations

import time as _time
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from .. import audit
from ..access import current_staff, here, touch_seen
from ..audit import Actor
from ..config import Settings
from ..errors import error_page
from ..extensions import db_session
from ..i18n import to_local
from ..id_urls import id_url
from ..models import StaffUser
from ..scoping import NotInScope, allowed_site_ids
from .blueprint import bp

SEEN_KEY = "staff_seen"
SIGNED_IN_KEY = "staff_signed_in"  # epoch seconds of this session's sign-in


def settings() -> Settings:
    return current_app.config["PORTAL_SETTINGS"]


def me() -> StaffUser:
    staff = current_staff()
    if staff is None:  # the decorators run first; this is a second lock on the door
        abort(403)
    return staff


def actor(staff: StaffUser | None = None) -> Actor:
    staff = staff or current_staff()
    return Actor(
        type="staff" if staff else "anonymous",
        id=staff.id if staff else None,
        role=staff.role if staff else "",
        request_id=getattr(g, "request_id", ""),
        ip_address=request.remote_addr or "",
    )


def site_ids() -> set[int]:
    return allowed_site_ids(db_session(), me())


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return to_local(now(), settings().default_timezone).date()


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths (never //host or backslashes): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def parse_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.errorhandler(NotInScope)
def not_in_scope(_exc: NotInScope) -> Response:
    return error_page(404)  # another site's record is indistinguishable from none


def _ended_by_deactivation() -> StaffUser | None:
    """The signed-in account, if it was deactivated (now, or after this session signed in)."""
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    if not isinstance(user, StaffUser):
        return None
    if not user.is_active:
        return user
    started = float(session.get(SIGNED_IN_KEY) or 0)
    if user.deactivated_at is not None and started < user.deactivated_at.timestamp():
        return user  # deactivated and reactivated since: the old session stays over
    return None


def _sign_out(staff: StaffUser, reason: str, message: str) -> None:
    """End the session the console's way: an audit row saying why, then the notice on the sign-in page."""
    audit.record(db_session(), actor(staff), "staff.sign_out", object_type="staff", object_id=staff.id,
                 reason=reason)  # fmt: skip
    db_session().commit()
    logout_user()
    session.clear()
    flash(message, "info")


def _end_deactivated_session() -> Response | None:
    staff = _ended_by_deactivation()
    if staff is None:
        return None
    _sign_out(staff, "account deactivated", _("You were signed out because this account has been deactivated."))
    return redirect(url_for("staff.sign_in"))


@bp.before_request
def idle_timeout() -> Response | None:
    """Shared ward computers: a staff session ends after STAFF_IDLE_MINUTES without a request,
    and at once when an admin deactivates the account."""
    ended = _end_deactivated_session()
    if ended is not None:
        return ended
    staff = current_staff()
    if staff is None:
        return None
    stamp = session.get(SEEN_KEY)
    limit = settings().staff_idle_minutes * 60
    if stamp is None or _time.time() - float(stamp) > limit:
        _sign_out(staff, "idle timeout", _("You were signed out after a period without activity."))
        return redirect(url_for("staff.sign_in", next=here() if request.method == "GET" else None))
    touch_seen(SEEN_KEY, _time.time())
    if staff.must_change_password and request.endpoint not in ("staff.change_password", "staff.sign_out"):
        return redirect(url_for("staff.change_password"))
    return None


@bp.after_request
def no_store(response: Response) -> Response:
    # Health data must not linger in a shared browser's cache.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _labels() -> _Labels:
    return _labels_for(str(get_locale()))


class _Labels(dict[str, str]):
    """Status words by code; an unknown code shows as itself. Templates index it (``labels[code]``)
    in table rows, which costs less than a call per cell."""

    def __missing__(self, code: str | None) -> str:
        return code or ""


@lru_cache(maxsize=8)
def _labels_for(locale: str) -> _Labels:
    """Built once per locale (``locale`` is the request's, which ``_`` uses): every console page needs them."""
    return _Labels({
        "admin": _("Admin"), "coordinator": _("Coordinator"), "investigator": _("Investigator"),
        "active": _("Active"), "withdrawn": _("Withdrawn"), "completed": _("Completed"), "deceased": _("Deceased"),
        "planned": _("Planned"), "scheduled": _("Scheduled"), "confirmed": _("Confirmed"), "missed": _("Missed"),
        "cancelled": _("Cancelled"), "upcoming": _("Due"), "in_window": _("In window"), "overdue": _("Overdue"),
        "pending": _("Pending"), "sending": _("Sending"), "unknown": _("Unknown"), "queued": _("Queued"),
        "sent": _("Sent"), "delivered": _("Delivered"), "undelivered": _("Undelivered"), "failed": _("Failed"),
        "received": _("Received"), "accepted": _("Accepted"), "declined": _("Declined"),
        "high": _("High"), "low": _("Low"), "normal": _("Normal"),
    })


@bp.context_processor
def console_globals() -> dict[str, Any]:
    labels = _labels()  # shared across requests: read only

    def label(code: str | None) -> str:
        return labels[code or ""]

    timezone = settings().default_timezone

    def local_dt(moment: datetime | None, zone: str | None = None) -> str:
        # A fixed numeric pattern, the same in every locale: strftime, not Babel's formatter.
        # Visit bookings pass their site's zone: an appointment reads in the site's wall-clock time.
        return to_local(moment, zone or timezone).strftime("%Y-%m-%d %H:%M") if moment else ""

    return {"staff_user": current_staff, "role_label": label, "status_label": label, "labels": labels,
            "local_dt": local_dt,
            "participant_url": id_url("staff.participant", "participant_id"),
            "visit_url": id_url("staff.visit", "visit_id"), "id_url": id_url}  # fmt: skip


def back(default_endpoint: str, **values: Any) -> Response:
    return redirect(safe_next(request.form.get("next")) or url_for(default_endpoint, **values))
