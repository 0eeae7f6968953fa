"""Study news: short updates in both languages to the whole study or one site.

Publishing writes one receipt per participant of the audience (the unique constraint makes the
neutral SMS go at most once per participant) and, if asked, queues that SMS for those who may
receive texts. Participants see the items of their study and site; unread ones are marked.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session, joinedload

from . import audit
from .audit import Actor
from .config import QuietHours
from .models import NewsItem, NewsReceipt, Participant, ParticipantLike, Site, StaffUser, Study
from .notices import queue_notice

TITLE_MAX = 120
BODY_MAX = 2000
# Deceased participants' families must not be written to; everyone else may read the news.
AUDIENCE_STATUSES = ("active", "withdrawn", "completed")


class NewsError(ValueError):
    """Field → machine code ('required', 'too_long', 'unknown', 'not_allowed')."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True)
class NewsDraft:
    site_id: int | None  # None: every site of the study
    title_zh: str
    title_en: str
    body_zh: str
    body_en: str
    notify_sms: bool = False


@dataclass(frozen=True)
class NewsEntry:
    item: NewsItem
    read: bool


def _validate(session: Session, study: Study, draft: NewsDraft, allowed_site_ids: Collection[int]) -> None:
    errors: dict[str, str] = {}
    limits = {"title_zh": TITLE_MAX, "title_en": TITLE_MAX, "body_zh": BODY_MAX, "body_en": BODY_MAX}
    for field, limit in limits.items():
        value = getattr(draft, field).strip()
        if not value:
            errors[field] = "required"
        elif len(value) > limit:
            errors[field] = "too_long"
    study_sites = set(session.scalars(select(Site.id).where(Site.study_id == study.id)))
    if draft.site_id is None:
        if not study_sites <= set(allowed_site_ids):
            errors["site"] = "not_allowed"  # only someone with every site may write to the whole study
    elif draft.site_id not in study_sites:
        errors["site"] = "unknown"
    elif draft.site_id not in allowed_site_ids:
        errors["site"] = "not_allowed"
    if errors:
        raise NewsError(errors)


def _audience(session: Session, study: Study, site_id: int | None) -> list[Participant]:
    query = (
        select(Participant)
        .where(Participant.study_id == study.id, Participant.status.in_(AUDIENCE_STATUSES))
        .options(joinedload(Participant.site))
        .order_by(Participant.id)
    )
    if site_id is not None:
        query = query.where(Participant.site_id == site_id)
    return list(session.scalars(query))


def publish_news(
    session: Session, study: Study, draft: NewsDraft, staff: StaffUser, actor: Actor, now: datetime,
    quiet: QuietHours, allowed_site_ids: Collection[int],
) -> tuple[NewsItem, int]:  # fmt: skip
    """Publish an item; returns it and how many neutral SMS were queued."""
    _validate(session, study, draft, allowed_site_ids)
    item = NewsItem(
        study_id=study.id, site_id=draft.site_id, title_zh=draft.title_zh.strip(), title_en=draft.title_en.strip(),
        body_zh=draft.body_zh.strip(), body_en=draft.body_en.strip(), notify_sms=draft.notify_sms,
        published_at=now, published_by_id=staff.id,
    )  # fmt: skip
    session.add(item)
    session.flush()
    receipts: list[dict[str, object]] = []
    notified = 0
    for participant in _audience(session, study, draft.site_id):
        message = None
        if draft.notify_sms:
            message = queue_notice(session, participant, "study_news", now, quiet, meta={"news_item_id": item.id},
                                   created_by_id=staff.id)  # fmt: skip
            notified += message is not None
        receipts.append({"news_item_id": item.id, "participant_id": participant.id,
                         "message_id": message.id if message else None, "created_at": now})  # fmt: skip
    if receipts:
        session.execute(insert(NewsReceipt), receipts)
    audit.record(
        session, actor, "news.publish", object_type="news_item", object_id=item.id, site_id=draft.site_id,
        after={"audience": len(receipts), "sms": notified, "scope": "site" if draft.site_id else "study"},
    )  # fmt: skip
    return item, notified


