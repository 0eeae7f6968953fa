"""Participant views (thin: parse, call one domain function, commit, render)."""

from __future__ import annotations

from flask import redirect, render_template, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

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
        if getattr(current_user, "login_prefix", "") == "p":
            current_user.preferred_locale = locale
            db_session().commit()
    return redirect(_safe_next(request.form.get("next")) or url_for("patient.home"))


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
