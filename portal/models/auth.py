"""Phone sign-in codes for participants.

A challenge row is written for every code request, for unknown numbers too (with no
participant and no SMS), so known and unknown numbers take the same path and the per-number
and per-address rate limits are plain counts over this table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class SignInChallenge(Base):
    __tablename__ = "sign_in_challenges"
    __table_args__ = (
        Index("ix_sign_in_challenges_phone_created", "phone_hash", "created_at"),
        Index("ix_sign_in_challenges_address_created", "address_hash", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Keyed hashes: the table never holds a phone number, an address or a code in clear.
    phone_hash: Mapped[str] = mapped_column(String(64))
    address_hash: Mapped[str] = mapped_column(String(64))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
