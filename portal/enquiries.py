"""Volunteer enquiries from the public study page, and the team's queue that follows them up.

An enquiry is personal data about someone who is not (yet) a participant: it is site-scoped,
every step is audited without personal data in the trail, and whatever does not lead to
enrolment is deleted (not hidden) after the retention period.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker

from . import audit
from .audit import Actor
from .config import SUPPORTED_LOCALES, Settings
from .i18n import translations
from .models import Enquiry, EnquiryNote, OutboxMessage, Participant, Site, StaffUser, Study
from .models.enquiries import CALL_TIMES, ENQUIRY_STATUSES
from .outbox import queue_sms
from .phones import PhoneError, normalize_phone

NAME_MAX = 80
MESSAGE_MAX = 500
NOTE_MAX = 1000
ADDRESS_LIMIT = (5, timedelta(hours=1))  # enquiries from one address per hour
NUMBER_LIMIT = (3, timedelta(days=7))  # enquiries for one phone number per week
DUPLICATE_WINDOW = timedelta(days=1)
DEFAULT_RETENTION_DAYS = 180
# new → contacted → screening → not eligible | enrolled; "not eligible" may be decided at any open step.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("contacted", "not_eligible"),
    "contacted": ("screening", "not_eligible"),
    "screening": ("enrolled", "not_eligible"),
    "not_eligible": (),
    "enrolled": (),
}


def N_(text: str) -> str:
    return text


CONFIRMATION_SMS = N_("%(site)s: thank you for your enquiry. The study team will call you soon.")


class EnquiryError(ValueError):
    """Field → machine code ('required', 'too_long', 'invalid', 'not_mobile', 'unknown')."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))


