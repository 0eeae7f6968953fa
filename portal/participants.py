"""Enrolling participants and changing what the team knows about them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from . import audit, reminders
from .audit import Actor
from .models import Arm, Participant, Site, Study
from .phones import PhoneError, normalize_phone
from .schedule import create_visits


class EnrolmentError(ValueError):
    """Field → machine code of what is wrong (views and the importer translate them)."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True)
class EnrolmentData:
    study_code: str
    full_name: str
    phone: str
    site_code: str
    arm_code: str
    day0: date
    preferred_locale: str = "zh_Hans_CN"


def validate_enrolment(session: Session, study: Study, data: EnrolmentData) -> tuple[Site, Arm, str]:
    """Every problem at once, so a form or an import row can show them all."""
    errors: dict[str, str] = {}
    if not re.fullmatch(study.study_id_pattern, data.study_code.strip()):
        errors["study_code"] = "format"
    elif _taken(session, study, Participant.study_code, data.study_code.strip()):
        errors["study_code"] = "taken"
    if not data.full_name.strip():
        errors["full_name"] = "required"
    phone = ""
    try:
        phone = normalize_phone(data.phone)
    except PhoneError as exc:
        errors["phone"] = exc.code
    else:
        if _taken(session, study, Participant.phone_e164, phone):
            errors["phone"] = "taken"
    site = session.scalar(select(Site).where(Site.study_id == study.id, Site.code == data.site_code))
    if site is None:
        errors["site"] = "unknown"
    arm = session.scalar(select(Arm).where(Arm.study_id == study.id, Arm.code == data.arm_code))
    if arm is None:
        errors["arm"] = "unknown"
    if data.preferred_locale not in ("zh_Hans_CN", "en"):
        errors["preferred_locale"] = "unknown"
    if errors or site is None or arm is None:
        raise EnrolmentError(errors)
    return site, arm, phone


def _taken(session: Session, study: Study, column: InstrumentedAttribute[str], value: str) -> bool:
    return session.scalar(select(Participant.id).where(Participant.study_id == study.id, column == value)) is not None


def enrol_participant(
    session: Session, study: Study, data: EnrolmentData, actor: Actor, now: datetime | None = None
) -> Participant:
    """Create the participant, generate their protocol visits and plan their reminders."""
    site, arm, phone = validate_enrolment(session, study, data)
    participant = Participant(
        study_id=study.id,
        site_id=site.id,
        arm_id=arm.id,
        study_code=data.study_code.strip(),
        full_name=data.full_name.strip(),
        phone_e164=phone,
        preferred_locale=data.preferred_locale,
        day0=data.day0,
    )
    session.add(participant)
    session.flush()
    visits = create_visits(session, participant)
    audit.record(
        session, actor, "participant.enrol", object_type="participant", object_id=participant.id,
        participant_id=participant.id, site_id=site.id,
        after={"study_code": participant.study_code, "arm": arm.code, "day0": data.day0.isoformat(),
               "site": site.code, "visits": len(visits)},
    )  # fmt: skip
    reminders.replan_participants(session, [participant.id], now=now)
    return participant


def set_sms_opt_out(
    session: Session, participant: Participant, opted_out: bool, channel: str, actor: Actor, now: datetime
) -> bool:
    """Switch SMS reminders off or on; returns whether anything changed."""
    if participant.sms_opt_out == opted_out:
        return False
    before = {"sms_opt_out": participant.sms_opt_out}
    participant.sms_opt_out = opted_out
    participant.sms_opt_out_at = now if opted_out else None
    participant.sms_opt_out_channel = channel if opted_out else None
    audit.record(
        session, actor, "participant.sms_opt_out" if opted_out else "participant.sms_opt_in",
        object_type="participant", object_id=participant.id, participant_id=participant.id,
        site_id=participant.site_id, before=before, after={"sms_opt_out": opted_out, "channel": channel},
    )  # fmt: skip
    reminders.replan_participants(session, [participant.id], now=now)
    return True
