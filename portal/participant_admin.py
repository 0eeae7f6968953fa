"""Changing a participant's details from the console: every change carries a reason and its before/after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, reminders
from .audit import Actor
from .models import Participant
from .participants import EnrolmentError, set_sms_opt_out
from .phones import PhoneError, normalize_phone


@dataclass(frozen=True)
class ParticipantEdit:
    full_name: str
    phone: str
    preferred_locale: str
    sms_opt_out: bool
    reason: str


def edit_participant(session: Session, participant: Participant, edit: ParticipantEdit, actor: Actor,
                     now: datetime) -> bool:  # fmt: skip
    """Apply the edit; returns whether anything changed. Raises EnrolmentError with field codes."""
    errors: dict[str, str] = {}
    if not edit.reason.strip():
        errors["reason"] = "required"
    if not edit.full_name.strip():
        errors["full_name"] = "required"
    phone = participant.phone_e164
    try:
        phone = normalize_phone(edit.phone)
    except PhoneError as exc:
        errors["phone"] = exc.code
    else:
        clash = session.scalar(select(Participant.id).where(
            Participant.study_id == participant.study_id, Participant.phone_e164 == phone,
            Participant.id != participant.id))  # fmt: skip
        if clash is not None:
            errors["phone"] = "taken"
    if edit.preferred_locale not in ("zh_Hans_CN", "en"):
        errors["preferred_locale"] = "unknown"
    if errors:
        raise EnrolmentError(errors)
    before = {"full_name": participant.full_name, "phone": participant.phone_e164,
              "preferred_locale": participant.preferred_locale}  # fmt: skip
    participant.full_name = edit.full_name.strip()
    participant.phone_e164 = phone
    participant.preferred_locale = edit.preferred_locale
    after = {"full_name": participant.full_name, "phone": phone, "preferred_locale": participant.preferred_locale}
    changed_before, changed_after = audit.changes(before, after)
    if changed_after:
        audit.record(session, actor, "participant.edit", object_type="participant", object_id=participant.id,
                     participant_id=participant.id, site_id=participant.site_id, before=changed_before,
                     after=changed_after, reason=edit.reason.strip())  # fmt: skip
        reminders.replan_participants(session, [participant.id], now=now)
    opt = set_sms_opt_out(session, participant, edit.sms_opt_out, "staff", actor, now)
    session.flush()
    return bool(changed_after) or opt


def record_view(session: Session, participant: Participant, actor: Actor, what: str = "record") -> None:
    """Every look at a participant's record leaves a row (DESIGN.md invariant 7)."""
    audit.record(session, actor, "participant.view", object_type="participant", object_id=participant.id,
                 participant_id=participant.id, site_id=participant.site_id, after={"page": what})  # fmt: skip
