"""Secure messages between a participant and their study team, in the portal.

They are rows of the same outbox as every SMS, so that one conversation and one inbox hold both:
a participant's message is ``direction='in', channel='portal', status='received'``; a team reply
is ``direction='out', channel='portal', status='delivered'`` at once — never 'pending', so the
dispatch worker never sends it as an SMS. What goes by SMS is only a separate neutral notice
(``portal.notices``) that a reply is waiting.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from . import audit
from .audit import Actor
from .config import QuietHours
from .models import OutboxMessage, Participant, ParticipantLike, StaffUser
from .models.messages import MESSAGE_TOPICS
from .notices import queue_notice

BODY_MAX = 1000
REPLY_MAX = 2000
REASON_MAX = 300
RATE_LIMIT = (10, timedelta(hours=1))
CLOSED_STATUSES = ("withdrawn", "deceased")
# SMS the participant received, shown in their conversation (sign-in codes and unsent rows are not).
SHOWN_SMS_STATUSES = ("queued", "sent", "delivered", "undelivered")
_SPACES = re.compile(r"\s+")


class PortalMessageError(ValueError):
    """``code``: 'empty', 'too_long', 'topic', 'rate_limited', 'closed', 'not_open'."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


# --- warning signs ---------------------------------------------------------------------------


def normalize_for_match(text: str) -> str:
    """Full-width letters and digits to half-width (NFKC), any case to one, runs of spaces to one."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def red_flags_in(text: str, flags: Mapping[str, Sequence[str]]) -> list[str]:
    """The protocol's warning signs (either language) that the text mentions."""
    haystack = normalize_for_match(text)
    found = []
    for word in [*flags.get("zh", []), *flags.get("en", [])]:
        needle = normalize_for_match(word)
        if needle and needle in haystack:
            found.append(word)
    return found


# --- the participant's side ------------------------------------------------------------------


def clean_body(body: str, limit: int = BODY_MAX) -> str:
    """Stored as typed (only line endings unified and outer blank space dropped); counted in characters."""
    text = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise PortalMessageError("empty")
    if len(text) > limit:
        raise PortalMessageError("too_long")
    return text


def sent_last_hour(session: Session, participant: ParticipantLike, now: datetime) -> int:
    return session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.participant_id == participant.id, OutboxMessage.direction == "in",
            OutboxMessage.channel == "portal", OutboxMessage.created_at >= now - RATE_LIMIT[1],
        )
    ) or 0  # fmt: skip


def send_portal_message(
    session: Session, participant: ParticipantLike, body: str, topic: str | None, actor: Actor, now: datetime
) -> OutboxMessage:
    """Store the participant's message for the team; urgent when it names a warning sign."""
    if participant.status in CLOSED_STATUSES:
        raise PortalMessageError("closed")
    text = clean_body(body)
    if topic and topic not in MESSAGE_TOPICS:
        raise PortalMessageError("topic")
    if sent_last_hour(session, participant, now) >= RATE_LIMIT[0]:
        raise PortalMessageError("rate_limited")
    flags = red_flags_in(text, participant.study.content.get("red_flags") or {})
    message = OutboxMessage(
        direction="in", channel="portal", participant_id=participant.id, to_number="", from_number="",
        kind="inbound", body=text, locale=participant.preferred_locale, status="received", due_at=now,
        created_at=now, status_updated_at=now, topic=topic or None, urgent=bool(flags),
        meta={"red_flags": flags} if flags else {},
    )  # fmt: skip
    session.add(message)
    session.flush()
    audit.record(
        session, actor, "message.portal_send", object_type="outbox_message", object_id=message.id,
        participant_id=participant.id, site_id=participant.site_id,
        after={"topic": topic or "", "urgent": bool(flags), "length": len(text)},
    )  # fmt: skip
    return message


def _shown_to_participant(participant_id: object) -> ColumnElement[bool]:
    return (OutboxMessage.participant_id == participant_id) & or_(
        OutboxMessage.channel == "portal",
        OutboxMessage.direction == "in",
        (OutboxMessage.kind != "sign_in_code") & OutboxMessage.status.in_(SHOWN_SMS_STATUSES),
    )


@lru_cache(maxsize=1)
def _conversation_query() -> Select[tuple[OutboxMessage]]:
    """Built once: the conversation page runs it on every visit, and building costs more than running."""
    return (
        select(OutboxMessage)
        .where(_shown_to_participant(bindparam("participant_id")))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(bindparam("limit"))
    )  # fmt: skip


