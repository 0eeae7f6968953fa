"""Lab result panels per visit, their values and corrections."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .people import Participant, StaffUser
from .visits import Visit


class ResultPanel(Base):
    __tablename__ = "result_panels"
    __table_args__ = (
        UniqueConstraint("visit_id"),
        CheckConstraint("ascites_grade IS NULL OR ascites_grade BETWEEN 1 AND 3", name="ascites"),
        CheckConstraint(
            "encephalopathy_grade IS NULL OR encephalopathy_grade BETWEEN 1 AND 3",
            name="encephalopathy",
        ),
        CheckConstraint(
            "child_pugh_class IS NULL OR child_pugh_class IN ('A', 'B', 'C')", name="child_pugh"
        ),
        Index("ix_result_panels_participant_released", "participant_id", "released_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"))
    collected_on: Mapped[date] = mapped_column(Date)
    # Clinical grades entered by the team (1 none, 2 mild/moderate, 3 severe).
    ascites_grade: Mapped[int | None] = mapped_column(Integer)
    encephalopathy_grade: Mapped[int | None] = mapped_column(Integer)
    on_dialysis: Mapped[bool] = mapped_column(default=False)
    meld: Mapped[float | None] = mapped_column(Float)
    meld_na: Mapped[float | None] = mapped_column(Float)
    child_pugh_score: Mapped[int | None] = mapped_column(Integer)
    child_pugh_class: Mapped[str | None] = mapped_column(String(1))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    participant: Mapped[Participant] = relationship()
    visit: Mapped[Visit] = relationship()
    values: Mapped[list[ResultValue]] = relationship(
        back_populates="panel", order_by="ResultValue.id", cascade="all, delete-orphan"
    )
    released_by: Mapped[StaffUser | None] = relationship(foreign_keys=[released_by_id])

    @property
    def is_released(self) -> bool:
        return self.released_at is not None


class ResultValue(Base):
    __tablename__ = "result_values"
    __table_args__ = (UniqueConstraint("panel_id", "analyte"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    panel_id: Mapped[int] = mapped_column(ForeignKey("result_panels.id"))
    analyte: Mapped[str] = mapped_column(String(20))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    ref_low: Mapped[float | None] = mapped_column(Float)
    ref_high: Mapped[float | None] = mapped_column(Float)

    panel: Mapped[ResultPanel] = relationship(back_populates="values")

    @property
    def flag(self) -> str:
        """'low', 'high' or 'normal' against the reference range."""
        return flag_for(self.value, self.ref_low, self.ref_high)


def flag_for(value: float, ref_low: float | None, ref_high: float | None) -> str:
    """'low', 'high' or 'normal' against a reference range (either end may be open)."""
    if ref_low is not None and value < ref_low:
        return "low"
    if ref_high is not None and value > ref_high:
        return "high"
    return "normal"


class ResultCorrection(Base):
    """The history of a corrected value: what it was, what it became, who and why."""

    __tablename__ = "result_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    value_id: Mapped[int] = mapped_column(ForeignKey("result_values.id"), index=True)
    old_value: Mapped[float] = mapped_column(Float)
    new_value: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
