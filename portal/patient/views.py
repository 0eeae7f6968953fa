"""Participant views (thin: parse, call one domain function, commit, render).

Every view that takes an id loads the record through a query bound to the signed-in
participant, so anyone else's id is simply not found (404).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from .. import audit, calendar_feed, consents, dispatch, patient_requests, reminders, results_summary, signin
from .. import visit_view as vv
from ..access import current_participant, current_staff, participant_required, touch_seen
from ..audit import Actor
from ..config import SUPPORTED_LOCALES, Settings
from ..extensions import db_session
from ..i18n import clock, long_date, normalize_locale, short_date, to_local
from ..id_urls import id_url
from ..models import ConsentVersion, Participant
from ..participants import set_sms_opt_out
from ..patient_chrome import PatientChrome, patient_chrome
from ..phones import PhoneError, normalize_phone
from ..schedule import ScheduleError, confirm_visit
from .blueprint import bp
from .forms import CodeForm, EmptyForm, PhoneForm, RescheduleForm, SmsForm

CLOSED_STATUSES = ("withdrawn", "deceased")
KEEP_SIGNED_IN = timedelta(days=30)
# Endpoints a signed-in but withdrawn participant may still reach.
CLOSED_ALLOWED = {"patient.closed", "patient.sign_out", "patient.set_language", "patient.contact", "patient.messages"}


# --- helpers ---------------------------------------------------------------------------------


def _settings() -> Settings:
    return current_app.config["PORTAL_SETTINGS"]


def _now() -> datetime:
    return datetime.now(UTC)


def _locale() -> str:
    return str(get_locale())


def _me() -> Participant:
    participant = current_participant()
    assert participant is not None  # noqa: S101 - guarded by participant_required
    return participant


def _today(participant: Participant) -> date:
    return to_local(_now(), participant.site.timezone).date()


def _address() -> str:
    return request.remote_addr or ""


def _actor(participant: Participant) -> Actor:
    return Actor(type="participant", id=participant.id, request_id=g.get("request_id", ""), ip_address=_address())


def _viewed(participant: Participant, what: str, object_id: object = "") -> None:
    """Every view of participant data leaves an audit row (DESIGN.md invariant 7)."""
    audit.record_view(
        db_session(), _actor(participant), f"portal.view_{what}", object_type=what, object_id=object_id,
        participant_id=participant.id, site_id=participant.site_id,
    )  # fmt: skip
    db_session().commit()


def _render_viewed(template: str, what: str, object_id: object = "", **context: object) -> str:
    """Render, then record the view and commit: the page's reads (including the layout's) share
    one transaction, and a page whose audit row could not be written is never shown."""
    html = render_template(template, **context)
    _viewed(_me(), what, object_id)
    return html


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.context_processor
def _patient_globals() -> dict[str, object]:
    participant = current_participant()
    locale = _locale()
    chrome = PatientChrome(0, 0, ())
    if participant is not None and request.endpoint not in ("patient.sign_in", "patient.enter_code"):
        chrome = patient_chrome(db_session(), participant)
    return {
        "me": participant,
        "site": participant.site if participant else None,
        # Closed participants see no re-consent banner: there is nothing left for them to sign.
        "pending_consents": () if participant is None or participant.status in CLOSED_STATUSES
        else chrome.pending_consent_ids,
        "unread_messages": chrome.unread_messages,
        "unread_news": chrome.unread_news,
        "fdate": lambda d: long_date(d, locale),
        "fshort": lambda d: short_date(d, locale),
        "ftime": lambda t: clock(t, locale),
        "loc": lambda obj, field: str(getattr(obj, f"{field}_{'zh' if locale.startswith('zh') else 'en'}")),
        "is_zh": locale.startswith("zh"),
        "id_url": id_url,
    }


@bp.before_request
def _session_guard() -> Response | None:
    """Idle timeout (unless "keep me signed in"), and the closed page for withdrawn participants."""
    participant = current_participant()
    if participant is None:
        return None
    now = time.time()
    keep = session.get("keep") or session.get("_fresh") is False
    last = session.get("seen")
    if last and not keep and now - float(last) > _settings().patient_idle_minutes * 60:
        logout_user()
        session.clear()
        flash(_("You were signed out after a time without activity, to keep your information safe."), "info")
        return redirect(url_for("patient.sign_in"))
    touch_seen("seen", now)
    if participant.status in CLOSED_STATUSES and request.endpoint not in CLOSED_ALLOWED:
        return redirect(url_for("patient.closed"))
    return None


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
        result = signin.request_code(db, phone, _address(), _settings().secret_key, _now())
    except signin.SignInError as exc:
        db.rollback()
        _pad_response(started)
        return SIGN_IN_ERRORS[exc.code](exc)
    db.commit()
    if result.message_id is not None:
        dispatch.send_now(current_app.extensions["session_factory"], result.message_id, _settings())
    session["sign_in_challenge"] = result.challenge_id
    session["sign_in_phone"] = phone
    _pad_response(started)
    return None


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response | str:
    if current_participant() is not None:
        return redirect(url_for("patient.home"))
    if request.method == "GET" and _safe_next(request.args.get("next")):
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
                db, challenge_id, form.code.data or "", _settings().secret_key, _now(), _address()
            )
        except signin.SignInError as exc:
            db.commit()  # the failed attempt counts
            form.code.errors = [SIGN_IN_ERRORS[exc.code](exc)]
            can_retry = exc.code == "wrong"
        else:
            return _start_session(participant, keep=bool(form.keep.data))
    wait = signin.resend_wait(db, challenge_id, _now())
    return render_template("patient/enter_code.html", form=form, resend_form=EmptyForm(), wait=wait,
                           can_retry=can_retry)  # fmt: skip


def _start_session(participant: Participant, keep: bool) -> Response:
    db = db_session()
    target = _safe_next(session.get("sign_in_next"))
    chosen = session.get("locale")
    session.clear()  # a new session on sign-in: nothing from before carries over
    if chosen in SUPPORTED_LOCALES and chosen != participant.preferred_locale:
        participant.preferred_locale = chosen  # they chose a language on the sign-in page
        reminders.replan_participants(db, [participant.id])
    db.commit()
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
                db_session(), _actor(participant), "sign_out", object_type="participant", object_id=participant.id,
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


# --- home and visits -------------------------------------------------------------------------


@bp.get("/")
@participant_required
def home() -> str:
    me = _me()
    today = _today(me)
    summary = vv.summarize(vv.load_visits(db_session(), me, _locale(), today), today)
    return _render_viewed("patient/home.html", "home", summary=summary, today=today)


Found = TypeVar("Found")


def _found(row: Found | None) -> Found:
    """What the ownership-checked query returned, or 404: another participant's id leaks nothing."""
    if row is None:
        abort(404)
    return row


