"""The study as loaded from its protocol file: sites, arms, visit definitions, reminder rules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, JSONType, UTCDateTime, check_in, utcnow

VISIT_KINDS = ("baseline", "treatment", "follow_up", "long_term")


class Study(Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title_zh: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    sponsor_zh: Mapped[str] = mapped_column(String(200), default="")
    sponsor_en: Mapped[str] = mapped_column(String(200), default="")
    protocol_version: Mapped[str] = mapped_column(String(40))
    protocol_checksum: Mapped[str] = mapped_column(String(64))
    study_id_pattern: Mapped[str] = mapped_column(String(200))
    # Protocol content that pages read but no query filters on (public page, red-flag words,
    # preparation defaults): kept as the validated document, not spread over tables.
    content: Mapped[dict] = mapped_column(JSONType, default=dict)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sites: Mapped[list[Site]] = relationship(back_populates="study", order_by="Site.id")
    arms: Mapped[list[Arm]] = relationship(back_populates="study", order_by="Arm.id")
    visit_definitions: Mapped[list[VisitDefinition]] = relationship(
        back_populates="study", order_by="VisitDefinition.sequence"
    )
    reminder_rules: Mapped[list[ReminderRule]] = relationship(
        back_populates="study", order_by="ReminderRule.id"
    )


class Site(Base):
    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    # Short names go into SMS, where every character counts.
    sms_name_zh: Mapped[str] = mapped_column(String(40))
    sms_name_en: Mapped[str] = mapped_column(String(60))
    city_zh: Mapped[str] = mapped_column(String(80))
    city_en: Mapped[str] = mapped_column(String(80))
    address_zh: Mapped[str] = mapped_column(String(300))
    address_en: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str] = mapped_column(String(40))
    hours_zh: Mapped[str] = mapped_column(String(200))
    hours_en: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    default_visit_time: Mapped[str] = mapped_column(String(5), default="08:00")
    map_url: Mapped[str] = mapped_column(String(500), default="")

    study: Mapped[Study] = relationship(back_populates="sites")

    def localized(self, field: str, locale: str) -> str:
        return str(getattr(self, f"{field}_{'zh' if locale.startswith('zh') else 'en'}"))


class Arm(Base):
    __tablename__ = "arms"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))

    study: Mapped[Study] = relationship(back_populates="arms")


class VisitDefinition(Base):
    __tablename__ = "visit_definitions"
    __table_args__ = (
        UniqueConstraint("study_id", "code"),
        CheckConstraint(check_in("kind", VISIT_KINDS), name="kind"),
        CheckConstraint("day_offset >= 0", name="day_offset"),
        CheckConstraint("window_before >= 0 AND window_after >= 0", name="window"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    day_offset: Mapped[int] = mapped_column(Integer)
    window_before: Mapped[int] = mapped_column(Integer, default=0)
    window_after: Mapped[int] = mapped_column(Integer, default=0)
    procedures: Mapped[list] = mapped_column(JSONType, default=list)
    preparation_zh: Mapped[str] = mapped_column(Text, default="")
    preparation_en: Mapped[str] = mapped_column(Text, default="")
    fasting: Mapped[bool] = mapped_column(Boolean, default=True)

    study: Mapped[Study] = relationship(back_populates="visit_definitions")
    arm_links: Mapped[list[VisitDefinitionArm]] = relationship(
        back_populates="definition", cascade="all, delete-orphan"
    )


class VisitDefinitionArm(Base):
    """Which arms have a visit, and whether it is an infusion day for that arm."""

    __tablename__ = "visit_definition_arms"

    definition_id: Mapped[int] = mapped_column(ForeignKey("visit_definitions.id"), primary_key=True)
    arm_id: Mapped[int] = mapped_column(ForeignKey("arms.id"), primary_key=True)
    infusion: Mapped[bool] = mapped_column(Boolean, default=False)

    definition: Mapped[VisitDefinition] = relationship(back_populates="arm_links")
    arm: Mapped[Arm] = relationship()


class ReminderRule(Base):
    """A reminder expressed in site-local wall time relative to the visit day."""

    __tablename__ = "reminder_rules"
    __table_args__ = (
        UniqueConstraint("study_id", "code"),
        CheckConstraint("days_before >= 0", name="days_before"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    days_before: Mapped[int] = mapped_column(Integer)
    # "HH:MM" site-local; empty means "the visit's own time of day".
    local_time: Mapped[str] = mapped_column(String(5), default="")
    visit_kinds: Mapped[list] = mapped_column(JSONType, default=list)
    infusion_only: Mapped[bool] = mapped_column(Boolean, default=False)
    template: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    study: Mapped[Study] = relationship(back_populates="reminder_rules")
