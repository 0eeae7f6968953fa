"""Consent documents, their published versions and each participant's signatures."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .people import Participant, StaffUser


class ConsentDocument(Base):
    __tablename__ = "consent_documents"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))

    versions: Mapped[list[ConsentVersion]] = relationship(
        back_populates="document", order_by="ConsentVersion.effective_date"
    )


class ConsentVersion(Base):
    __tablename__ = "consent_versions"
    __table_args__ = (
        UniqueConstraint("document_id", "label", "locale"),
        UniqueConstraint("file_sha256"),
        Index("ix_consent_versions_published", "document_id", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("consent_documents.id"))
    label: Mapped[str] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(12))
    effective_date: Mapped[date] = mapped_column(Date)
    # Path relative to the consent storage folder (outside the web root).
    file_path: Mapped[str] = mapped_column(String(300))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_size: Mapped[int] = mapped_column(Integer)
    requires_reconsent: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    document: Mapped[ConsentDocument] = relationship(back_populates="versions")


class ConsentRecord(Base):
    """A signed paper consent, recorded by the study team (the paper is the legal record)."""

    __tablename__ = "consent_records"
    __table_args__ = (UniqueConstraint("participant_id", "version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("consent_versions.id"), index=True)
    signed_on: Mapped[date] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    participant: Mapped[Participant] = relationship()
    version: Mapped[ConsentVersion] = relationship()
    recorded_by: Mapped[StaffUser | None] = relationship()


class ConsentAcknowledgement(Base):
    """The participant opened and acknowledged a new version in the portal."""

    __tablename__ = "consent_acknowledgements"
    __table_args__ = (UniqueConstraint("participant_id", "version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("consent_versions.id"), index=True)
    locale: Mapped[str] = mapped_column(String(12))
    acknowledged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    version: Mapped[ConsentVersion] = relationship()
