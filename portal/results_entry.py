"""Entering, correcting and releasing lab panels.

Values are checked against the analyte catalogue (``portal.analytes``): a value may be typed in
an alternative unit (e.g. bilirubin in mg/dL) and is stored in the catalogue unit. Scores are
recomputed whenever a value changes; corrections keep the old value in ``ResultCorrection``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from . import audit
from .analytes import ANALYTES, BY_CODE
from .audit import Actor
from .i18n import translations
from .models import ResultCorrection, ResultPanel, ResultValue, StaffUser, Visit
from .outbox import queue_sms
from .scoring import scores_from_si

# Alternative units staff may type → factor to the catalogue unit.
ALT_UNITS: dict[str, dict[str, float]] = {
    "TBIL": {"mg/dL": 17.1},
    "CREA": {"mg/dL": 88.4},
    "ALB": {"g/dL": 10.0},
}

RELEASE_SMS = "%(site)s: new information is available in your study portal."  # msgid from staff_messaging


class ResultsError(ValueError):
    """``errors`` maps an analyte code (or field) to a machine code."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))


def units_for(code: str) -> list[str]:
    return [BY_CODE[code].unit, *ALT_UNITS.get(code, {})]


def to_catalogue_unit(code: str, value: float, unit: str) -> float:
    if unit in ("", BY_CODE[code].unit):
        return value
    factor = ALT_UNITS.get(code, {}).get(unit)
    if factor is None:
        raise ResultsError({code: "unit"})
    return value * factor


def parse_values(raw: dict[str, tuple[str, str]]) -> dict[str, float]:
    """{code: (text, unit)} → {code: value in catalogue unit}; blanks are skipped; all errors at once."""
    values: dict[str, float] = {}
    errors: dict[str, str] = {}
    for code, (text, unit) in raw.items():
        if code not in BY_CODE:
            errors[code] = "unknown"
            continue
        text = (text or "").strip().replace(",", ".")
        if not text:
            continue
        try:
            value = to_catalogue_unit(code, float(text), unit)
        except ValueError as exc:
            errors[code] = exc.errors[code] if isinstance(exc, ResultsError) else "number"
            continue
        analyte = BY_CODE[code]
        if not analyte.plausible_low <= value <= analyte.plausible_high:
            errors[code] = "implausible"
            continue
        values[code] = round(value, 3)
    if not errors and not values:
        errors["panel"] = "empty"
    if "PTA" not in values and "INR" not in values and not errors:
        errors["INR"] = "pta_or_inr"
    if errors:
        raise ResultsError(errors)
    return values


@dataclass(frozen=True)
class Grades:
    ascites: int | None = None
    encephalopathy: int | None = None
    on_dialysis: bool = False


def rescore(panel: ResultPanel) -> None:
    scores = scores_from_si({v.analyte: v.value for v in panel.values}, ascites=panel.ascites_grade,
                            encephalopathy=panel.encephalopathy_grade, on_dialysis=panel.on_dialysis)  # fmt: skip
    panel.meld = scores.meld
    panel.meld_na = scores.meld_na
    panel.child_pugh_score = scores.child_pugh.score if scores.child_pugh else None
    panel.child_pugh_class = scores.child_pugh.grade if scores.child_pugh else None


def enter_panel(
    session: Session, visit: Visit, collected_on: date, values: dict[str, float], grades: Grades,
    staff: StaffUser, actor: Actor,
) -> ResultPanel:  # fmt: skip
    """A visit's panel, entered once (later changes are corrections)."""
    if visit.status != "completed":
        raise ResultsError({"visit": "not_completed"})
    if session.query(ResultPanel.id).filter_by(visit_id=visit.id).first() is not None:
        raise ResultsError({"visit": "exists"})
    panel = ResultPanel(
        participant_id=visit.participant_id, visit_id=visit.id, collected_on=collected_on,
        ascites_grade=grades.ascites, encephalopathy_grade=grades.encephalopathy, on_dialysis=grades.on_dialysis,
        entered_by_id=staff.id,
    )  # fmt: skip
    for analyte in ANALYTES:
        if analyte.code in values:
            panel.values.append(ResultValue(analyte=analyte.code, value=values[analyte.code], unit=analyte.unit,
                                            ref_low=analyte.ref_low, ref_high=analyte.ref_high))  # fmt: skip
    rescore(panel)
    session.add(panel)
    session.flush()
    audit.record(session, actor, "results.enter", object_type="result_panel", object_id=panel.id,
                 participant_id=visit.participant_id, site_id=visit.participant.site_id,
                 after={**values, "meld": panel.meld, "meld_na": panel.meld_na,
                        "child_pugh": panel.child_pugh_class})  # fmt: skip
    return panel


