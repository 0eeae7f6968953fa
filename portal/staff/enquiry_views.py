"""The enquiries queue per site: new → contacted → screening → not eligible | enrolled, with notes."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from .. import audit, enquiries
from ..access import staff_required
from ..extensions import db_session
from ..models import Enquiry
from ..models.enquiries import ENQUIRY_STATUSES
from .blueprint import bp
from .common import actor, me, now, site_ids

ALL = ("admin", "coordinator", "investigator")
EDITORS = ("admin", "coordinator")


def enquiry_labels() -> dict[str, str]:
    return {
        "new": _("New"), "contacted": _("Contacted"), "screening": _("Screening"),
        "not_eligible": _("Not eligible"), "enrolled": _("Enrolled"),
        "morning": _("Morning"), "afternoon": _("Afternoon"), "evening": _("Early evening"), "any": _("Any time"),
    }  # fmt: skip


def _load(enquiry_id: int) -> Enquiry:
    enquiry = enquiries.get_enquiry(db_session(), site_ids(), enquiry_id)
    if enquiry is None:
        abort(404)  # another site's enquiry is indistinguishable from none
    return enquiry


@bp.get("/enquiries")
@staff_required(*ALL)
def enquiries_queue() -> str:
    status = request.args.get("status", "new")
    status = status if status in ENQUIRY_STATUSES else "new"
    ids = site_ids()
    items = enquiries.enquiry_queue(db_session(), ids, status)
    audit.record(db_session(), actor(), "enquiry.view_queue", object_type="enquiry", after={"status": status,
                 "count": len(items)})  # fmt: skip
    db_session().commit()
    return render_template("staff/enquiries.html", items=items, status=status, statuses=ENQUIRY_STATUSES,
                           counts=enquiries.status_counts(db_session(), ids), labels=enquiry_labels())  # fmt: skip


@bp.get("/enquiries/<int:enquiry_id>")
@staff_required(*ALL)
def enquiry(enquiry_id: int) -> str:
    item = _load(enquiry_id)
    audit.record(db_session(), actor(), "enquiry.view", object_type="enquiry", object_id=item.id,
                 site_id=item.site_id)  # fmt: skip
    db_session().commit()
    return render_template("staff/enquiry.html", item=item, labels=enquiry_labels(),
                           next_statuses=enquiries.TRANSITIONS[item.status])  # fmt: skip


@bp.post("/enquiries/<int:enquiry_id>/status")
@staff_required(*EDITORS)
def enquiry_status(enquiry_id: int) -> Response:
    item = _load(enquiry_id)
    new_status = request.form.get("status", "")
    participant = None
    if new_status == "enrolled":
        participant = enquiries.find_participant_for(db_session(), item, request.form.get("study_code", ""))
        if participant is None:
            flash(_("Enter the study ID of the participant enrolled from this enquiry (same site)."), "error")
            return redirect(url_for("staff.enquiry", enquiry_id=item.id))
    try:
        enquiries.change_status(db_session(), item, new_status, request.form.get("note", ""), me(), actor(), now(),
                                participant=participant)  # fmt: skip
    except enquiries.EnquiryStateError:
        db_session().rollback()
        flash(_("That step is not possible from here."), "error")
    else:
        db_session().commit()
        flash(_("Enquiry updated."), "info")
    return redirect(url_for("staff.enquiry", enquiry_id=item.id))


@bp.post("/enquiries/<int:enquiry_id>/note")
@staff_required(*EDITORS)
def enquiry_note(enquiry_id: int) -> Response:
    item = _load(enquiry_id)
    try:
        enquiries.add_note(db_session(), item, request.form.get("note", ""), me(), actor(), now())
    except enquiries.EnquiryError:
        db_session().rollback()
        flash(_("Write a note first."), "error")
    else:
        db_session().commit()
    return redirect(url_for("staff.enquiry", enquiry_id=item.id))


@bp.post("/enquiries/<int:enquiry_id>/enrol")
@staff_required(*EDITORS)
def enquiry_enrol(enquiry_id: int) -> Response:
    """Open the enrolment form pre-filled from the enquiry (kept in the session, never in the URL)."""
    item = _load(enquiry_id)
    session["enrol_prefill"] = {"full_name": item.full_name, "phone": item.phone_e164, "site": item.site.code,
                                "preferred_locale": item.preferred_locale}  # fmt: skip
    return redirect(url_for("staff.enrol"))
