"""Participant views (thin: parse, call one domain function, commit, render).

Every view that takes an id loads the record through a query bound to the signed-in
participant, so anyone else's id is simply not found (404).
"""

from __future__ import annotations

from typing import TypeVar

from flask import abort, current_app, flash, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from .. import audit, calendar_feed, consents, patient_requests, reminders, results_summary
from .. import visit_view as vv
from ..access import current_participant, current_staff, participant_required
from ..audit import Actor
from ..config import SUPPORTED_LOCALES
from ..extensions import db_session
from ..i18n import long_date, normalize_locale, short_date
from ..models import ConsentVersion, Visit
from ..participants import set_sms_opt_out
from ..schedule import ScheduleError, confirm_visit
from .blueprint import bp
from .common import (
    CLOSED_STATUSES,
    actor_for,
    client_address,
    page_locale,
    page_view,
    participant_row,
    portal_settings,
    record_viewed,
    render_recorded,
    render_viewed,
    safe_next,
    signed_in,
    site_today,
    utc_now,
)
from .forms import EmptyForm, RescheduleForm, SmsForm

# --- home and visits -------------------------------------------------------------------------


@bp.get("/")
@participant_required
def home() -> str:
    me = signed_in()
    today = site_today(me)
    items = vv.load_visits(db_session(), me, page_locale(), today, recording=page_view("home"))
    return render_recorded("patient/home.html", summary=vv.summarize(items, today), today=today)


Found = TypeVar("Found")


def _found(row: Found | None) -> Found:
    """What the ownership-checked query returned, or 404: another participant's id leaks nothing."""
    if row is None:
        abort(404)
    return row


def _visit_or_404(visit_id: int, recording: audit.PageView | None = None) -> vv.VisitItem:
    me = signed_in()
    return _found(vv.load_visit(db_session(), me, visit_id, page_locale(), site_today(me), recording))


def _visit(item: vv.VisitItem) -> Visit:
    """The visit to change, after _visit_or_404 checked it is the signed-in participant's."""
    return _found(db_session().get(Visit, item.id))


@bp.get("/visits/<int:visit_id>")
@participant_required
def visit(visit_id: int) -> str:
    item = _visit_or_404(visit_id, recording=page_view("visit", visit_id))
    return render_recorded("patient/visit.html", item=item)


@bp.post("/visits/<int:visit_id>/confirm")
@participant_required
def confirm(visit_id: int) -> Response:
    item = _visit_or_404(visit_id)
    if EmptyForm().validate_on_submit():
        try:
            confirm_visit(db_session(), _visit(item), actor_for(signed_in()), channel="portal", now=utc_now())
        except ScheduleError:
            db_session().rollback()
            flash(_("This visit cannot be confirmed now. Please call your study team."), "error")
        else:
            db_session().commit()
            flash(_("Thank you. We have noted that you will come."), "info")
    return redirect(safe_next(request.form.get("next")) or url_for("patient.visit", visit_id=visit_id))


REQUEST_ERRORS = {
    "no_date": lambda: _("Please choose at least one date."),
    "invalid_date": lambda: _("One of the dates is not a real date. Please choose it again."),
    "duplicate_date": lambda: _("Please choose different dates."),
    "outside_window": lambda: _("Please choose dates between %(start)s and %(end)s."),
    "in_past": lambda: _("That date has already passed. Please choose a later date."),
    "closed": lambda: _("This visit can no longer be changed here. Please call your study team."),
    "pending": lambda: _("You already asked for another date for this visit. The study team will contact you."),
}