def _visit_or_404(visit_id: int) -> vv.VisitItem:
    me = _me()
    return _found(vv.load_visit(db_session(), me, visit_id, _locale(), _today(me)))


@bp.get("/visits/<int:visit_id>")
@participant_required
def visit(visit_id: int) -> str:
    item = _visit_or_404(visit_id)
    return _render_viewed("patient/visit.html", "visit", visit_id, item=item)


@bp.post("/visits/<int:visit_id>/confirm")
@participant_required
def confirm(visit_id: int) -> Response:
    item = _visit_or_404(visit_id)
    if EmptyForm().validate_on_submit():
        try:
            confirm_visit(db_session(), item.visit, _actor(_me()), channel="portal", now=_now())
        except ScheduleError:
            db_session().rollback()
            flash(_("This visit cannot be confirmed now. Please call your study team."), "error")
        else:
            db_session().commit()
            flash(_("Thank you. We have noted that you will come."), "info")
    return redirect(_safe_next(request.form.get("next")) or url_for("patient.visit", visit_id=visit_id))


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
    me = _me()
    form = RescheduleForm()
    error = None
    if form.validate_on_submit():
        try:
            dates = patient_requests.parse_dates([form.date_1.data, form.date_2.data, form.date_3.data])
            patient_requests.request_new_date(
                db_session(), me, item.visit, dates, form.note.data or "", _actor(me), _today(me), _now()
            )
        except patient_requests.RequestError as exc:
            db_session().rollback()
            error = REQUEST_ERRORS[exc.code]() % {"start": long_date(item.window_start, _locale()),
                                                   "end": long_date(item.window_end, _locale())}
        else:
            db_session().commit()
            flash(_("Thank you. The study team will call you to agree a new date."), "info")
            return redirect(url_for("patient.visit", visit_id=visit_id))
    elif request.method == "GET":
        _viewed(me, "reschedule_form", visit_id)
    return render_template("patient/reschedule.html", item=item, form=form, error=error,
                           min_day=max(item.window_start, _today(me)))  # fmt: skip


# --- calendar --------------------------------------------------------------------------------


