"""What every participant page shows around its content, read in ONE statement.

The navigation's unread badges (team replies, study news) and the banner for consent versions
awaiting re-consent appear on every page, so they cost one round trip together rather than one
each: a one-row table of the two counts, outer-joined to the pending versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Select, and_, bindparam, func, literal, select, true
from sqlalchemy.orm import Session

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
def _chrome_query() -> Select[tuple[int, int, int | None, int | None, str | None, str | None]]:
    """Built once with bound parameters: statement construction costs more than running it."""
    participant_id, study_id, site_id = bindparam("participant_id"), bindparam("study_id"), bindparam("site_id")
    unread_messages = select(func.count(OutboxMessage.id)).where(unread_replies(participant_id))
    unread_news = unread_news_query(participant_id, study_id, site_id)
    counts = select(
        unread_messages.scalar_subquery().label("messages"), unread_news.scalar_subquery().label("news"),
        literal(1).label("one"),
    ).subquery("counts")  # fmt: skip
    pending = and_(true(), *pending_reconsent_conditions(participant_id))
    return (
        select(counts.c.messages, counts.c.news, ConsentVersion.id, ConsentVersion.document_id,
               ConsentVersion.label, ConsentVersion.locale)
        .select_from(counts.outerjoin(ConsentVersion, pending))
        .order_by(ConsentVersion.effective_date, ConsentVersion.id)
    )


def patient_chrome(session: Session, participant: Participant) -> PatientChrome:
    rows = session.execute(
        _chrome_query(),
        {"participant_id": participant.id, "study_id": participant.study_id, "site_id": participant.site_id},
    ).all()
    versions = [row for row in rows if row.id is not None]
    chosen = one_per_label(versions, participant.preferred_locale, lambda r: (r.document_id, r.label, r.locale))
    first = rows[0]
    return PatientChrome(first.messages or 0, first.news or 0, tuple(r.id for r in chosen))
