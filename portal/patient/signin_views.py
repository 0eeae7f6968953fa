"""Signing in with a code sent by SMS, and signing out."""

from __future__ import annotations

import time

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from .. import audit, dispatch, reminders, signin
from ..access import current_participant, participant_required
from ..config import SUPPORTED_LOCALES
from ..extensions import db_session
from ..models import Participant
from ..phones import PhoneError, normalize_phone
from .blueprint import bp
from .common import KEEP_SIGNED_IN, actor_for, client_address, portal_settings, safe_next, utc_now
from .forms import CodeForm, EmptyForm, PhoneForm

# --- signing in and out ----------------------------------------------------------------------

SIGN_IN_ERRORS = {
    "rate_limited": lambda e: _(
        "Too many codes were asked for. Please wait an hour and try again, or call your study team."
    ),
    "too_soon": lambda e: _("A code was sent a moment ago. You can ask for a new one in %(seconds)s seconds.")
    % {"seconds": e.wait_seconds},
    "no_challenge": lambda e: _("Please enter your mobile number first."),
    "wrong": lambda e: _("That code is not right. You can try %(count)s more times.") % {"count": e.attempts_left},
    "expired": lambda e: _("That code has expired (codes work for 10 minutes). Please ask for a new code."),
    "used": lambda e: _("That code was already used. Please ask for a new code."),
    "too_many": lambda e: _("Too many wrong codes. Please ask for a new code."),
}


def _pad_response(started: float) -> None:
    """Known and unknown numbers answer after the same time (no enumeration by timing)."""
    floor = float(current_app.config.get("SIGN_IN_MIN_SECONDS", 1.0))
    left = floor - (time.monotonic() - started)
    if left > 0:
        time.sleep(left)


def _send_code(phone: str) -> str | None:
    """Ask for a code; returns an error message, or None when the code page should follow."""
    started = time.monotonic()
    db = db_session()
    try:
        result = signin.request_code(db, phone, client_address(), portal_settings().secret_key, utc_now())
    except signin.SignInError as exc:
        db.rollback()
        _pad_response(started)
        return SIGN_IN_ERRORS[exc.code](exc)
    db.commit()
    if result.message_id is not None:
        dispatch.send_now(current_app.extensions["session_factory"], result.message_id, portal_settings())
    session["sign_in_challenge"] = result.challenge_id
    session["sign_in_phone"] = phone
    _pad_response(started)
    return None


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response | str:
    if current_participant() is not None:
        return redirect(url_for("patient.home"))
    if request.method == "GET" and safe_next(request.args.get("next")):
        session["sign_in_next"] = request.args["next"]
    form = PhoneForm()
    if form.validate_on_submit():
        try:
            phone = normalize_phone(form.phone.data or "")
        except PhoneError:
            form.phone.errors = [_("That does not look like a mobile number. Example: 138 0013 8000")]
        else:
            error = _send_code(phone)
            if error is None:
                return redirect(url_for("patient.enter_code"))
            form.phone.errors = [error]
    return render_template("patient/sign_in.html", form=form)


@bp.route("/sign-in/code", methods=["GET", "POST"])
def enter_code() -> Response | str:
    challenge_id = session.get("sign_in_challenge")
    if not challenge_id:
        return redirect(url_for("patient.sign_in"))
    form = CodeForm()
    db = db_session()
    can_retry = True
    if form.validate_on_submit():
        try:
            participant = signin.verify_code(
                db, challenge_id, form.code.data or "", portal_settings().secret_key, utc_now(), client_address()
            )
        except signin.SignInError as exc:
            db.commit()  # the failed attempt counts
            form.code.errors = [SIGN_IN_ERRORS[exc.code](exc)]
            can_retry = exc.code == "wrong"
        else:
            return _start_session(participant, keep=bool(form.keep.data))
    wait = signin.resend_wait(db, challenge_id, utc_now())
    return render_template("patient/enter_code.html", form=form, resend_form=EmptyForm(), wait=wait,
                           can_retry=can_retry)  # fmt: skip


def _start_session(participant: Participant, keep: bool) -> Response:
    db = db_session()
    target = safe_next(session.get("sign_in_next"))
    chosen = session.get("locale")
    session.clear()  # a new session on sign-in: nothing from before carries over
    if chosen in SUPPORTED_LOCALES and chosen != participant.preferred_locale:
        participant.preferred_locale = chosen  # they chose a language on the sign-in page
        reminders.replan_participants(db, [participant.id])
    db.commit()
    # The ORM row is the current user for the rest of this request (a redirect); from the next
    # request on the session's user loader gives the plain SignedInParticipant.
    login_user(participant, remember=keep, duration=KEEP_SIGNED_IN, fresh=True)
    session["keep"] = keep
    session["seen"] = int(time.time())
    return redirect(target or url_for("patient.home"))


@bp.post("/sign-in/resend")
def resend_code() -> Response:
    phone = session.get("sign_in_phone")
    if not phone or not EmptyForm().validate_on_submit():
        return redirect(url_for("patient.sign_in"))
    error = _send_code(phone)
    flash(error or _("We sent a new code."), "error" if error else "info")
    return redirect(url_for("patient.enter_code"))


@bp.post("/sign-out")
def sign_out() -> Response:
    if EmptyForm().validate_on_submit():
        participant = current_participant()
        if participant is not None:
            audit.record(
                db_session(), actor_for(participant), "sign_out", object_type="participant", object_id=participant.id,
                participant_id=participant.id, site_id=participant.site_id,
            )  # fmt: skip
            db_session().commit()
        logout_user()
        session.clear()
        flash(_("You have signed out."), "info")
    return redirect(url_for("patient.sign_in"))


@bp.get("/closed")
@participant_required
def closed() -> str:
    return render_template("patient/closed.html")
