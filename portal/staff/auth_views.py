"""Staff sign-in (password, then authenticator code), enrolment of the second factor, sign-out."""

from __future__ import annotations

import time as _time

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from .. import staff_auth
from ..access import current_staff, staff_required
from ..extensions import db_session
from ..models import StaffUser
from .blueprint import bp
from .common import SEEN_KEY, SIGNED_IN_KEY, actor, me, now, safe_next
from .forms import ChangePasswordForm, CodeForm, EnrolTotpForm, SignInForm

PENDING_KEY = "staff_pending"
PENDING_SECONDS = 300
PASSWORD_PROBLEMS = {
    "too_short": lambda: _("The password must have at least 12 characters."),
    "too_long": lambda: _("The password is too long."),
    "common": lambda: _("This password is too easy to guess."),
    "contains_email": lambda: _("The password must not contain your email name."),
    "wrong_password": lambda: _("The current password is not right."),
}



def code_reused_text() -> str:
    return _("That code has already been used. Wait for the next code in your app and enter that one.")


def _pending() -> StaffUser | None:
    """The account that passed the password step in this browser in the last five minutes."""
    data = session.get(PENDING_KEY)
    if not data or _time.time() - data.get("at", 0) > PENDING_SECONDS:
        session.pop(PENDING_KEY, None)
        return None
    staff = db_session().get(StaffUser, data.get("id"))
    return staff if staff is not None and staff.is_active else None


def _finish(staff: StaffUser, method: str) -> Response:
    target = safe_next((session.get(PENDING_KEY) or {}).get("next")) or url_for("staff.index")
    staff_auth.complete_sign_in(db_session(), staff, actor(staff), now(), method)
    db_session().commit()
    session.clear()  # nothing from before sign-in survives it
    login_user(staff)
    session[SEEN_KEY] = session[SIGNED_IN_KEY] = _time.time()
    if staff.must_change_password:
        return redirect(url_for("staff.change_password"))
    return redirect(target)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> str | Response:
    if current_staff() is not None:
        return redirect(url_for("staff.index"))
    form = SignInForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        outcome = staff_auth.check_password(db_session(), form.email.data or "", form.password.data or "",
                                            actor(), now())  # fmt: skip
        db_session().commit()
        if outcome.status == "locked" and outcome.locked_until:
            flash(_("Too many attempts. You can try again after %(time)s.",
                    time=format_datetime(outcome.locked_until, "short")), "error")  # fmt: skip
        elif outcome.status == "invalid" or outcome.staff is None:
            flash(_("The email or password is not right."), "error")
        elif outcome.status == "ok":
            session[PENDING_KEY] = {"id": outcome.staff.id, "at": _time.time(), "next": form.next.data}
            return _finish(outcome.staff, "password")
        else:
            session[PENDING_KEY] = {"id": outcome.staff.id, "at": _time.time(), "next": form.next.data}
            endpoint = "staff.two_factor" if outcome.status == "needs_totp" else "staff.totp_enrol"
            return redirect(url_for(endpoint))
    return render_template("staff/sign_in.html", form=form)


@bp.route("/sign-in/code", methods=["GET", "POST"])
def two_factor() -> str | Response:
    staff = _pending()
    if staff is None or not staff.totp_enabled:
        return redirect(url_for("staff.sign_in"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            method = staff_auth.verify_second_factor(db_session(), staff, form.code.data or "", actor(staff), now())
        except staff_auth.StaffAuthError as exc:
            db_session().commit()
            if exc.code == "locked":
                session.pop(PENDING_KEY, None)
                flash(_("Too many attempts. Please wait and sign in again."), "error")
                return redirect(url_for("staff.sign_in"))
            if exc.code == "reused":
                flash(code_reused_text(), "error")
            else:
                flash(_("That code is not right. Codes change every 30 seconds."), "error")
        else:
            if method == "recovery":
                flash(_("You used a recovery code; each works only once."), "info")
            return _finish(staff, method)
    return render_template("staff/two_factor.html", form=form)


@bp.route("/sign-in/authenticator", methods=["GET", "POST"])
def totp_enrol() -> str | Response:
    """Set up the authenticator app: while signing in (required for admins and investigators) or later."""
    staff = current_staff() or _pending()
    if staff is None:
        return redirect(url_for("staff.sign_in"))
    if staff.totp_enabled:
        return redirect(url_for("staff.account") if current_staff() else url_for("staff.two_factor"))
    if not staff.totp_secret:
        staff.totp_secret = staff_auth.new_totp_secret()
        db_session().commit()
    form = EnrolTotpForm()
    if form.validate_on_submit():
        try:
            codes = staff_auth.enable_totp(db_session(), staff, staff.totp_secret, form.code.data or "",
                                           actor(staff), now())  # fmt: skip
        except staff_auth.StaffAuthError as exc:
            db_session().commit()  # keeps the audit row of a refused replay
            if exc.code == "reused":
                flash(code_reused_text(), "error")
            else:
                flash(_("That code is not right. Check the time on your phone and try the newest code."), "error")
        else:
            db_session().commit()
            if current_staff() is None:
                staff_auth.complete_sign_in(db_session(), staff, actor(staff), now(), "totp_enrol")
                db_session().commit()
                session.clear()
                login_user(staff)
                session[SEEN_KEY] = session[SIGNED_IN_KEY] = _time.time()
            return render_template("staff/recovery_codes.html", codes=codes)
    uri = staff_auth.provisioning_uri(staff, staff.totp_secret)
    return render_template("staff/totp_enrol.html", form=form, qr=staff_auth.qr_svg(uri), secret=staff.totp_secret,
                           required=staff_auth.totp_required(staff))  # fmt: skip


@bp.post("/sign-out")
def sign_out() -> Response:
    staff = current_staff()
    if staff is not None:
        staff_auth.record_sign_out(db_session(), staff, actor(staff))
        db_session().commit()
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("staff.sign_in"))


@bp.route("/account", methods=["GET", "POST"])
@staff_required()
def account() -> str | Response:
    staff = me()
    codes = None
    if request.method == "POST" and staff.totp_enabled:
        codes = staff_auth.new_recovery_codes(db_session(), staff, actor(staff))
        db_session().commit()
        return render_template("staff/recovery_codes.html", codes=codes)
    remaining = staff_auth.remaining_recovery_codes(db_session(), staff)
    return render_template("staff/account.html", remaining=remaining)


@bp.route("/account/password", methods=["GET", "POST"])
@staff_required()
def change_password() -> str | Response:
    staff = me()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            staff_auth.change_password(db_session(), staff, form.current.data or "", form.new.data or "", actor())
        except staff_auth.StaffAuthError as exc:
            db_session().rollback()
            flash(PASSWORD_PROBLEMS.get(exc.code, PASSWORD_PROBLEMS["common"])(), "error")
        else:
            db_session().commit()
            flash(_("Your password is changed."), "info")
            return redirect(url_for("staff.index"))
    return render_template("staff/change_password.html", form=form)


def password_problem_text(code: str) -> str:
    return PASSWORD_PROBLEMS.get(code, PASSWORD_PROBLEMS["common"])()


__all__ = ["logout_user", "password_problem_text"]
