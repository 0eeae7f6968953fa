"""The visit worklist, recording visits, and answering participants' reschedule requests."""

from __future__ import annotations

from datetime import date, time

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from .. import worklist
from ..access import staff_required
from ..extensions import db_session
from ..i18n import to_local
from ..schedule import OutOfWindowError, ScheduleError, complete_visit, schedule_visit, set_visit_status
from ..scoping import get_reschedule_request, get_visit
from .blueprint import bp
from .common import actor, me, now, parse_int, site_ids, today
from .forms import AcceptRequestForm, DeclineRequestForm, VisitForm, options

ALL = ("admin", "coordinator", "investigator")
EDITORS = ("admin", "coordinator")


@bp.get("/worklist", endpoint="worklist")
@staff_required(*ALL)
def worklist_view() -> str:
    pages = {name: parse_int(request.args.get(f"{name}_page")) or 1 for name in worklist.SECTIONS}
    wl = worklist.build(db_session(), site_ids(), today(), pages=pages)
    return render_template("staff/worklist.html", wl=wl, today=today())


@bp.get("/visits/<int:visit_id>")
@staff_required(*ALL)
def visit(visit_id: int) -> str:
    v = get_visit(db_session(), me(), visit_id)
    form = VisitForm()
    tz = v.participant.site.timezone
    if v.scheduled_at:
        local = to_local(v.scheduled_at, tz)
        form.day.data, form.at.data = local.date(), local.time()
    else:
        form.day.data = v.target_date
    return render_template("staff/visit.html", v=v, form=form, today=today())


@bp.post("/visits/<int:visit_id>")
@staff_required(*EDITORS)
def visit_update(visit_id: int) -> str | Response:
    v = get_visit(db_session(), me(), visit_id)
    form = VisitForm()
    if not form.validate_on_submit():
        flash(_("Please check the form."), "error")
        return render_template("staff/visit.html", v=v, form=form, today=today()), 400  # type: ignore[return-value]
    action, day, reason = form.action.data, form.day.data, (form.reason.data or "").strip()
    session = db_session()
    try:
        if action == "schedule":
            if day is None:
                raise ScheduleError("date")
            hh, mm = (int(x) for x in v.participant.site.default_visit_time.split(":"))
            schedule_visit(session, v, day, form.at.data or time(hh, mm), actor(), reason=reason, now=now())
        elif action == "attended":
            complete_visit(session, v, day or today(), actor(), reason=reason, now=now())
        else:
            set_visit_status(session, v, action or "", actor(), reason=reason, now=now())
    except OutOfWindowError:
        session.rollback()
        flash(_("That date is outside the visit window: give a reason (it is recorded as a deviation)."), "error")
        return render_template("staff/visit.html", v=v, form=form, today=today()), 400  # type: ignore[return-value]
    except ScheduleError:
        session.rollback()
        flash(_("This change is not possible for a visit in its current state."), "error")
        return redirect(url_for("staff.visit", visit_id=v.id))
    session.commit()
    flash(_("Visit updated."), "info")
    return redirect(url_for("staff.visit", visit_id=v.id))


@bp.post("/requests/<int:request_id>/accept")
@staff_required(*EDITORS)
def request_accept(request_id: int) -> Response:
    req = get_reschedule_request(db_session(), me(), request_id)
    form = AcceptRequestForm(prefix=f"r{req.id}")
    form.day.choices = options((d.isoformat(), d.isoformat()) for d in req.proposed_dates)
    if not form.validate_on_submit():
        flash(_("Choose one of the proposed dates."), "error")
        return redirect(url_for("staff.worklist"))
    try:
        worklist.accept_request(db_session(), req, date.fromisoformat(form.day.data or ""), me(), actor(),
                                at=form.at.data, reason=form.reason.data or "", now=now())  # fmt: skip
    except OutOfWindowError:
        db_session().rollback()
        flash(_("That date is outside the visit window: give a reason (it is recorded as a deviation)."), "error")
        return redirect(url_for("staff.worklist"))
    except (worklist.RequestError, ScheduleError, ValueError):
        db_session().rollback()
        flash(_("This request cannot be accepted (already answered, or the visit cannot move)."), "error")
        return redirect(url_for("staff.worklist"))
    db_session().commit()
    flash(_("Visit moved; the participant is told by SMS."), "info")
    return redirect(url_for("staff.worklist"))


@bp.post("/requests/<int:request_id>/decline")
@staff_required(*EDITORS)
def request_decline(request_id: int) -> Response:
    req = get_reschedule_request(db_session(), me(), request_id)
    form = DeclineRequestForm()
    if not form.validate_on_submit():
        flash(_("Write a short message for the participant."), "error")
        return redirect(url_for("staff.worklist"))
    try:
        worklist.decline_request(db_session(), req, form.message.data or "", me(), actor(), now=now())
    except worklist.RequestError:
        db_session().rollback()
        flash(_("This request was already answered."), "error")
        return redirect(url_for("staff.worklist"))
    db_session().commit()
    flash(_("Request declined; the participant is told."), "info")
    return redirect(url_for("staff.worklist"))
