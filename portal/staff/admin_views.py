"""Admin pages: study-team accounts (create, reset password, deactivate/reactivate) and the audit trail."""

from __future__ import annotations

from flask import Response as FlaskResponse
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from .. import audit, audit_trail, staff_auth
from ..access import staff_required
from ..extensions import db_session
from ..models import Site, StaffUser
from ..staff_accounts import StaffAccountError, StaffStatusError, deactivate_staff, reactivate_staff, upsert_staff
from .auth_views import password_problem_text
from .blueprint import bp
from .common import actor, now, parse_date, parse_int
from .forms import DeactivateStaffForm, ReactivateStaffForm, ResetPasswordForm, StaffForm


def account_error_text(error: StaffAccountError) -> str:
    """What went wrong with an account form, in the admin's language."""
    if error.code == "unknown_sites":
        return _("Unknown site code: %(codes)s.", codes=", ".join(error.details))
    if error.code == "password_rejected":
        return " ".join(password_problem_text(code) for code in error.details)
    texts = {
        "site_required": lambda: _("Coordinators and investigators need at least one site."),
        "password_required": lambda: _("A new account needs a password."),
        "last_admin": lambda: _("This is the last active admin account: make another admin first."),
    }
    return texts.get(error.code, lambda: _("The account could not be saved. Please check the form."))()


@bp.route("/admin/staff", methods=["GET", "POST"])
@staff_required("admin")
def staff_list() -> str | Response:
    form = StaffForm()
    if form.validate_on_submit():
        codes = [c.strip().upper() for c in (form.sites.data or "").split(",") if c.strip()]
        try:
            upsert_staff(db_session(), form.email.data or "", form.full_name.data or "", form.role.data or "",
                         codes, form.password.data, actor())  # fmt: skip
        except StaffAccountError as exc:
            db_session().rollback()
            flash(account_error_text(exc), "error")
        else:
            db_session().commit()
            flash(_("Account saved."), "info")
            return redirect(url_for("staff.staff_list"))
    people = db_session().scalars(select(StaffUser).options(selectinload(StaffUser.sites))
                                  .order_by(StaffUser.role, StaffUser.email)).all()  # fmt: skip
    return render_template("staff/admin_staff.html", people=people, form=form, reset_form=ResetPasswordForm(),
                           deactivate_form=DeactivateStaffForm(), reactivate_form=ReactivateStaffForm())  # fmt: skip


@bp.post("/admin/staff/<int:staff_id>/reset")
@staff_required("admin")
def staff_reset(staff_id: int) -> Response:
    target = db_session().get(StaffUser, staff_id)
    if target is None:
        return redirect(url_for("staff.staff_list"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            staff_auth.admin_reset_password(db_session(), target, form.password.data or "", actor(),
                                            reset_second_factor=bool(form.reset_second_factor.data))  # fmt: skip
        except staff_auth.StaffAuthError as exc:
            db_session().rollback()
            flash(password_problem_text(exc.code), "error")
        else:
            db_session().commit()
            flash(_("Temporary password set; %(email)s must change it at next sign-in.", email=target.email), "info")
    return redirect(url_for("staff.staff_list"))


def _status_problem(code: str) -> str:
    return {
        "self": _("You cannot deactivate your own account."),
        "last_admin": _("This is the last active admin account, so it cannot be deactivated."),
        "reason_required": _("Please give the reason for deactivating the account."),
        "unchanged": _("Nothing changed: the account was already in that state."),
    }.get(code, _("Nothing changed: the account was already in that state."))


def _change_status(staff_id: int, deactivate: bool) -> Response:
    target = db_session().get(StaffUser, staff_id)
    if target is None:
        abort(404)
    form = DeactivateStaffForm() if deactivate else ReactivateStaffForm()
    if not form.validate_on_submit():
        flash(_("Please give the reason for deactivating the account.") if deactivate
              else _("The reason is too long."), "error")  # fmt: skip
        return redirect(url_for("staff.staff_list"))
    try:
        if deactivate:
            deactivate_staff(db_session(), target, form.reason.data or "", actor(), now())
        else:
            reactivate_staff(db_session(), target, form.reason.data or "", actor())
    except StaffStatusError as exc:
        db_session().rollback()
        flash(_status_problem(exc.code), "error")
    else:
        db_session().commit()
        flash(_("%(email)s is deactivated and can no longer sign in.", email=target.email) if deactivate
              else _("%(email)s can sign in again.", email=target.email), "info")  # fmt: skip
    return redirect(url_for("staff.staff_list"))


@bp.post("/admin/staff/<int:staff_id>/deactivate")
@staff_required("admin")
def staff_deactivate(staff_id: int) -> Response:
    return _change_status(staff_id, deactivate=True)


@bp.post("/admin/staff/<int:staff_id>/reactivate")
@staff_required("admin")
def staff_reactivate(staff_id: int) -> Response:
    return _change_status(staff_id, deactivate=False)


def _audit_filter() -> audit_trail.AuditFilter:
    args = request.args
    return audit_trail.AuditFilter(
        action=args.get("action", "")[:60], actor_id=parse_int(args.get("actor")),
        study_code=args.get("study_code", "")[:40], site_id=parse_int(args.get("site")),
        day_from=parse_date(args.get("from")), day_to=parse_date(args.get("to")), page=parse_int(args.get("page")) or 1,
    )  # fmt: skip


@bp.get("/admin/audit")
@staff_required("admin")
def audit_view() -> str:
    f = _audit_filter()
    events, page, pages = audit_trail.search(db_session(), f)
    sites = db_session().scalars(select(Site).order_by(Site.code)).all()
    return render_template("staff/audit.html", events=events, page=page, pages=pages, f=f, sites=sites)


@bp.get("/admin/audit.csv")
@staff_required("admin")
def audit_export() -> FlaskResponse:
    f = _audit_filter()
    body = audit_trail.to_csv(audit_trail.iter_events(db_session(), f))
    audit.record(db_session(), actor(), "audit.export", object_type="audit",
                 after={"filter": repr({k: v for k, v in f.__dict__.items() if v and k != "page"})})  # fmt: skip
    db_session().commit()
    return FlaskResponse(body, mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=audit.csv"})