def _visible(participant: ParticipantLike) -> ColumnElement[bool]:
    return visible_to(participant.study_id, participant.site_id)


def visible_to(study_id: object, site_id: object) -> ColumnElement[bool]:
    """News for the whole study or for this site (values or bound parameters)."""
    return and_(NewsItem.study_id == study_id, or_(NewsItem.site_id.is_(None), NewsItem.site_id == site_id))


def news_for(session: Session, participant: ParticipantLike, limit: int = 50) -> list[NewsEntry]:
    """The participant's news, newest first, each marked read or unread."""
    rows = session.execute(
        select(NewsItem, NewsReceipt.read_at)
        .outerjoin(NewsReceipt, and_(NewsReceipt.news_item_id == NewsItem.id,
                                     NewsReceipt.participant_id == participant.id))
        .where(_visible(participant))
        .order_by(NewsItem.published_at.desc(), NewsItem.id.desc())
        .limit(limit)
    )  # fmt: skip
    return [NewsEntry(item, read_at is not None) for item, read_at in rows]


def unread_news_query(participant_id: object, study_id: object, site_id: object) -> Select[tuple[int]]:
    """How many visible items the participant has not read (values or bound parameters)."""
    read = select(NewsReceipt.news_item_id).where(
        NewsReceipt.participant_id == participant_id, NewsReceipt.read_at.is_not(None)
    )
    return select(func.count(NewsItem.id)).where(visible_to(study_id, site_id), NewsItem.id.not_in(read))


def unread_news_count(session: Session, participant: ParticipantLike) -> int:
    return session.scalar(unread_news_query(participant.id, participant.study_id, participant.site_id)) or 0


def mark_read(session: Session, participant: ParticipantLike, item_ids: Collection[int], now: datetime) -> int:
    """Mark the given items read (creating receipts for items published before the participant joined)."""
    if not item_ids:
        return 0
    visible = set(session.scalars(select(NewsItem.id).where(_visible(participant), NewsItem.id.in_(list(item_ids)))))
    if not visible:
        return 0
    session.execute(
        update(NewsReceipt)
        .where(NewsReceipt.participant_id == participant.id, NewsReceipt.news_item_id.in_(visible),
               NewsReceipt.read_at.is_(None))
        .values(read_at=now),
        execution_options={"synchronize_session": False},
    )  # fmt: skip
    have = set(session.scalars(select(NewsReceipt.news_item_id).where(
        NewsReceipt.participant_id == participant.id, NewsReceipt.news_item_id.in_(visible))))  # fmt: skip
    missing = [{"news_item_id": i, "participant_id": participant.id, "created_at": now, "read_at": now}
               for i in sorted(visible - have)]  # fmt: skip
    if missing:
        session.execute(insert(NewsReceipt), missing)
    return len(visible)


def staff_news(session: Session, study: Study, site_ids: Collection[int], limit: int = 100) -> list[NewsItem]:
    """Items the viewer may see: study-wide ones and those of their sites, newest first."""
    return list(session.scalars(
        select(NewsItem)
        .where(NewsItem.study_id == study.id, or_(NewsItem.site_id.is_(None), NewsItem.site_id.in_(list(site_ids))))
        .options(joinedload(NewsItem.site), joinedload(NewsItem.published_by))
        .order_by(NewsItem.published_at.desc(), NewsItem.id.desc())
        .limit(limit)
    ))  # fmt: skip


def receipt_counts(session: Session, item_ids: Collection[int]) -> dict[int, tuple[int, int]]:
    """news item id → (participants reached, participants who read it)."""
    if not item_ids:
        return {}
    rows = session.execute(
        select(NewsReceipt.news_item_id, func.count(NewsReceipt.id), func.count(NewsReceipt.read_at))
        .where(NewsReceipt.news_item_id.in_(list(item_ids)))
        .group_by(NewsReceipt.news_item_id)
    )
    return {item_id: (total, read) for item_id, total, read in rows}
