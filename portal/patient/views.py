"""Participant views (thin: parse, call one domain function, commit, render)."""

from __future__ import annotations

from flask import redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from .. import reminders
from ..access import current_participant, current_staff
from ..config import SUPPORTED_LOCALES
from ..extensions import db_session
from ..i18n import normalize_locale
from . import bp


@bp.get("/")
def home() -> str:
    return render_template("patient/home.html")


@bp.post("/language")
def set_language() -> Response:
    """Switch language; a signed-in participant's choice is saved (their SMS follow it)."""
    locale = normalize_locale(request.form.get("locale"))
    if locale in SUPPORTED_LOCALES:
        session["locale"] = locale
        participant, staff = current_participant(), current_staff()
        if participant is not None and participant.preferred_locale != locale:
            participant.preferred_locale = locale
            # SMS follow the saved language: pending reminders are re-rendered.
            reminders.replan_participants(db_session(), [participant.id])
            db_session().commit()
        elif staff is not None:
            staff.preferred_locale = locale
            db_session().commit()
    return redirect(_safe_next(request.form.get("next")) or url_for("patient.home"))


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
