"""Lab panels: entry with unit-aware checks, corrections with history, release by an investigator."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from .. import results_entry as results
from ..access import staff_required
from ..analytes import ANALYTES
from ..extensions import db_session
from ..models import ResultCorrection, ResultPanel, ResultValue
from ..participant_admin import record_view
from ..scoping import get_panel, get_visit
from .blueprint import bp
from .common import actor, me, now
from .forms import CorrectionForm, PanelForm, ReleaseForm, options

ALL = ("admin", "coordinator", "investigator")
EDITORS = ("admin", "coordinator")
ERRORS = {
    "number": lambda: _("Not a number."),
    "unit": lambda: _("Unknown unit."),
    "implausible": lambda: _("Outside the plausible range: check the value and the unit."),
    "unknown": lambda: _("Unknown test."),
    "empty": lambda: _("Enter at least one value."),
    "pta_or_inr": lambda: _("Enter PTA or INR."),
    "not_completed": lambda: _("Record the visit as attended first."),
    "exists": lambda: _("This visit already has a panel: use a correction."),
    "required": lambda: _("A reason is required."),
    "released": lambda: _("Already released."),
    "investigator_only": lambda: _("Only an investigator can release results."),
}


def _grade(value: str | None) -> int | None:
    return int(value) if value in ("1", "2", "3") else None


@bp.route("/visits/<int:visit_id>/results", methods=["GET", "POST"])
@staff_required(*EDITORS)
def results_new(visit_id: int) -> str | Response:
    v = get_visit(db_session(), me(), visit_id)
    form = PanelForm()
    if request.method == "GET":
        form.collected_on.data = v.actual_date
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        raw = {a.code: (request.form.get(f"v_{a.code}", ""), request.form.get(f"u_{a.code}", a.unit))
               for a in ANALYTES}  # fmt: skip
        grades = results.Grades(_grade(form.ascites.data), _grade(form.encephalopathy.data),
                                bool(form.on_dialysis.data))  # fmt: skip
        try:
            values = results.parse_values(raw)
            panel = results.enter_panel(db_session(), v, form.collected_on.data, values, grades, me(), actor())
        except results.ResultsError as exc:
            db_session().rollback()
            errors = {k: ERRORS.get(c, ERRORS["number"])() for k, c in exc.errors.items()}
        else:
            db_session().commit()
            flash(_("Panel saved."), "info")
            return redirect(url_for("staff.panel", panel_id=panel.id))
    return render_template("staff/results_new.html", v=v, form=form, analytes=ANALYTES, errors=errors,
                           units_for=results.units_for)  # fmt: skip


@bp.get("/results/<int:panel_id>")
@staff_required(*ALL)
def panel(panel_id: int) -> str:
    p = get_panel(db_session(), me(), panel_id)
    corrections = db_session().scalars(
        select(ResultCorrection).join(ResultValue, ResultValue.id == ResultCorrection.value_id)
        .where(ResultValue.panel_id == p.id).order_by(ResultCorrection.corrected_at)).all()  # fmt: skip
    labels = {v.id: v.analyte for v in p.values}
    form = CorrectionForm()
    form.analyte.choices = options((a.code, a.staff_label) for a in ANALYTES)
    record_view(db_session(), p.participant, actor(), "results")
    db_session().commit()
    return render_template("staff/panel.html", panel=p, corrections=corrections, labels=labels, form=form,
                           release_form=ReleaseForm(), analytes={a.code: a for a in ANALYTES})  # fmt: skip


@bp.post("/results/<int:panel_id>/correct")
@staff_required(*EDITORS)
def panel_correct(panel_id: int) -> Response:
    p: ResultPanel = get_panel(db_session(), me(), panel_id)
    form = CorrectionForm()
    form.analyte.choices = options((a.code, a.staff_label) for a in ANALYTES)
    if form.validate_on_submit():
        try:
            value = float((form.value.data or "").replace(",", "."))
            results.correct_value(db_session(), p, form.analyte.data or "", value, form.reason.data or "", me(),
                                  actor())  # fmt: skip
        except ValueError as exc:
            db_session().rollback()
            code = next(iter(exc.errors.values())) if isinstance(exc, results.ResultsError) else "number"
            flash(ERRORS.get(code, ERRORS["number"])(), "error")
        else:
            db_session().commit()
            flash(_("Correction saved; the old value is kept in the history."), "info")
    else:
        flash(_("Give the value and a reason."), "error")
    return redirect(url_for("staff.panel", panel_id=p.id))


@bp.post("/results/<int:panel_id>/release")
@staff_required("investigator")
def panel_release(panel_id: int) -> Response:
    p = get_panel(db_session(), me(), panel_id)
    form = ReleaseForm()
    try:
        sms = results.release_panel(db_session(), p, me(), actor(), notify=bool(form.notify.data), now=now())
    except results.ResultsError as exc:
        db_session().rollback()
        flash(ERRORS.get(next(iter(exc.errors.values())), ERRORS["released"])(), "error")
    else:
        db_session().commit()
        flash(_("Released to the participant.") + (" " + _("An SMS is queued.") if sms else ""), "info")
    return redirect(url_for("staff.panel", panel_id=p.id))
