"""Messages from the study team: conversations, templates, bulk sends, the inbox of replies.

Every message is an outbox row (``portal.outbox.queue_sms``); the reminder worker sends it.
Bodies are rendered in the participant's saved language and carry the minimum (DESIGN.md §3.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, literal_column, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from . import audit
from .audit import Actor
from .i18n import translations
from .models import OutboxMessage, Participant, StaffUser, Visit
from .models.visits import OPEN_VISIT_STATUSES
from .outbox import queue_sms

MAX_SEGMENTS = 2
# Words an SMS must never carry (a phone screen is not private).
FORBIDDEN = ("stem cell", "cirrhosis", "干细胞", "肝硬化", "uc-msc", "msc", "placebo", "对照组")
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def N_(text: str) -> str:
    return text


# Fixed templates (carriers want few, registered ones); placeholders are filled per participant.
TEMPLATES: dict[str, str] = {
    "call_us": N_("%(site)s: please call the study team at %(phone)s during working hours."),
    "portal_news": N_("%(site)s: new information is available in your study portal."),
    "bring_documents": N_("%(site)s: for your next study visit please bring your ID card and medical insurance card."),
}


class MessagingError(ValueError):
    """``code``: 'empty', 'too_long', 'forbidden_word', 'cannot_receive'."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


def segments(body: str) -> int:
    """SMS segments: GSM-7 160/153 per part (escaped chars count twice), UCS-2 70/67."""
    if all(ch in GSM7 for ch in body):
        units = len(body) + sum(1 for ch in body if ch in "^{}\\[~]|€")
        return 1 if units <= 160 else -(-units // 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


def check_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise MessagingError("empty")
    if segments(body) > MAX_SEGMENTS:
        raise MessagingError("too_long")
    low = body.lower()
    if any(_contains_word(low, word) for word in FORBIDDEN):
        raise MessagingError("forbidden_word")
    return body


def _contains_word(text: str, word: str) -> bool:
    if not word.isascii():
        return word in text
    import re

    return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None


def render_template(code: str, participant: Participant) -> str:
    locale = participant.preferred_locale
    return translations(locale).gettext(TEMPLATES[code]) % {
        "site": participant.site.localized("sms_name", locale),
        "phone": participant.site.phone,
    }


def conversation(session: Session, participant: Participant) -> list[OutboxMessage]:
    """Everything sent to or received from the participant, oldest first, with the sender loaded."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.participant_id == participant.id)
            .options(joinedload(OutboxMessage.created_by))
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
    )


def send_message(
    session: Session, participant: Participant, body: str, staff: StaffUser, actor: Actor, *,
    template: str = "", bulk_id: str = "",
) -> OutboxMessage:  # fmt: skip
    if not participant.can_receive_sms:
        raise MessagingError("cannot_receive")
    body = check_body(body)
    message = queue_sms(
        session, to_number=participant.phone_e164, body=body, kind="staff", locale=participant.preferred_locale,
        participant_id=participant.id, created_by_id=staff.id,
        meta={k: v for k, v in {"template": template, "bulk": bulk_id}.items() if v},
    )  # fmt: skip
    message.segments = segments(body)
    audit.record(session, actor, "message.send", object_type="outbox_message", object_id=message.id,
                 participant_id=participant.id, site_id=participant.site_id,
                 after={"template": template or "free_text", "segments": message.segments, "bulk": bulk_id})
    return message


@dataclass(frozen=True)
class BulkAudience:
    recipients: list[Participant]
    excluded: list[Participant]  # opted out (or otherwise unable to receive): shown, never sent


def bulk_audience(
    session: Session, site_ids: Sequence[int], today: date, *, within_days: int | None = None, status: str = "active",
) -> BulkAudience:  # fmt: skip
    """Participants at these sites, optionally only those with an open visit in the next N days."""
    query = (
        select(Participant)
        .where(Participant.site_id.in_(list(site_ids)), Participant.status == status)
        .options(joinedload(Participant.site))
        .order_by(Participant.study_code)
    )
    if within_days is not None:
        horizon = today + timedelta(days=within_days)
        query = query.where(exists().where(
            Visit.participant_id == Participant.id, Visit.status.in_(OPEN_VISIT_STATUSES),
            Visit.target_date >= today, Visit.target_date <= horizon,
        ))  # fmt: skip
    people = list(session.scalars(query))
    return BulkAudience([p for p in people if p.can_receive_sms], [p for p in people if not p.can_receive_sms])


def send_bulk(
    session: Session, audience: BulkAudience, template: str, staff: StaffUser, actor: Actor, now: datetime,
) -> int:  # fmt: skip
    """One templated message per recipient, each in their own language; one summary audit row."""
    bulk_id = f"b{int(now.timestamp())}-{staff.id}"
    for participant in audience.recipients:
        send_message(session, participant, render_template(template, participant), staff, actor,
                     template=template, bulk_id=bulk_id)  # fmt: skip
    audit.record(session, actor, "message.bulk", object_type="bulk", object_id=bulk_id,
                 after={"template": template, "sent": len(audience.recipients),
                        "excluded": len(audience.excluded)})  # fmt: skip
    return len(audience.recipients)


INBOX_PAGE_SIZE = 50


@dataclass(frozen=True)
class InboxPage:
    messages: list[OutboxMessage]
    total: int
    page: int
    pages: int


def _unhandled(site_ids: Sequence[int]) -> Any:
    # Served by the partial index ix_outbox_messages_open_inbox, then participants by primary key.
    # 'in' is written into the SQL, not bound: a prepared statement's generic plan can only use a
    # partial index whose condition the statement states in constants.
    return (
        select(OutboxMessage)
        .join(Participant, Participant.id == OutboxMessage.participant_id)
        .where(OutboxMessage.direction == literal_column("'in'"), OutboxMessage.handled_at.is_(None),
               Participant.site_id.in_(list(site_ids)))
    )  # fmt: skip


def inbox(session: Session, site_ids: Sequence[int], page: int = 1, size: int = INBOX_PAGE_SIZE) -> InboxPage:
    """One page of inbound replies nobody has handled yet, warning signs first then oldest first;
    the total comes from the same statement (a window count), so a page costs one query."""
    page = max(page, 1)
    rows = session.execute(
        _unhandled(site_ids).add_columns(func.count().over())
        .options(contains_eager(OutboxMessage.participant))
        .order_by(OutboxMessage.urgent.desc(), OutboxMessage.created_at, OutboxMessage.id)
        .limit(size).offset((page - 1) * size)
    ).all()  # fmt: skip
    total = rows[0][1] if rows else 0
    if not rows and page > 1:
        total = session.scalar(select(func.count()).select_from(_unhandled(site_ids).subquery())) or 0
    pages = max(1, -(-total // size))
    return InboxPage([r[0] for r in rows], total, min(page, pages), pages)


def mark_handled(session: Session, message: OutboxMessage, staff: StaffUser, actor: Actor) -> None:
    if message.direction != "in" or message.handled_at is not None:
        return
    message.handled_at, message.handled_by_id = datetime.now(UTC), staff.id
    participant = message.participant
    audit.record(session, actor, "message.handled", object_type="outbox_message", object_id=message.id,
                 participant_id=message.participant_id, site_id=participant.site_id if participant else None)
