"""Roster, enrolment, import, a participant's record, edits and end of participation."""

from __future__ import annotations

from flask import Response as FlaskResponse
from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from .. import audit, consent_admin, importer, roster
from ..access import staff_required
from ..extensions import db_session
from ..i18n import normalize_locale
from ..models import Arm, OutboxMessage, ResultPanel, Study, Visit
from ..participant_admin import ParticipantEdit, edit_participant, record_view
from ..participants import EnrolmentData, EnrolmentError, enrol_participant
from ..schedule import ScheduleError, end_participation, window_state
from ..scoping import allowed_sites, get_participant
from .blueprint import bp
from .common import actor, me, now, parse_date, parse_int, site_ids, today
from .forms import ConsentRecordForm, EditParticipantForm, EndParticipationForm, EnrolForm, ImportForm, options

ALL = ("admin", "coordinator", "investigator")
EDITORS = ("admin", "coordinator")


def study() -> Study:
    found = db_session().scalar(select(Study).order_by(Study.id))
    if found is None:
        raise LookupError("no study loaded: run flask --app wsgi load-protocol")
    return found


def error_text(code: str) -> str:
    return _(importer.MESSAGES.get(code, importer.MESSAGES["unknown"]), columns="")


@bp.get("/")
@staff_required(*ALL)
def index() -> Response:
    return redirect(url_for("staff.worklist"))


def _filter() -> roster.RosterFilter:
    args = request.args
    return roster.RosterFilter(
        q=args.get("q", "")[:80], status=args.get("status", ""), arm=args.get("arm", ""), site=args.get("site", ""),
        next_from=parse_date(args.get("next_from")), next_to=parse_date(args.get("next_to")),
        sort=args.get("sort", "study_code") if args.get("sort") in roster.SORTS else "study_code",
        page=parse_int(args.get("page")) or 1,
    )  # fmt: skip


@bp.get("/participants")
@staff_required(*ALL)
def roster_view() -> str:
    f = _filter()
    page = roster.search(db_session(), site_ids(), f, today())
    arms = db_session().scalars(select(Arm).order_by(Arm.id)).all()
    return render_template("staff/roster.html", page=page, f=f, arms=arms,
                           sites=allowed_sites(db_session(), me()))  # fmt: skip


@bp.get("/participants.csv")
@staff_required(*ALL)
def roster_export() -> FlaskResponse:
    import csv
    import io

    f = _filter()
    rows = roster.all_rows(db_session(), site_ids(), f, today())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["study_id", "name", "phone_last4", "site", "arm", "status", "sms_opt_out", "next_visit",
                     "next_visit_date", "window_state", "last_message_status"])  # fmt: skip
    for r in rows:
        writer.writerow([r.study_code, r.full_name, r.phone_last4, r.site_code, r.arm_code, r.status,
                         int(r.sms_opt_out), r.next_visit_code or "", r.next_visit_date or "",
                         r.next_window_state or "", r.last_message_status or ""])  # fmt: skip
    audit.record(db_session(), actor(), "roster.export", object_type="roster",
                 after={"rows": len(rows), "filter": repr({k: v for k, v in f.__dict__.items() if v})})  # fmt: skip
    db_session().commit()
    return FlaskResponse(out.getvalue(), mimetype="text/csv",
                         headers={"Content-Disposition": "attachment; filename=participants.csv"})  # fmt: skip


@bp.route("/participants/new", methods=["GET", "POST"])
@staff_required(*EDITORS)
def enrol() -> str | Response:
    form = EnrolForm(data=session.pop("enrol_prefill", None) if request.method == "GET" else None)  # from an enquiry
    s = study()
    form.arm.choices = options((a.code, a.name_en if get_lang() == "en" else a.name_zh) for a in s.arms)
    form.site.choices = options((site.code, site.code) for site in allowed_sites(db_session(), me()))
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        data = EnrolmentData(study_code=form.study_code.data or "", full_name=form.full_name.data or "",
                             phone=form.phone.data or "", site_code=form.site.data or "", arm_code=form.arm.data or "",
                             day0=form.day0.data, preferred_locale=form.preferred_locale.data or "zh_Hans_CN")
        try:
            participant = enrol_participant(db_session(), s, data, actor(), now=now())
        except EnrolmentError as exc:
            db_session().rollback()
            errors = {k: error_text(v) for k, v in exc.errors.items()}
        else:
            db_session().commit()
            flash(_("Participant %(code)s enrolled; visits generated.", code=participant.study_code), "info")
            return redirect(url_for("staff.participant", participant_id=participant.id))
    return render_template("staff/enrol.html", form=form, errors=errors, pattern=s.study_id_pattern)