def correct_value(
    session: Session, panel: ResultPanel, code: str, new_value: float, reason: str, staff: StaffUser, actor: Actor,
) -> ResultCorrection:  # fmt: skip
    if not reason.strip():
        raise ResultsError({"reason": "required"})
    analyte = BY_CODE.get(code)
    if analyte is None:
        raise ResultsError({code: "unknown"})
    if not analyte.plausible_low <= new_value <= analyte.plausible_high:
        raise ResultsError({code: "implausible"})
    value = next((v for v in panel.values if v.analyte == code), None)
    old: float | None = None
    if value is None:
        value = ResultValue(analyte=code, value=new_value, unit=analyte.unit,
                            ref_low=analyte.ref_low, ref_high=analyte.ref_high)  # fmt: skip
        panel.values.append(value)
        session.flush()
    else:
        old = value.value
        value.value = new_value
    correction = ResultCorrection(value_id=value.id, old_value=old if old is not None else new_value,
                                  new_value=new_value, reason=reason.strip(), corrected_by_id=staff.id)  # fmt: skip
    session.add(correction)
    rescore(panel)
    session.flush()
    audit.record(session, actor, "results.correct", object_type="result_panel", object_id=panel.id,
                 participant_id=panel.participant_id, site_id=panel.participant.site_id,
                 before={code: old}, after={code: new_value, "meld": panel.meld}, reason=reason.strip())  # fmt: skip
    return correction


def set_grades(session: Session, panel: ResultPanel, grades: Grades, reason: str, actor: Actor) -> None:
    before = {"ascites": panel.ascites_grade, "encephalopathy": panel.encephalopathy_grade,
              "dialysis": panel.on_dialysis}  # fmt: skip
    panel.ascites_grade, panel.encephalopathy_grade = grades.ascites, grades.encephalopathy
    panel.on_dialysis = grades.on_dialysis
    rescore(panel)
    audit.record(session, actor, "results.correct", object_type="result_panel", object_id=panel.id,
                 participant_id=panel.participant_id, site_id=panel.participant.site_id, before=before,
                 after={"ascites": grades.ascites, "encephalopathy": grades.encephalopathy,
                        "dialysis": grades.on_dialysis}, reason=reason)  # fmt: skip


def release_panel(
    session: Session, panel: ResultPanel, staff: StaffUser, actor: Actor, *, notify: bool, now: datetime | None = None,
) -> bool:  # fmt: skip
    """The investigator releases the panel to the participant; returns whether an SMS was queued."""
    if staff.role != "investigator":
        raise ResultsError({"panel": "investigator_only"})
    if panel.released_at is not None:
        raise ResultsError({"panel": "released"})
    panel.released_at, panel.released_by_id = now or datetime.now(UTC), staff.id
    participant = panel.participant
    sms = notify and participant.can_receive_sms
    if sms:
        locale = participant.preferred_locale
        body = translations(locale).gettext(RELEASE_SMS) % {"site": participant.site.localized("sms_name", locale)}
        queue_sms(session, to_number=participant.phone_e164, body=body, kind="notification", locale=locale,
                  participant_id=participant.id, created_by_id=staff.id, meta={"result_panel": panel.id})  # fmt: skip
    audit.record(session, actor, "results.release", object_type="result_panel", object_id=panel.id,
                 participant_id=participant.id, site_id=participant.site_id, after={"sms": sms})  # fmt: skip
    session.flush()
    return sms