class EnquiryRateLimited(Exception):
    """Too many enquiries from one address or for one number; ``code`` says which."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


class EnquiryStateError(ValueError):
    """A status change the workflow does not allow (or 'enrolled' without a participant of the site)."""


@dataclass(frozen=True)
class EnquiryInput:
    site_id: int | None
    full_name: str
    phone: str
    preferred_locale: str
    call_time: str
    message: str = ""
    consent: bool = False
    honeypot: str = ""  # a field people never see: anything in it means a robot


@dataclass(frozen=True)
class EnquiryReceipt:
    """What the visitor is told; identical for a new enquiry, a duplicate and a robot."""

    site: Site
    received_at: datetime
    enquiry_id: int | None
    outcome: str  # created | duplicate | ignored


# --- the public side -------------------------------------------------------------------------


def hash_address(address: str, secret: str) -> str:
    return hmac.new(secret.encode(), address.encode(), hashlib.sha256).hexdigest()


def validate(session: Session, study: Study, data: EnquiryInput) -> tuple[Site, str]:
    """Every problem at once, so the form can show them all."""
    errors: dict[str, str] = {}
    site = None
    if data.site_id is not None:
        site = session.scalar(select(Site).where(Site.id == data.site_id, Site.study_id == study.id))
    if site is None:
        errors["site"] = "required" if data.site_id is None else "unknown"
    name = data.full_name.strip()
    if not name:
        errors["full_name"] = "required"
    elif len(name) > NAME_MAX:
        errors["full_name"] = "too_long"
    phone = ""
    if not data.phone.strip():
        errors["phone"] = "required"
    else:
        try:
            phone = normalize_phone(data.phone)
        except PhoneError as exc:
            errors["phone"] = exc.code
    if data.preferred_locale not in SUPPORTED_LOCALES:
        errors["preferred_locale"] = "unknown"
    if data.call_time not in CALL_TIMES:
        errors["call_time"] = "unknown"
    if len(data.message.strip()) > MESSAGE_MAX:
        errors["message"] = "too_long"
    if not data.consent:
        errors["consent"] = "required"
    if errors or site is None:
        raise EnquiryError(errors)
    return site, phone


def _count_since(session: Session, column: object, value: str, since: datetime) -> int:
    return session.scalar(select(func.count(Enquiry.id)).where(column == value, Enquiry.created_at >= since)) or 0


def submit_enquiry(
    session: Session, study: Study, data: EnquiryInput, *, address: str, secret: str, now: datetime
) -> EnquiryReceipt:
    """Validate, drop robots, answer duplicates the same way, rate-limit, store and confirm by SMS."""
    site, phone = validate(session, study, data)
    if data.honeypot.strip():
        return EnquiryReceipt(site, now, None, "ignored")
    duplicate = session.scalar(
        select(Enquiry).where(
            Enquiry.phone_e164 == phone, Enquiry.site_id == site.id, Enquiry.created_at >= now - DUPLICATE_WINDOW
        ).order_by(Enquiry.created_at.desc()).limit(1)
    )  # fmt: skip
    if duplicate is not None:
        return EnquiryReceipt(site, duplicate.created_at, duplicate.id, "duplicate")
    address_hash = hash_address(address, secret)
    limit, period = ADDRESS_LIMIT
    if _count_since(session, Enquiry.address_hash, address_hash, now - period) >= limit:
        raise EnquiryRateLimited("address")
    limit, period = NUMBER_LIMIT
    if _count_since(session, Enquiry.phone_e164, phone, now - period) >= limit:
        raise EnquiryRateLimited("number")
    enquiry = Enquiry(
        study_id=study.id, site_id=site.id, full_name=data.full_name.strip(), phone_e164=phone,
        preferred_locale=data.preferred_locale, call_time=data.call_time, message=data.message.strip(),
        consent_to_contact=True, address_hash=address_hash, status="new", created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(enquiry)
    session.flush()
    enquiry.confirmation_message_id = _queue_confirmation(session, enquiry, site, now).id
    audit.record(
        session, Actor(type="anonymous", ip_address=address), "enquiry.submit", object_type="enquiry",
        object_id=enquiry.id, site_id=site.id, after={"status": "new", "locale": data.preferred_locale},
    )  # fmt: skip
    return EnquiryReceipt(site, now, enquiry.id, "created")


def _queue_confirmation(session: Session, enquiry: Enquiry, site: Site, now: datetime) -> OutboxMessage:
    """The visitor is holding the phone right now: sent at once, in the language they chose."""
    locale = enquiry.preferred_locale
    body = translations(locale).gettext(CONFIRMATION_SMS) % {"site": site.localized("sms_name", locale)}
    return queue_sms(
        session, to_number=enquiry.phone_e164, body=body, kind="enquiry", locale=locale, due_at=now,
        meta={"enquiry_id": enquiry.id},
    )  # fmt: skip


# --- the study team's queue ------------------------------------------------------------------


def enquiry_queue(
    session: Session, site_ids: Collection[int], status: str | None = None, limit: int = 200
) -> list[Enquiry]:
    """Open enquiries first-come first-served; a closed status lists the most recent first."""
    query = (
        select(Enquiry)
        .where(Enquiry.site_id.in_(list(site_ids)))
        .options(joinedload(Enquiry.site), joinedload(Enquiry.updated_by))
        .limit(limit)
    )
    if status:
        query = query.where(Enquiry.status == status)
    if status in ("not_eligible", "enrolled"):
        query = query.order_by(Enquiry.updated_at.desc())
    else:
        query = query.order_by(Enquiry.created_at, Enquiry.id)
    return list(session.scalars(query))


def status_counts(session: Session, site_ids: Collection[int]) -> dict[str, int]:
    rows = session.execute(
        select(Enquiry.status, func.count(Enquiry.id))
        .where(Enquiry.site_id.in_(list(site_ids)))
        .group_by(Enquiry.status)
    )
    counts = dict.fromkeys(ENQUIRY_STATUSES, 0)
    counts.update({status: count for status, count in rows})  # noqa: C416 - rows, not pairs
    return counts


def get_enquiry(session: Session, site_ids: Collection[int], enquiry_id: int) -> Enquiry | None:
    """Only within the viewer's sites: another site's enquiry is simply not found."""
    return session.scalar(
        select(Enquiry)
        .where(Enquiry.id == enquiry_id, Enquiry.site_id.in_(list(site_ids)))
        .options(
            joinedload(Enquiry.site),
            joinedload(Enquiry.participant),
            selectinload(Enquiry.notes).joinedload(EnquiryNote.staff),
        )
    )


def change_status(
    session: Session, enquiry: Enquiry, new_status: str, note: str, staff: StaffUser, actor: Actor,
    now: datetime, *, participant: Participant | None = None,
) -> None:  # fmt: skip
    if new_status not in TRANSITIONS.get(enquiry.status, ()):
        raise EnquiryStateError(f"{enquiry.status} → {new_status}")
    if new_status == "enrolled" and (participant is None or participant.site_id != enquiry.site_id):
        raise EnquiryStateError("enrolled needs a participant of the same site")
    before = enquiry.status
    enquiry.status = new_status
    if participant is not None and new_status == "enrolled":
        enquiry.participant_id = participant.id
    _touch(session, enquiry, staff, now, before, new_status, note)
    audit.record(
        session, actor, "enquiry.status", object_type="enquiry", object_id=enquiry.id, site_id=enquiry.site_id,
        participant_id=enquiry.participant_id, before={"status": before}, after={"status": new_status},
        reason=note.strip()[:NOTE_MAX],
    )  # fmt: skip


def add_note(session: Session, enquiry: Enquiry, note: str, staff: StaffUser, actor: Actor, now: datetime) -> None:
    if not note.strip():
        raise EnquiryError({"note": "required"})
    _touch(session, enquiry, staff, now, enquiry.status, enquiry.status, note)
    audit.record(session, actor, "enquiry.note", object_type="enquiry", object_id=enquiry.id,
                 site_id=enquiry.site_id)  # fmt: skip


def _touch(
    session: Session, enquiry: Enquiry, staff: StaffUser, now: datetime, before: str, after: str, note: str
) -> None:
    enquiry.updated_at, enquiry.updated_by_id = now, staff.id
    session.add(EnquiryNote(enquiry_id=enquiry.id, staff_id=staff.id, status_from=before, status_to=after,
                            note=note.strip()[:NOTE_MAX], created_at=now))  # fmt: skip
    session.flush()


def find_participant_for(session: Session, enquiry: Enquiry, study_code: str) -> Participant | None:
    """The participant an enquiry became: by study code, and only at the enquiry's site."""
    return session.scalar(
        select(Participant).where(
            Participant.study_code == study_code.strip(), Participant.site_id == enquiry.site_id,
            Participant.study_id == enquiry.study_id,
        )
    )  # fmt: skip


