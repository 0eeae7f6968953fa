"""Consent versions (upload, publish, download), signed consents, and who still needs re-consent."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from .. import audit, consent_admin
from ..access import staff_required
from ..extensions import db_session
from ..models import ConsentVersion
from ..scoping import get_participant
from .blueprint import bp
from .common import actor, me, now, parse_int, settings, site_ids
from .forms import ConsentRecordForm, ConsentUploadForm, options
from .participant_views import study

ALL = ("admin", "coordinator", "investigator")
EDITORS = ("admin", "coordinator")
ERRORS = {
    "empty": lambda: _("The file is empty."),
    "too_large": lambda: _("The file is larger than 10 MB."),
    "not_pdf": lambda: _("Only PDF files are accepted."),
    "duplicate": lambda: _("This file or this version label and language is already uploaded."),
    "label": lambda: _("Give a version label."),
    "locale": lambda: _("Unknown language."),
    "published": lambda: _("Already published."),
    "not_published": lambda: _("Only a published version can be recorded."),
    "already_recorded": lambda: _("This signature is already recorded."),
}


def _version(version_id: int) -> ConsentVersion:
    version = db_session().get(ConsentVersion, version_id)
    if version is None:
        abort(404)
    return version


@bp.get("/consents")
@staff_required(*ALL)
def consents() -> str:
    versions = consent_admin.versions(db_session())
    return render_template("staff/consents.html", form=ConsentUploadForm(), versions=versions)


@bp.post("/consents")
@staff_required(*EDITORS)
def consent_upload() -> str | Response:
    form = ConsentUploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            document = consent_admin.default_document(db_session(), study())
            consent_admin.upload_version(
                db_session(), settings().instance_path, document, label=form.label.data or "",
                locale=form.locale.data or "", effective_date=form.effective_date.data,
                filename=upload.filename or "", data=upload.read(consent_admin.MAX_PDF_BYTES + 1),
                requires_reconsent=bool(form.requires_reconsent.data), staff=me(), actor=actor(),
            )  # fmt: skip
        except consent_admin.ConsentError as exc:
            db_session().rollback()
            flash(ERRORS[exc.code](), "error")
        else:
            db_session().commit()
            flash(_("Uploaded. Check the file, then publish it."), "info")
            return redirect(url_for("staff.consents"))
    return render_template("staff/consents.html", form=form, versions=consent_admin.versions(db_session())), 400


@bp.post("/consents/<int:version_id>/publish")
@staff_required(*EDITORS)
def consent_publish(version_id: int) -> Response:
    try:
        consent_admin.publish_version(db_session(), _version(version_id), actor(), now())
    except consent_admin.ConsentError as exc:
        db_session().rollback()
        flash(ERRORS[exc.code](), "error")
    else:
        db_session().commit()
        flash(_("Published."), "info")
    return redirect(url_for("staff.consents"))


@bp.get("/consents/<int:version_id>/file")
@staff_required(*ALL)
def consent_file(version_id: int) -> Response:
    version = _version(version_id)
    path = consent_admin.storage_dir(settings().instance_path) / version.file_path
    if not path.is_file():
        abort(404)
    audit.record(db_session(), actor(), "consent.download", object_type="consent_version", object_id=version.id)
    db_session().commit()
    current_app.logger.debug("consent file %s served", version.id)
    return send_file(path, mimetype="application/pdf", download_name=f"consent-{version.label}-{version.locale}.pdf")


@bp.get("/consents/<int:version_id>/reconsent")
@staff_required(*ALL)
def reconsent(version_id: int) -> str:
    version = _version(version_id)
    rows = consent_admin.reconsent_status(db_session(), site_ids(), version)
    audit.record(db_session(), actor(), "consent.reconsent_list", object_type="consent_version",
                 object_id=version.id, after={"rows": len(rows)})  # fmt: skip
    db_session().commit()
    return render_template("staff/reconsent.html", version=version, rows=rows)


@bp.post("/participants/<int:participant_id>/consents")
@staff_required(*EDITORS)
def consent_record(participant_id: int) -> Response:
    p = get_participant(db_session(), me(), participant_id)
    form = ConsentRecordForm()
    versions = consent_admin.published_versions(db_session())
    form.version.choices = options((str(v.id), v.label) for v in versions)
    if form.validate_on_submit():
        version_id = parse_int(form.version.data)
        version = next(v for v in versions if v.id == version_id)
        try:
            consent_admin.record_signed(db_session(), p, version, form.signed_on.data, me(), actor())
        except consent_admin.ConsentError as exc:
            db_session().rollback()
            flash(ERRORS[exc.code](), "error")
        else:
            db_session().commit()
            flash(_("Signed consent recorded."), "info")
    else:
        flash(_("Choose a published version and the date it was signed."), "error")
    return redirect(url_for("staff.participant", participant_id=p.id))