@bp.route("/visits/<int:visit_id>/reschedule", methods=["GET", "POST"])
@participant_required
def reschedule(visit_id: int) -> Response | str:
    item = _visit_or_404(visit_id)
    me = signed_in()
    form = RescheduleForm()
    error = None
    if form.validate_on_submit():
        try:
            dates = patient_requests.parse_dates([form.date_1.data, form.date_2.data, form.date_3.data])
            patient_requests.request_new_date(
                db_session(), me, _visit(item), dates, form.note.data or "", actor_for(me), site_today(me), utc_now()
            )
        except patient_requests.RequestError as exc:
            db_session().rollback()
            error = REQUEST_ERRORS[exc.code]() % {"start": long_date(item.window_start, page_locale()),
                                                   "end": long_date(item.window_end, page_locale())}
        else:
            db_session().commit()
            flash(_("Thank you. The study team will call you to agree a new date."), "info")
            return redirect(url_for("patient.visit", visit_id=visit_id))
    elif request.method == "GET":
        record_viewed(me, "reschedule_form", visit_id)
    return render_template("patient/reschedule.html", item=item, form=form, error=error,
                           min_day=max(item.window_start, site_today(me)))  # fmt: skip


# --- calendar --------------------------------------------------------------------------------


def _ics(body: bytes, filename: str) -> Response:
    response = current_app.response_class(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _host() -> str:
    return portal_settings().public_base_url.split("://", 1)[-1].split("/", 1)[0] or "portal"


@bp.get("/visits/<int:visit_id>/calendar.ics")
@participant_required
def visit_ics(visit_id: int) -> Response:
    item = _visit_or_404(visit_id)
    me = signed_in()
    if not item.is_open:
        abort(404)
    record_viewed(me, "visit_ics", visit_id)
    body = calendar_feed.build_calendar([item], me, page_locale(), _host(), utc_now())
    return _ics(body, f"study-visit-{item.day.isoformat()}.ics")


@bp.get("/calendar")
@participant_required
def calendar() -> str:
    return render_template("patient/calendar.html", form=EmptyForm(), feed_url=None)


@bp.post("/calendar/new")
@participant_required
def calendar_new() -> Response | str:
    form = EmptyForm()
    if not form.validate_on_submit():
        return redirect(url_for("patient.calendar"))
    me = signed_in()
    row = participant_row(me)
    token = calendar_feed.issue_token(db_session(), row, actor_for(me))
    db_session().commit()
    url = portal_settings().public_base_url + url_for("patient.calendar_feed", token=token)
    # The page shows the link just made: the saved row, not the values read before it was made.
    return render_template("patient/calendar.html", form=form, feed_url=url, me=row)


@bp.post("/calendar/revoke")
@participant_required
def calendar_revoke() -> Response:
    if EmptyForm().validate_on_submit():
        me = signed_in()
        calendar_feed.revoke_token(db_session(), participant_row(me), actor_for(me))
        db_session().commit()
        flash(_("Your calendar link no longer works. You can make a new one at any time."), "info")
    return redirect(url_for("patient.calendar"))


@bp.get("/calendar/feed/<token>.ics")
def calendar_feed_view(token: str) -> Response:
    db = db_session()
    participant = calendar_feed.participant_for_token(db, token)
    if participant is None or participant.status in CLOSED_STATUSES:
        abort(404)
    locale = participant.preferred_locale
    today = site_today(participant)
    items = vv.load_visits(db, participant, locale, today)
    audit.record(
        db, Actor(type="participant", id=participant.id, ip_address=client_address()), "portal.view_calendar_feed",
        object_type="participant", object_id=participant.id, participant_id=participant.id,
        site_id=participant.site_id,
    )  # fmt: skip
    db.commit()
    return _ics(calendar_feed.build_calendar(items, participant, locale, _host(), utc_now()), "study-visits.ics")


bp.add_url_rule("/calendar/feed/<token>.ics", endpoint="calendar_feed", view_func=calendar_feed_view)


# --- consent documents -----------------------------------------------------------------------


@bp.get("/consents")
@participant_required
def consent_list() -> str:
    me = signed_in()
    signed = consents.signed_consents(db_session(), me)
    return render_viewed("patient/consents.html", "consents", signed=signed)


def _version_or_404(version_id: int) -> ConsentVersion:
    return _found(consents.version_for(db_session(), signed_in(), version_id))


@bp.get("/consents/<int:version_id>")
@participant_required
def consent_version(version_id: int) -> str:
    version = _version_or_404(version_id)
    me = signed_in()
    pending = consents.is_pending(db_session(), me, version)
    return render_viewed("patient/consent.html", "consent_version", version_id, version=version, pending=pending,
                          form=EmptyForm())


@bp.get("/consents/<int:version_id>/file")
@participant_required
def consent_file(version_id: int) -> Response:
    version = _version_or_404(version_id)
    try:
        path = consents.file_path(portal_settings().instance_path, version)
    except consents.ConsentFileMissing:
        abort(404)
    record_viewed(signed_in(), "consent_file", version_id)
    download = request.args.get("download") == "1"
    return send_file(path, mimetype="application/pdf", as_attachment=download,
                     download_name=f"consent-{version.label}-{version.locale}.pdf", max_age=0)  # fmt: skip


@bp.post("/consents/<int:version_id>/acknowledge")
@participant_required
def consent_acknowledge(version_id: int) -> Response:
    version = _version_or_404(version_id)
    me = signed_in()
    if EmptyForm().validate_on_submit():
        consents.acknowledge(db_session(), me, version, page_locale(), actor_for(me), utc_now())
        db_session().commit()
        flash(_("Thank you. We have recorded that you have read the new version."), "info")
    return redirect(url_for("patient.consent_list"))


# --- results ---------------------------------------------------------------------------------


@bp.get("/results")
@participant_required
def results() -> str:
    me = signed_in()
    panels = results_summary.released_panels(db_session(), me.id, page_locale())
    trends = results_summary.trends(panels)
    labels = {p.collected_on: short_date(p.collected_on, page_locale()) for p in panels}
    charts = [
        (t, results_summary.trend_svg(t, f"trend-{t.code}", [labels[d] for d, _v, _s in t.points])) for t in trends
    ]
    return render_viewed("patient/results.html", "results", panels=list(reversed(panels)), charts=charts)


@bp.get("/results/<int:panel_id>")
@participant_required
def result(panel_id: int) -> str:
    me = signed_in()
    panel = _found(results_summary.released_panel(db_session(), me.id, panel_id, page_locale()))
    return render_viewed("patient/result.html", "result", panel_id, panel=panel)


# --- contact, SMS settings, language ---------------------------------------------------------


@bp.get("/contact")
@participant_required
def contact() -> str:
    me = signed_in()
    form = SmsForm(enabled=not me.sms_opt_out)
    return render_template("patient/contact.html", form=form)


@bp.post("/contact/sms")
@participant_required
def sms_settings() -> Response:
    me = signed_in()
    form = SmsForm()
    if form.validate_on_submit():
        enabled = bool(form.enabled.data)
        set_sms_opt_out(db_session(), participant_row(me), not enabled, channel="portal", actor=actor_for(me),
                        now=utc_now())
        db_session().commit()
        flash(_("Text message reminders are on.") if enabled else _("Text message reminders are off."), "info")
    return redirect(url_for("patient.contact"))


@bp.post("/language")
def set_language() -> Response:
    """Switch language; a signed-in participant's choice is saved (their SMS follow it)."""
    locale = normalize_locale(request.form.get("locale"))
    if locale in SUPPORTED_LOCALES:
        session["locale"] = locale
        participant, staff = current_participant(), current_staff()
        if participant is not None and participant.preferred_locale != locale:
            participant_row(participant).preferred_locale = locale
            # SMS follow the saved language: pending reminders are re-rendered.
            reminders.replan_participants(db_session(), [participant.id])
            db_session().commit()
        elif staff is not None:
            staff.preferred_locale = locale
            db_session().commit()
    return redirect(safe_next(request.form.get("next")) or url_for("patient.home"))
