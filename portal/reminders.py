"""Reminder planning (issue 4 fills this in): (visit, rule) → at most one outbox row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session


def replan_visits(session: Session, visit_ids: Sequence[int], now: datetime | None = None) -> None:
    """Re-plan the reminders of these visits at once (cancel stale, create due ones)."""


def replan_participants(
    session: Session, participant_ids: Sequence[int], now: datetime | None = None
) -> None:
    """Re-plan every reminder of these participants (opt-out, withdrawal, language change)."""
