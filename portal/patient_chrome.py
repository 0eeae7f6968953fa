"""The signed-in participant and what every participant page shows around its content.

Every participant request reads the participant (with their site and study), the navigation's
unread badges (team replies, study news) and the banner for consent versions awaiting
re-consent, so they come in one statement: the participant's row joined to their site and
study, two correlated counts, outer-joined to the pending versions (usually none, so one row).

The participant comes back as plain, frozen values, not an ORM object: building ORM objects
(three, with the eager-load machinery) was the largest single cost of a participant page, and
these pages only read them. Views that change the participant load the ORM row by id
(patient/common.py: participant_row). The treatment arm is not read at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from functools import lru_cache
from typing import Any, ClassVar

from sqlalchemy import Row, Select, and_, bindparam, func, select, true
from sqlalchemy.orm import Session

from .consents import one_per_label, pending_reconsent_conditions
from .db import json_text, read_rows, shared_json
from .i18n import localized
from .models import ConsentVersion, OutboxMessage, Participant, Site, Study
from .models.base import LoginIdentity
from .news import unread_news_query
from .portal_messages import unread_replies


@dataclass(frozen=True)
class SiteInfo:
    """A site as participant pages read it (field names are the sites table's columns)."""

    id: int
    code: str
    name_zh: str
    name_en: str
    sms_name_zh: str
    sms_name_en: str
    city_zh: str
    city_en: str
    address_zh: str
    address_en: str
    phone: str
    hours_zh: str
    hours_en: str
    timezone: str
    default_visit_time: str
    map_url: str

    def localized(self, field: str, locale: str) -> str:
        return localized(self, field, locale)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: its content is a dict
class StudyInfo:
    """A study as participant pages read it (field names are the studies table's columns)."""

    id: int
    code: str
    title_zh: str
    title_en: str
    sponsor_zh: str
    sponsor_en: str
    content: Mapping[str, Any]  # read-only, shared by every request that read the same content


@dataclass(frozen=True, eq=False)
class SignedInParticipant(LoginIdentity):
    """The signed-in participant for one request (field names are the participants table's columns)."""

    login_prefix: ClassVar[str] = "p"

    id: int
    study_id: int
    site_id: int
    study_code: str
    full_name: str
    preferred_locale: str
    day0: date
    status: str
    status_date: date | None
    sms_opt_out: bool
    calendar_token_hash: str | None
    site: SiteInfo
    study: StudyInfo

    @property
    def is_active(self) -> bool:
        return True  # as Participant.is_active: withdrawn participants may still sign in


@dataclass(frozen=True)
class PatientChrome:
    unread_messages: int
    unread_news: int
    pending_consent_ids: tuple[int, ...]  # one per document and label, in the participant's language if any


_OWN_FIELDS = tuple(f.name for f in fields(SignedInParticipant) if f.name not in ("site", "study"))
_SITE_FIELDS = tuple(f.name for f in fields(SiteInfo))
_STUDY_FIELDS = tuple(f.name for f in fields(StudyInfo) if f.name != "content")  # content: read as text


@lru_cache(maxsize=1)
def _participant_with_chrome() -> Select[Any]:
    """The participant's, site's and study's columns with the chrome. The id stays a bound
    parameter inside the subqueries (correlation reaches one level only); study and site are
    correlated. Built once (construction costs more than running)."""
    participant_id = bindparam("participant_id")
    people, sites, studies = Participant.__table__, Site.__table__, Study.__table__
    unread_messages = select(func.count(OutboxMessage.id)).where(unread_replies(participant_id))
    unread_news = unread_news_query(participant_id, Participant.study_id, Participant.site_id)
    pending = and_(true(), *pending_reconsent_conditions(participant_id))
    return (
        select(*(people.c[name] for name in _OWN_FIELDS),
               *(sites.c[name].label(f"site__{name}") for name in _SITE_FIELDS),
               *(studies.c[name].label(f"study__{name}") for name in _STUDY_FIELDS),
               json_text(studies.c.content).label("study__content"),
               unread_messages.scalar_subquery().label("chrome_messages"),
               unread_news.scalar_subquery().label("chrome_news"), ConsentVersion.id.label("version_id"),
               ConsentVersion.document_id.label("version_document_id"), ConsentVersion.label.label("version_label"),
               ConsentVersion.locale.label("version_locale"))
        .join(sites, sites.c.id == people.c.site_id)
        .join(studies, studies.c.id == people.c.study_id)
        .outerjoin(ConsentVersion, pending)
        .where(people.c.id == participant_id)
        .order_by(ConsentVersion.effective_date, ConsentVersion.id)
    )  # fmt: skip


def load_with_chrome(session: Session, participant_id: int) -> tuple[SignedInParticipant, PatientChrome] | None:
    """The participant (with site and study) and their page chrome, in one statement."""
    rows = read_rows(session, _participant_with_chrome(), {"participant_id": participant_id}).all()
    if not rows:
        return None
    participant = _participant(rows[0]._mapping)
    return participant, _chrome(rows, participant.preferred_locale)


def _participant(values: Any) -> SignedInParticipant:
    site = SiteInfo(**{name: values[f"site__{name}"] for name in _SITE_FIELDS})
    study = StudyInfo(**{name: values[f"study__{name}"] for name in _STUDY_FIELDS},
                      content=shared_json(values["study__content"]) or {})
    return SignedInParticipant(**{name: values[name] for name in _OWN_FIELDS}, site=site, study=study)


def _chrome(rows: Sequence[Row[Any]], locale: str) -> PatientChrome:
    versions = [row for row in rows if row.version_id is not None]
    key = lambda r: (r.version_document_id, r.version_label, r.version_locale)  # noqa: E731
    chosen = one_per_label(versions, locale, key)
    first = rows[0]
    return PatientChrome(first.chrome_messages or 0, first.chrome_news or 0, tuple(r.version_id for r in chosen))
