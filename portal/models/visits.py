"""Scheduled study visits and participants' requests to move them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..sql_dates import due_bound
from .base import Base, UTCDateTime, check_in, utcnow
from .people import Participant, StaffUser
from .study import VisitDefinition

VISIT_STATUSES = ("planned", "scheduled", "confirmed", "completed", "missed", "cancelled")
OPEN_VISIT_STATUSES = ("planned", "scheduled", "confirmed")
REQUEST_STATUSES = ("pending", "accepted", "declined", "withdrawn")


class Visit(Base):
    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("participant_id", "definition_id"),
        CheckConstraint(check_in("status", VISIT_STATUSES), name="status"),
        CheckConstraint("window_start <= target_date AND target_date <= window_end", name="window"),
        Index("ix_visits_participant_target", "participant_id", "target_date"),
        Index("ix_visits_status_target", "status", "target_date"),
        Index("ix_visits_status_scheduled", "status", "scheduled_at"),
        # A site's worklist reads only that site's open visits, by day or by booked time.
        Index("ix_visits_site_status_target", "site_id", "status", "target_date"),
        Index("ix_visits_site_status_scheduled", "site_id", "status", "scheduled_at"),
        ForeignKeyConstraint(["participant_id", "site_id"], ["participants.id", "participants.site_id"],
                             name="fk_visits_participant_site"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # With site_id, a foreign key to the participant's (id, site_id): the site is the
    # participant's, copied so that a site's worklist never scans other sites' visits.
    participant_id: Mapped[int] = mapped_column()
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    definition_id: Mapped[int] = mapped_column(ForeignKey("visit_definitions.id"), index=True)
    is_infusion: Mapped[bool] = mapped_column(default=False)
    target_date: Mapped[date] = mapped_column(Date)
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actual_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="planned")
    out_of_window: Mapped[bool] = mapped_column(default=False)
    out_of_window_reason: Mapped[str] = mapped_column(Text, default="")
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_channel: Mapped[str | None] = mapped_column(String(12))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    participant: Mapped[Participant] = relationship()
    definition: Mapped[VisitDefinition] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_VISIT_STATUSES


# A site's worklist: its open visits due by a day, found and (on PostgreSQL, which INCLUDEs
# every column the worklist sorts and shows) read from this index alone. Created by hand in
# migration 0002: autogenerate cannot write one expression index for both databases.
WORKLIST_INDEX = Index(
    "ix_visits_site_status_due", Visit.site_id, Visit.status,
    due_bound(Visit.window_end, Visit.scheduled_at, Visit.target_date),
    postgresql_include=["id", "participant_id", "definition_id", "is_infusion", "target_date", "window_start",
                        "window_end", "scheduled_at"],
)  # fmt: skip


class RescheduleRequest(Base):
    __tablename__ = "reschedule_requests"
    __table_args__ = (
        CheckConstraint(check_in("status", REQUEST_STATUSES), name="status"),
        Index("ix_reschedule_requests_visit_status", "visit_id", "status"),
        Index("ix_reschedule_requests_participant", "participant_id"),
        # A site's worklist: its pending requests, oldest first, straight from the index.
        Index("ix_reschedule_requests_site_status_created", "site_id", "status", "created_at", "id"),
        ForeignKeyConstraint(["participant_id", "site_id"], ["participants.id", "participants.site_id"],
                             name="fk_reschedule_requests_participant_site"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # With site_id, a foreign key to the participant's (id, site_id), as on visits.
    participant_id: Mapped[int] = mapped_column()
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"))
    proposed_date_1: Mapped[date] = mapped_column(Date)
    proposed_date_2: Mapped[date | None] = mapped_column(Date)
    proposed_date_3: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_date: Mapped[date | None] = mapped_column(Date)
    response_message: Mapped[str] = mapped_column(Text, default="")

    visit: Mapped[Visit] = relationship()
    participant: Mapped[Participant] = relationship()
    handled_by: Mapped[StaffUser | None] = relationship()

    @property
    def proposed_dates(self) -> list[date]:
        dates = (self.proposed_date_1, self.proposed_date_2, self.proposed_date_3)
        return [d for d in dates if d is not None]