def get_lang() -> str:
    return "zh" if str(get_locale()).startswith("zh") else "en"


@bp.route("/participants/import", methods=["GET", "POST"])
@staff_required(*EDITORS)
def import_participants() -> str | Response:
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        allowed = {site.code for site in allowed_sites(db_session(), me())}
        report = importer.run_import(db_session(), study(), upload.read(), actor(), allowed, now=now(),
                                     source=(upload.filename or "")[:40])  # fmt: skip
        if report.ok:
            db_session().commit()
            flash(_("%(count)s participants imported.", count=len(report.created)), "info")
            return redirect(url_for("staff.roster_view"))
        db_session().rollback()
    locale = normalize_locale(str(get_locale()))
    return render_template("staff/import.html", form=form, report=report, locale=locale, columns=importer.COLUMNS)


@bp.get("/participants/<int:participant_id>")
@staff_required(*ALL)
def participant(participant_id: int) -> str:
    session = db_session()
    p = get_participant(session, me(), participant_id)
    visits = session.scalars(select(Visit).where(Visit.participant_id == p.id)
                             .options(joinedload(Visit.definition)).order_by(Visit.target_date)).all()  # fmt: skip
    panels = {panel.visit_id: panel for panel in session.scalars(
        select(ResultPanel).where(ResultPanel.participant_id == p.id))}  # fmt: skip
    last_messages = session.scalars(select(OutboxMessage).where(OutboxMessage.participant_id == p.id)
                                    .order_by(OutboxMessage.id.desc()).limit(3)).all()  # fmt: skip
    consent_form = ConsentRecordForm()
    published = consent_admin.published_versions(session)
    consent_form.version.choices = options((str(v.id), f"{v.label} ({v.locale})") for v in published)
    record_view(session, p, actor())
    session.commit()
    return render_template(
        "staff/participant.html", p=p, visits=visits, panels=panels, today=today(), window_state=window_state,
        records=consent_admin.participant_records(session, p), consent_form=consent_form,
        last_messages=last_messages,
    )  # fmt: skip


@bp.route("/participants/<int:participant_id>/edit", methods=["GET", "POST"])
@staff_required(*EDITORS)
def participant_edit(participant_id: int) -> str | Response:
    p = get_participant(db_session(), me(), participant_id)
    form = EditParticipantForm(obj=p if request.method == "GET" else None)
    if request.method == "GET":
        form.phone.data = p.phone_e164
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        edit = ParticipantEdit(form.full_name.data or "", form.phone.data or "", form.preferred_locale.data or "",
                               bool(form.sms_opt_out.data), form.reason.data or "")  # fmt: skip
        try:
            edit_participant(db_session(), p, edit, actor(), now())
        except EnrolmentError as exc:
            db_session().rollback()
            errors = {k: error_text(v) for k, v in exc.errors.items()}
        else:
            db_session().commit()
            flash(_("Changes saved."), "info")
            return redirect(url_for("staff.participant", participant_id=p.id))
    return render_template("staff/participant_edit.html", p=p, form=form, errors=errors)


@bp.route("/participants/<int:participant_id>/end", methods=["GET", "POST"])
@staff_required(*EDITORS)
def participant_end(participant_id: int) -> str | Response:
    p = get_participant(db_session(), me(), participant_id)
    form = EndParticipationForm()
    if form.validate_on_submit():
        try:
            cancelled = end_participation(db_session(), p, form.status.data or "", form.on.data,
                                          form.reason.data or "", actor(), now=now())  # fmt: skip
        except ScheduleError:
            db_session().rollback()
            flash(_("Please give a reason."), "error")
        else:
            db_session().commit()
            flash(_("Recorded. %(count)s future visits and their reminders were cancelled.", count=len(cancelled)),
                  "info")  # fmt: skip
            return redirect(url_for("staff.participant", participant_id=p.id))
    return render_template("staff/participant_end.html", p=p, form=form)