@lru_cache(maxsize=1)
def _unread_query() -> Select[tuple[int]]:
    return select(OutboxMessage.id).where(unread_replies(bindparam("participant_id")))


def participant_conversation(session: Session, participant: ParticipantLike, limit: int = 200) -> list[OutboxMessage]:
    """Everything between the participant and the team, newest first: portal both ways, SMS both ways."""
    return list(session.scalars(_conversation_query(), {"participant_id": participant.id, "limit": limit}))


def unread_replies(participant_id: object) -> ColumnElement[bool]:
    """The team's portal replies the participant has not opened (a value or a bound parameter)."""
    return (
        (OutboxMessage.participant_id == participant_id) & (OutboxMessage.channel == "portal")
        & (OutboxMessage.direction == "out") & OutboxMessage.read_at.is_(None)
    )  # fmt: skip


def mark_replies_read(session: Session, participant: ParticipantLike, actor: Actor, now: datetime) -> list[int]:
    """The participant opened the conversation: unread replies become read (each read is audited)."""
    ids = list(session.scalars(_unread_query(), {"participant_id": participant.id}))
    if ids:
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(read_at=now),
                        execution_options={"synchronize_session": False})  # fmt: skip
        for message_id in ids:
            audit.record(session, actor, "message.portal_read", object_type="outbox_message", object_id=message_id,
                         participant_id=participant.id, site_id=participant.site_id)  # fmt: skip
    return ids


# --- the study team's side -------------------------------------------------------------------


def open_messages(session: Session, participant: ParticipantLike) -> list[OutboxMessage]:
    return list(session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.participant_id == participant.id, OutboxMessage.direction == "in",
               OutboxMessage.handled_at.is_(None))
        .order_by(OutboxMessage.created_at)
    ))  # fmt: skip


def reply_in_portal(
    session: Session, participant: Participant, body: str, staff: StaffUser, actor: Actor, now: datetime,
    quiet: QuietHours,
) -> OutboxMessage:  # fmt: skip
    """The reply shows in the portal at once; one content-free SMS says a message is waiting."""
    text = clean_body(body, REPLY_MAX)
    reply = OutboxMessage(
        direction="out", channel="portal", participant_id=participant.id, to_number="", kind="staff", body=text,
        locale=participant.preferred_locale, status="delivered", due_at=now, created_at=now, sent_at=now,
        delivered_at=now, status_updated_at=now, created_by_id=staff.id,
    )  # fmt: skip
    session.add(reply)
    session.flush()
    answered = open_messages(session, participant)
    for message in answered:
        message.handled_at, message.handled_by_id, message.handled_reason = now, staff.id, "replied"
    notice = queue_notice(session, participant, "portal_message", now, quiet, meta={"reply_id": reply.id},
                          created_by_id=staff.id)  # fmt: skip
    reply.meta = {"notice_id": notice.id if notice else None, "answers": [m.id for m in answered]}
    audit.record(
        session, actor, "message.portal_reply", object_type="outbox_message", object_id=reply.id,
        participant_id=participant.id, site_id=participant.site_id,
        after={"answers": len(answered), "sms_notice": notice is not None, "length": len(text)},
    )  # fmt: skip
    return reply


def mark_handled_with_reason(
    session: Session, message: OutboxMessage, reason: str, staff: StaffUser, actor: Actor, now: datetime
) -> None:
    """Close an incoming message without replying; the reason is kept and audited."""
    reason = reason.strip()
    if not reason:
        raise PortalMessageError("empty")
    if message.direction != "in" or message.handled_at is not None:
        raise PortalMessageError("not_open")
    message.handled_at, message.handled_by_id, message.handled_reason = now, staff.id, reason[:REASON_MAX]
    audit.record(
        session, actor, "message.handled", object_type="outbox_message", object_id=message.id,
        participant_id=message.participant_id, site_id=message.participant.site_id if message.participant else None,
        reason=reason[:REASON_MAX],
    )  # fmt: skip


def with_handlers(session: Session, participant: ParticipantLike) -> list[OutboxMessage]:
    """Incoming messages with who handled them and when, newest first (for the team's conversation view)."""
    return list(session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.participant_id == participant.id, OutboxMessage.direction == "in")
        .options(joinedload(OutboxMessage.handled_by))
        .order_by(OutboxMessage.created_at.desc())
        .limit(100)
    ))  # fmt: skip
