"""Study news: short updates in both languages for the whole study or one site."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .people import StaffUser
from .study import Site


class NewsItem(Base):
    __tablename__ = "news_items"
    __table_args__ = (Index("ix_news_items_study_published", "study_id", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    # None: every participant of the study.
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    title_zh: Mapped[str] = mapped_column(String(120))
    title_en: Mapped[str] = mapped_column(String(120))
    body_zh: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    notify_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))

    site: Mapped[Site | None] = relationship()
    published_by: Mapped[StaffUser | None] = relationship()


class NewsReceipt(Base):
    """A participant and one news item: notified (at most once, the unique constraint) and read."""

    __tablename__ = "news_receipts"
    __table_args__ = (
        UniqueConstraint("news_item_id", "participant_id"),
        Index("ix_news_receipts_participant", "participant_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    news_item_id: Mapped[int] = mapped_column(ForeignKey("news_items.id"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