# --- retention -------------------------------------------------------------------------------


def purge_expired_enquiries(session: Session, now: datetime, retention_days: int = DEFAULT_RETENTION_DAYS) -> int:
    """Delete enquiries (their notes and confirmation SMS rows too) untouched for ``retention_days``,
    unless enrolled; the audit trail records counts only. Returns how many enquiries were deleted."""
    cutoff = now - timedelta(days=retention_days)
    expired = select(Enquiry.id).where(Enquiry.status != "enrolled", Enquiry.updated_at < cutoff)
    rows = session.execute(
        select(Enquiry.id, Enquiry.confirmation_message_id).where(Enquiry.id.in_(expired))
    ).all()
    if not rows:
        return 0
    ids = [row[0] for row in rows]
    message_ids = [row[1] for row in rows if row[1] is not None]
    notes = session.execute(delete(EnquiryNote).where(EnquiryNote.enquiry_id.in_(ids)))
    session.execute(delete(Enquiry).where(Enquiry.id.in_(ids)))
    messages = session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(message_ids))) if message_ids else None
    audit.record(
        session, audit.SYSTEM, "enquiry.purge", object_type="enquiry",
        after={"enquiries": len(ids), "notes": notes.rowcount, "messages": messages.rowcount if messages else 0,
               "retention_days": retention_days},
    )  # fmt: skip
    session.flush()
    return len(ids)


class _Worker(Protocol):
    settings: Settings
    session_factory: sessionmaker[Session]


def purge_job(ctx: _Worker) -> None:
    """The worker's periodic job (scheduler/jobs.py): one transaction, counts only in the audit trail."""
    with ctx.session_factory() as session, session.begin():
        purge_expired_enquiries(session, datetime.now(UTC), ctx.settings.enquiry_retention_days)
