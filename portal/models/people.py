"""Participants and study-team members."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, LoginIdentity, UTCDateTime, check_in, utcnow
from .study import Arm, Site, Study

PARTICIPANT_STATUSES = ("active", "withdrawn", "completed", "deceased")
OPT_OUT_CHANNELS = ("sms", "portal", "staff", "provider")
LOCALES = ("zh_Hans_CN", "en")
STAFF_ROLES = ("admin", "coordinator", "investigator")


class SiteLike(Protocol):
    """What participant-facing code reads of a site: the ORM row or a plain copy of it."""

    @property
    def id(self) -> int: ...
    @property
    def timezone(self) -> str: ...
    @property
    def phone(self) -> str: ...
    def localized(self, field: str, locale: str) -> str: ...


class StudyLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def content(self) -> Mapping[str, Any]: ...


class ParticipantLike(Protocol):
    """What functions that only read a participant need: the ORM row, or the signed-in
    participant's plain values that every participant page loads (patient_chrome.SignedInParticipant)."""

    @property
    def id(self) -> int: ...
    @property
    def study_id(self) -> int: ...
    @property
    def site_id(self) -> int: ...
    @property
    def preferred_locale(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def calendar_token_hash(self) -> str | None: ...
    @property
    def site(self) -> SiteLike: ...
    @property
    def study(self) -> StudyLike: ...


class Participant(LoginIdentity, Base):
    __tablename__ = "participants"
    login_prefix = "p"
    __table_args__ = (
        UniqueConstraint("study_id", "study_code"),
        UniqueConstraint("study_id", "phone_e164"),
        CheckConstraint(check_in("status", PARTICIPANT_STATUSES), name="status"),
        CheckConstraint(check_in("preferred_locale", LOCALES), name="preferred_locale"),
        CheckConstraint(
            f"sms_opt_out_channel IS NULL OR {check_in('sms_opt_out_channel', OPT_OUT_CHANNELS)}",
            name="sms_opt_out_channel",
        ),
        # Covering on PostgreSQL: the worklist reads a site's active participants from it alone.
        Index("ix_participants_site_status", "site_id", "status",
              postgresql_include=["id", "study_code", "full_name"]),
        # Target of visits' (participant_id, site_id) foreign key: a visit's site is its participant's.
        UniqueConstraint("id", "site_id", name="uq_participants_id_site"),
        # The roster's default page: one site's participants in study-code order, read in index order;
        # covering on PostgreSQL, so counting the whole match for the pager reads no table rows.
        Index("ix_participants_site_code", "site_id", "study_code", postgresql_include=["id"]),
        Index("ix_participants_phone", "phone_e164"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    arm_id: Mapped[int] = mapped_column(ForeignKey("arms.id"), index=True)
    study_code: Mapped[str] = mapped_column(String(40))
    full_name: Mapped[str] = mapped_column(String(120))
    phone_e164: Mapped[str] = mapped_column(String(20))
    preferred_locale: Mapped[str] = mapped_column(String(12), default="zh_Hans_CN")
    day0: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="active")
    status_reason: Mapped[str] = mapped_column(Text, default="")
    status_date: Mapped[date | None] = mapped_column(Date)
    sms_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_opt_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sms_opt_out_channel: Mapped[str | None] = mapped_column(String(12))
    # sha256 of the private calendar-feed token; the token itself is never stored.
    calendar_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    study: Mapped[Study] = relationship()
    site: Mapped[Site] = relationship()
    arm: Mapped[Arm] = relationship()

    @property
    def is_active(self) -> bool:
        # Withdrawn participants may still sign in: they see their site's phone number.
        return True

    @property
    def can_receive_sms(self) -> bool:
        return self.status == "active" and not self.sms_opt_out

    @property
    def phone_last4(self) -> str:
        return self.phone_e164[-4:]


staff_sites = Table(
    "staff_sites",
    Base.metadata,
    Column("staff_id", Integer, ForeignKey("staff_users.id"), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), primary_key=True, index=True),
)


class StaffUser(LoginIdentity, Base):
    __tablename__ = "staff_users"
    login_prefix = "s"
    __table_args__ = (
        CheckConstraint(check_in("role", STAFF_ROLES), name="role"),
        CheckConstraint(check_in("preferred_locale", LOCALES), name="preferred_locale"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    preferred_locale: Mapped[str] = mapped_column(String(12), default="zh_Hans_CN")
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The 30-second TOTP time step of the last accepted code: a code for this step or an earlier one
    # is refused, so a code seen over someone's shoulder cannot be used again within its window.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set at each deactivation and kept after reactivation: a session signed in before it is over.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sites: Mapped[list[Site]] = relationship(secondary=staff_sites, order_by="Site.id")

    @property
    def site_ids(self) -> set[int]:
        return {site.id for site in self.sites}


class StaffRecoveryCode(Base):
    """One-time recovery codes for the second factor, stored hashed."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
