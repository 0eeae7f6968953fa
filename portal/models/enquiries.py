"""Volunteer enquiries from the public study page: personal data kept only for a retention period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, check_in, utcnow
from .people import Participant, StaffUser
from .study import Site

ENQUIRY_STATUSES = ("new", "contacted", "screening", "not_eligible", "enrolled")
CALL_TIMES = ("morning", "afternoon", "evening", "any")


class Enquiry(Base):
    __tablename__ = "enquiries"
    __table_args__ = (
        CheckConstraint(check_in("status", ENQUIRY_STATUSES), name="status"),
        CheckConstraint(check_in("call_time", CALL_TIMES), name="call_time"),
        Index("ix_enquiries_site_status_created", "site_id", "status", "created_at"),
        Index("ix_enquiries_phone_created", "phone_e164", "created_at"),
        Index("ix_enquiries_address_created", "address_hash", "created_at"),
        Index("ix_enquiries_status_updated", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    full_name: Mapped[str] = mapped_column(String(80))
    phone_e164: Mapped[str] = mapped_column(String(20))
    preferred_locale: Mapped[str] = mapped_column(String(12))
    call_time: Mapped[str] = mapped_column(String(12), default="any")
    message: Mapped[str] = mapped_column(Text, default="")
    consent_to_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    # sha256 of the sender's address (keyed with the app secret): rate limits without keeping the IP.
    address_hash: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="new")
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    confirmation_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))

    site: Mapped[Site] = relationship()
    participant: Mapped[Participant | None] = relationship()
    updated_by: Mapped[StaffUser | None] = relationship()
    notes: Mapped[list[EnquiryNote]] = relationship(
        back_populates="enquiry",
        order_by="[EnquiryNote.created_at.desc(), EnquiryNote.id.desc()]",
        cascade="all, delete-orphan",
    )


class EnquiryNote(Base):
    """One step in an enquiry's history: who moved it, from what to what, and why."""

    __tablename__ = "enquiry_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    enquiry_id: Mapped[int] = mapped_column(ForeignKey("enquiries.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    status_from: Mapped[str] = mapped_column(String(16), default="")
    status_to: Mapped[str] = mapped_column(String(16), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    enquiry: Mapped[Enquiry] = relationship(back_populates="notes")
    staff: Mapped[StaffUser | None] = relationship()