def _ics(body: bytes, filename: str) -> Response:
    response = current_app.response_class(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _host() -> str:
    return _settings().public_base_url.split("://", 1)[-1].split("/", 1)[0] or "portal"


@bp.get("/visits/<int:visit_id>/calendar.ics")
@participant_required
def visit_ics(visit_id: int) -> Response:
    item = _visit_or_404(visit_id)
    me = _me()
    if not item.is_open:
        abort(404)
    _viewed(me, "visit_ics", visit_id)
    body = calendar_feed.build_calendar([item], me, _locale(), _host(), _now())
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
    me = _me()
    token = calendar_feed.issue_token(db_session(), me, _actor(me))
    db_session().commit()
    url = _settings().public_base_url + url_for("patient.calendar_feed", token=token)
    return render_template("patient/calendar.html", form=form, feed_url=url)


@bp.post("/calendar/revoke")
@participant_required
def calendar_revoke() -> Response:
    if EmptyForm().validate_on_submit():
        me = _me()
        calendar_feed.revoke_token(db_session(), me, _actor(me))
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
    today = _today(participant)
    items = vv.load_visits(db, participant, locale, today)
    audit.record(
        db, Actor(type="participant", id=participant.id, ip_address=_address()), "portal.view_calendar_feed",
        object_type="participant", object_id=participant.id, participant_id=participant.id,
        site_id=participant.site_id,
    )  # fmt: skip
    db.commit()
    return _ics(calendar_feed.build_calendar(items, participant, locale, _host(), _now()), "study-visits.ics")


bp.add_url_rule("/calendar/feed/<token>.ics", endpoint="calendar_feed", view_func=calendar_feed_view)


# --- consent documents -----------------------------------------------------------------------


@bp.get("/consents")
@participant_required
def consent_list() -> str:
    me = _me()
    signed = consents.signed_consents(db_session(), me)
    return _render_viewed("patient/consents.html", "consents", signed=signed)


def _version_or_404(version_id: int) -> ConsentVersion:
    return _found(consents.version_for(db_session(), _me(), version_id))


@bp.get("/consents/<int:version_id>")
@participant_required
def consent_version(version_id: int) -> str:
    version = _version_or_404(version_id)
    me = _me()
    pending = consents.is_pending(db_session(), me, version)
    return _render_viewed("patient/consent.html", "consent_version", version_id, version=version, pending=pending,
                          form=EmptyForm())


@bp.get("/consents/<int:version_id>/file")
@participant_required
def consent_file(version_id: int) -> Response:
    version = _version_or_404(version_id)
    try:
        path = consents.file_path(_settings().instance_path, version)
    except consents.ConsentFileMissing:
        abort(404)
    _viewed(_me(), "consent_file", version_id)
    download = request.args.get("download") == "1"
    return send_file(path, mimetype="application/pdf", as_attachment=download,
                     download_name=f"consent-{version.label}-{version.locale}.pdf", max_age=0)  # fmt: skip


@bp.post("/consents/<int:version_id>/acknowledge")
@participant_required
def consent_acknowledge(version_id: int) -> Response:
    version = _version_or_404(version_id)
    me = _me()
    if EmptyForm().validate_on_submit():
        consents.acknowledge(db_session(), me, version, _locale(), _actor(me), _now())
        db_session().commit()
        flash(_("Thank you. We have recorded that you have read the new version."), "info")
    return redirect(url_for("patient.consent_list"))


# --- results ---------------------------------------------------------------------------------


@bp.get("/results")
@participant_required
def results() -> str:
    me = _me()
    panels = results_summary.released_panels(db_session(), me.id, _locale())
    trends = results_summary.trends(panels)
    labels = {p.collected_on: short_date(p.collected_on, _locale()) for p in panels}
    charts = [
        (t, results_summary.trend_svg(t, f"trend-{t.code}", [labels[d] for d, _v, _s in t.points])) for t in trends
    ]
    return _render_viewed("patient/results.html", "results", panels=list(reversed(panels)), charts=charts)


@bp.get("/results/<int:panel_id>")
@participant_required
def result(panel_id: int) -> str:
    me = _me()
    panel = _found(results_summary.released_panel(db_session(), me.id, panel_id, _locale()))
    return _render_viewed("patient/result.html", "result", panel_id, panel=panel)


# --- contact, SMS settings, language ---------------------------------------------------------


@bp.get("/contact")
@participant_required
def contact() -> str:
    me = _me()
    form = SmsForm(enabled=not me.sms_opt_out)
    return render_template("patient/contact.html", form=form)


@bp.post("/contact/sms")
@participant_required
def sms_settings() -> Response:
    me = _me()
    form = SmsForm()
    if form.validate_on_submit():
        enabled = bool(form.enabled.data)
        set_sms_opt_out(db_session(), me, not enabled, channel="portal", actor=_actor(me), now=_now())
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
            participant.preferred_locale = locale
            # SMS follow the saved language: pending reminders are re-rendered.
            reminders.replan_participants(db_session(), [participant.id])
            db_session().commit()
        elif staff is not None:
            staff.preferred_locale = locale
            db_session().commit()
    return redirect(_safe_next(request.form.get("next")) or url_for("patient.home"))
