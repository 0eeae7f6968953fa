"""The outbox: every SMS in or out is a row; reminders are plan entries pointing at rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, JSONType, UTCDateTime, check_in, utcnow
from .people import Participant, StaffUser
from .visits import Visit

DIRECTIONS = ("out", "in")
MESSAGE_KINDS = ("reminder", "sign_in_code", "staff", "notification", "reply", "inbound", "enquiry")
MESSAGE_STATUSES = (
    "pending",  # waiting for its due time
    "sending",  # claimed by a worker under a lease
    "unknown",  # the provider may or may not have it: reconcile before any retry
    "queued",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "cancelled",
    "received",  # inbound
)
PLAN_STATUSES = ("planned", "sent", "cancelled", "dropped")
# 'portal': written in the portal, never sent by the dispatch worker (in: 'received', out: 'delivered').
CHANNELS = ("sms", "portal")
MESSAGE_TOPICS = ("visit", "medicines", "feeling", "other")


OPEN_INBOX = "direction = 'in' AND handled_at IS NULL"


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("provider_id"),
        CheckConstraint(check_in("direction", DIRECTIONS), name="direction"),
        CheckConstraint(check_in("kind", MESSAGE_KINDS), name="kind"),
        CheckConstraint(check_in("status", MESSAGE_STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint(check_in("channel", CHANNELS), name="channel"),
        CheckConstraint(f"topic IS NULL OR {check_in('topic', MESSAGE_TOPICS)}", name="topic"),
        # The staff inbox: only replies nobody has handled yet (a few hundred rows however long the
        # study runs), with what it sorts on and the participant for the site join.
        Index("ix_outbox_messages_open_inbox", "urgent", "created_at", "id", "participant_id",
              postgresql_where=text(OPEN_INBOX), sqlite_where=text(OPEN_INBOX)),
        Index("ix_outbox_messages_status_due", "status", "due_at"),
        Index("ix_outbox_messages_participant_created", "participant_id", "created_at"),
        Index("ix_outbox_messages_to_created", "to_number", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(3), default="out")
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    to_number: Mapped[str] = mapped_column(String(20))
    from_number: Mapped[str] = mapped_column(String(20), default="")
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(12), default="zh_Hans_CN")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Messages that announce a visit must not go out after it.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_id: Mapped[str | None] = mapped_column(String(64))
    segments: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(20))
    error_message: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    meta: Mapped[dict] = mapped_column(JSONType, default=dict)
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    topic: Mapped[str | None] = mapped_column(String(12))
    # A portal message matching the protocol's warning signs: first in the team's inbox.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the participant first saw a team reply in the portal.
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_reason: Mapped[str] = mapped_column(Text, default="")

    participant: Mapped[Participant | None] = relationship()
    created_by: Mapped[StaffUser | None] = relationship(foreign_keys=[created_by_id])
    handled_by: Mapped[StaffUser | None] = relationship(foreign_keys=[handled_by_id])


class ReminderPlanEntry(Base):
    """One (visit, reminder rule) pair; the unique constraint is the at-most-once guarantee."""

    __tablename__ = "reminder_plan_entries"
    __table_args__ = (
        UniqueConstraint("visit_id", "rule_code"),
        UniqueConstraint("message_id"),
        CheckConstraint(check_in("status", PLAN_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"))
    rule_code: Mapped[str] = mapped_column(String(40))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
    planned_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default="planned")
    reason: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    visit: Mapped[Visit] = relationship()
    message: Mapped[OutboxMessage | None] = relationship()


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
