"""What every participant page shows around its content, read with the signed-in participant.

The navigation's unread badges (team replies, study news) and the banner for consent versions
awaiting re-consent appear on every page, so they come in the same statement that loads the
signed-in participant (with their site and study) on every request: the participant's row,
two correlated counts, outer-joined to the pending versions (usually none, so one row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Select, and_, bindparam, func, select, true
from sqlalchemy.orm import Session, joinedload

from .consents import one_per_label, pending_reconsent_conditions
from .models import ConsentVersion, OutboxMessage, Participant
from .news import unread_news_query
from .portal_messages import unread_replies


@dataclass(frozen=True)
class PatientChrome:
    unread_messages: int
    unread_news: int
    pending_consent_ids: tuple[int, ...]  # one per document and label, in the participant's language if any


@lru_cache(maxsize=1)
def _participant_with_chrome() -> Select[tuple[Participant, int, int, int | None, int | None, str | None, str | None]]:
    """The chrome's statement joined to the participant's row. The id stays a bound parameter
    inside the subqueries (correlation reaches one level only); study and site are correlated."""
    participant_id = bindparam("participant_id")
    unread_messages = select(func.count(OutboxMessage.id)).where(unread_replies(participant_id))
    unread_news = unread_news_query(participant_id, Participant.study_id, Participant.site_id)
    pending = and_(true(), *pending_reconsent_conditions(participant_id))
    return (
        select(Participant, unread_messages.scalar_subquery().label("messages"),
               unread_news.scalar_subquery().label("news"), ConsentVersion.id, ConsentVersion.document_id,
               ConsentVersion.label, ConsentVersion.locale)
        .outerjoin(ConsentVersion, pending)
        .where(Participant.id == participant_id)
        .options(joinedload(Participant.site), joinedload(Participant.study))
        .order_by(ConsentVersion.effective_date, ConsentVersion.id)
    )  # fmt: skip


def load_with_chrome(session: Session, participant_id: int) -> tuple[Participant, PatientChrome] | None:
    """The participant (site and study loaded) and their page chrome, in one statement."""
    rows = session.execute(_participant_with_chrome(), {"participant_id": participant_id}).all()
    if not rows:
        return None
    participant = rows[0][0]
    return participant, _chrome(rows, participant.preferred_locale)


def _chrome(rows: Sequence[Row[Any]], locale: str) -> PatientChrome:
    versions = [row for row in rows if row.id is not None]
    chosen = one_per_label(versions, locale, lambda r: (r.document_id, r.label, r.locale))
    return PatientChrome(rows[0].messages or 0, rows[0].news or 0, tuple(r.id for r in chosen))


def patient_chrome(session: Session, participant: Participant) -> PatientChrome:
    """The chrome alone, for a request whose participant was not loaded by the session's user
    loader (which reads it along: see load_with_chrome)."""
    found = load_with_chrome(session, participant.id)
    return found[1] if found is not None else PatientChrome(0, 0, ())
