"""Consent documents as a participant sees them: what they signed, what is new, acknowledging.

The signed paper form is the legal record; the portal only shows copies and records that a
participant opened and acknowledged a new version. Files live under
``<instance_path>/consents/`` with ``ConsentVersion.file_path`` relative to that folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, exists, select
from sqlalchemy.orm import Session, joinedload

from . import audit
from .audit import Actor
from .models import ConsentAcknowledgement, ConsentDocument, ConsentRecord, ConsentVersion, ParticipantLike

T = TypeVar("T")


class ConsentFileMissing(LookupError):
    """The version's file is not in the storage folder (or its path would leave it)."""


@dataclass(frozen=True)
class SignedConsent:
    record: ConsentRecord
    version: ConsentVersion
    document: ConsentDocument
    other_languages: tuple[ConsentVersion, ...]  # the same version in the other language

    @property
    def signed_on(self) -> date:
        return self.record.signed_on


def signed_consents(session: Session, participant: ParticipantLike) -> list[SignedConsent]:
    records = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.participant_id == participant.id)
        .options(joinedload(ConsentRecord.version).joinedload(ConsentVersion.document))
        .order_by(ConsentRecord.signed_on.desc(), ConsentRecord.id.desc())
    ).all()
    keys = {(r.version.document_id, r.version.label) for r in records}
    siblings: dict[tuple[int, str], list[ConsentVersion]] = {}
    if keys:
        doc_ids = {k[0] for k in keys}
        for version in session.scalars(
            select(ConsentVersion).where(
                ConsentVersion.document_id.in_(doc_ids), ConsentVersion.published_at.is_not(None)
            )
        ):
            siblings.setdefault((version.document_id, version.label), []).append(version)
    return [
        SignedConsent(
            record=r,
            version=r.version,
            document=r.version.document,
            other_languages=tuple(
                v for v in siblings.get((r.version.document_id, r.version.label), []) if v.id != r.version_id
            ),
        )
        for r in records
    ]


def pending_reconsent_conditions(participant_id: object) -> tuple[ColumnElement[bool], ...]:
    """Where a ConsentVersion needs this participant's re-consent: published, flagged, newer than
    what they signed of the same document, and no version of that label acknowledged or signed."""
    signed_version = ConsentVersion.__table__.alias("signed_version")
    newer_than_signed = exists().where(
        ConsentRecord.participant_id == participant_id,
        ConsentRecord.version_id == signed_version.c.id,
        signed_version.c.document_id == ConsentVersion.document_id,
        signed_version.c.effective_date < ConsentVersion.effective_date,
    )
    same_label = ConsentVersion.__table__.alias("same_label")
    already_done = exists().where(
        same_label.c.document_id == ConsentVersion.document_id,
        same_label.c.label == ConsentVersion.label,
        (
            exists().where(
                ConsentAcknowledgement.participant_id == participant_id,
                ConsentAcknowledgement.version_id == same_label.c.id,
            )
            | exists().where(
                ConsentRecord.participant_id == participant_id, ConsentRecord.version_id == same_label.c.id
            )
        ),
    )
    return (
        ConsentVersion.requires_reconsent.is_(True),
        ConsentVersion.published_at.is_not(None),
        newer_than_signed,
        ~already_done,
    )


def one_per_label(versions: Iterable[T], preferred_locale: str, key: Callable[[T], tuple[int, str, str]]) -> list[T]:
    """One version per (document, label), in the participant's language when there is one;
    ``key`` gives (document_id, label, locale). Order is kept."""
    chosen: dict[tuple[int, str], T] = {}
    for version in versions:
        document_id, label, locale = key(version)
        if (document_id, label) not in chosen or locale == preferred_locale:
            chosen[(document_id, label)] = version
    return list(chosen.values())


@lru_cache(maxsize=1)
def _pending_reconsent_query() -> Select[tuple[ConsentVersion]]:
    """Built once: SQLAlchemy statement construction is slow."""
    return (
        select(ConsentVersion)
        .where(*pending_reconsent_conditions(bindparam("participant_id")))
        .options(joinedload(ConsentVersion.document))
        .order_by(ConsentVersion.effective_date, ConsentVersion.id)
    )


def pending_reconsent(session: Session, participant: ParticipantLike) -> list[ConsentVersion]:
    """Published versions needing re-consent, newer than what the participant signed, not yet
    acknowledged or signed (in either language); one per version label, in their language if any."""
    candidates = session.scalars(_pending_reconsent_query(), {"participant_id": participant.id}).all()
    return one_per_label(candidates, participant.preferred_locale, lambda v: (v.document_id, v.label, v.locale))


def version_for(session: Session, participant: ParticipantLike, version_id: int) -> ConsentVersion | None:
    """A published version of a document this participant signed; None for anything else."""
    signed_version = ConsentVersion.__table__.alias("signed_version")
    theirs = exists().where(
        ConsentRecord.participant_id == participant.id,
        ConsentRecord.version_id == signed_version.c.id,
        signed_version.c.document_id == ConsentVersion.document_id,
    )
    return session.scalar(
        select(ConsentVersion)
        .where(ConsentVersion.id == version_id, ConsentVersion.published_at.is_not(None), theirs)
        .options(joinedload(ConsentVersion.document))
    )


def is_pending(session: Session, participant: ParticipantLike, version: ConsentVersion) -> bool:
    return any(
        v.document_id == version.document_id and v.label == version.label
        for v in pending_reconsent(session, participant)
    )


def acknowledge(
    session: Session, participant: ParticipantLike, version: ConsentVersion, locale: str, actor: Actor, now: datetime
) -> ConsentAcknowledgement | None:
    """Record that the participant opened and acknowledged this new version (once)."""
    existing = session.scalar(
        select(ConsentAcknowledgement).where(
            ConsentAcknowledgement.participant_id == participant.id,
            ConsentAcknowledgement.version_id == version.id,
        )
    )
    if existing is not None:
        return existing
    ack = ConsentAcknowledgement(
        participant_id=participant.id, version_id=version.id, locale=locale, acknowledged_at=now
    )
    session.add(ack)
    audit.record(
        session, actor, "consent.acknowledge", object_type="consent_version", object_id=version.id,
        participant_id=participant.id, site_id=participant.site_id,
        after={"label": version.label, "locale": locale, "acknowledged_at": now.isoformat()},
    )  # fmt: skip
    session.flush()
    return ack


def storage_folder(instance_path: Path) -> Path:
    return Path(instance_path) / "consents"


def file_path(instance_path: Path, version: ConsentVersion) -> Path:
    """The stored file, refusing any path that would leave the storage folder."""
    folder = storage_folder(instance_path).resolve()
    path = (folder / version.file_path).resolve()
    if folder not in path.parents or not path.is_file():
        raise ConsentFileMissing(version.file_path)
    return path
