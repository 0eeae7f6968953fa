"""Consent versions for the study team: upload, publish, record signatures, track re-consent.

PDFs are stored outside the web root under ``<instance>/consents/`` named by their sha256;
``ConsentVersion.file_path`` is relative to that folder.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, joinedload

from . import audit
from .audit import Actor
from .models import (
    ConsentAcknowledgement,
    ConsentDocument,
    ConsentRecord,
    ConsentVersion,
    Participant,
    StaffUser,
    Study,
)

MAX_PDF_BYTES = 10 * 1024 * 1024
LOCALES = ("zh_Hans_CN", "en")


class ConsentError(ValueError):
    """``code``: 'empty', 'too_large', 'not_pdf', 'duplicate', 'label', 'locale', 'published', 'not_published',
    'already_recorded'."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


def storage_dir(instance_path: Path) -> Path:
    return Path(instance_path) / "consents"


@dataclass(frozen=True)
class CopiedFiles:
    copied: int
    present: int  # already at the target with the right content
    missing: tuple[str, ...]  # named by a version, but in neither folder
    damaged: tuple[str, ...]  # the source's content does not match the version's checksum: not copied


def copy_version_files(session: Session, source: Path, target: Path) -> CopiedFiles:
    """Copy the PDF of every consent version in ``session``'s database from ``source`` to
    ``target`` (into a backup's folder, or back from one), each checked against its version's
    sha256. A stored PDF never changes, so one already at the target with the right content is
    left alone: backing up to the same place again copies only new ones. A PDF is written before
    the row that names it is committed, so a copy made after a snapshot of the database, from the
    live database's list, holds every PDF the snapshot names."""
    copied, present, missing, damaged = 0, 0, [], []
    rows = session.execute(select(ConsentVersion.file_path, ConsentVersion.file_sha256).order_by(ConsentVersion.id))
    for name, digest in rows:
        here, there = _inside(source, name), _inside(target, name)
        if here is None or there is None:
            damaged.append(name)  # a stored name that leaves its folder: never followed
        elif there.is_file() and _sha256(there) == digest:
            present += 1
        elif not here.is_file():
            missing.append(name)
        elif _sha256(here) != digest:
            damaged.append(name)
        else:
            there.parent.mkdir(parents=True, exist_ok=True)
            partial = there.with_name(there.name + ".partial")
            shutil.copyfile(here, partial)
            partial.replace(there)  # never a half-written file under the final name
            copied += 1
    return CopiedFiles(copied, present, tuple(missing), tuple(damaged))


def _inside(folder: Path, name: str) -> Path | None:
    path = (folder / name).resolve()
    return path if path.is_relative_to(folder.resolve()) else None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_pdf(filename: str, data: bytes) -> None:
    if not data:
        raise ConsentError("empty")
    if len(data) > MAX_PDF_BYTES:
        raise ConsentError("too_large")
    # Name, magic bytes and trailer together: a renamed Word file or a truncated upload is refused.
    if not filename.lower().endswith(".pdf") or not data.startswith(b"%PDF-") or b"%%EOF" not in data[-2048:]:
        raise ConsentError("not_pdf")


def default_document(session: Session, study: Study) -> ConsentDocument:
    """The main informed-consent document, created on first upload if the study has none."""
    document = session.scalar(select(ConsentDocument).where(ConsentDocument.study_id == study.id)
                              .order_by(ConsentDocument.id))  # fmt: skip
    if document is None:
        document = ConsentDocument(study_id=study.id, code="ICF", title_zh="知情同意书",
                                   title_en="Informed consent form")  # fmt: skip
        session.add(document)
        session.flush()
    return document


def upload_version(
    session: Session, instance_path: Path, document: ConsentDocument, *, label: str, locale: str,
    effective_date: date, filename: str, data: bytes, requires_reconsent: bool, staff: StaffUser, actor: Actor,
) -> ConsentVersion:  # fmt: skip
    """Check and store the PDF (by checksum) and add an unpublished version."""
    label = label.strip()
    if not label or len(label) > 40:
        raise ConsentError("label")
    if locale not in LOCALES:
        raise ConsentError("locale")
    check_pdf(filename, data)
    digest = hashlib.sha256(data).hexdigest()
    taken = session.scalar(select(ConsentVersion.id).where(
        (ConsentVersion.file_sha256 == digest)
        | ((ConsentVersion.document_id == document.id) & (ConsentVersion.label == label)
           & (ConsentVersion.locale == locale))))  # fmt: skip
    if taken is not None:
        raise ConsentError("duplicate")
    folder = storage_dir(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    relative = f"{digest}.pdf"
    (folder / relative).write_bytes(data)
    version = ConsentVersion(
        document_id=document.id, label=label, locale=locale, effective_date=effective_date, file_path=relative,
        file_sha256=digest, file_size=len(data), requires_reconsent=requires_reconsent, uploaded_by_id=staff.id,
    )  # fmt: skip
    session.add(version)
    session.flush()
    audit.record(session, actor, "consent.upload", object_type="consent_version", object_id=version.id,
                 after={"label": label, "locale": locale, "sha256": digest, "size": len(data),
                        "requires_reconsent": requires_reconsent})  # fmt: skip
    return version


def publish_version(session: Session, version: ConsentVersion, actor: Actor, now: datetime | None = None) -> None:
    if version.published_at is not None:
        raise ConsentError("published")
    version.published_at = now or datetime.now(UTC)
    audit.record(session, actor, "consent.publish", object_type="consent_version", object_id=version.id,
                 after={"label": version.label, "locale": version.locale})  # fmt: skip


def versions(session: Session) -> list[ConsentVersion]:
    return list(session.scalars(select(ConsentVersion).options(joinedload(ConsentVersion.document))
                                .order_by(ConsentVersion.uploaded_at.desc(), ConsentVersion.id.desc())))  # fmt: skip


def published_versions(session: Session) -> list[ConsentVersion]:
    return [v for v in versions(session) if v.published_at is not None]


def record_signed(
    session: Session, participant: Participant, version: ConsentVersion, signed_on: date, staff: StaffUser,
    actor: Actor,
) -> ConsentRecord:  # fmt: skip
    if version.published_at is None:
        raise ConsentError("not_published")
    exists_already = session.scalar(select(ConsentRecord.id).where(
        ConsentRecord.participant_id == participant.id, ConsentRecord.version_id == version.id))  # fmt: skip
    if exists_already is not None:
        raise ConsentError("already_recorded")
    record = ConsentRecord(participant_id=participant.id, version_id=version.id, signed_on=signed_on,
                           recorded_by_id=staff.id)  # fmt: skip
    session.add(record)
    session.flush()
    audit.record(session, actor, "consent.record_signed", object_type="consent_record", object_id=record.id,
                 participant_id=participant.id, site_id=participant.site_id,
                 after={"version": version.label, "locale": version.locale, "signed_on": signed_on.isoformat()})
    return record


def participant_records(session: Session, participant: Participant) -> list[ConsentRecord]:
    return list(session.scalars(
        select(ConsentRecord).where(ConsentRecord.participant_id == participant.id)
        .options(joinedload(ConsentRecord.version), joinedload(ConsentRecord.recorded_by))
        .order_by(ConsentRecord.signed_on)))  # fmt: skip


@dataclass(frozen=True)
class ReconsentRow:
    participant: Participant
    acknowledged: bool


def reconsent_status(session: Session, site_ids: set[int], version: ConsentVersion) -> list[ReconsentRow]:
    """Active participants who have not signed this version (any language of the same label),
    with whether they acknowledged it in the portal."""
    same_label = select(ConsentVersion.id).where(ConsentVersion.document_id == version.document_id,
                                                 ConsentVersion.label == version.label)  # fmt: skip
    signed = exists().where(ConsentRecord.participant_id == Participant.id, ConsentRecord.version_id.in_(same_label))
    acked = exists().where(ConsentAcknowledgement.participant_id == Participant.id,
                           ConsentAcknowledgement.version_id.in_(same_label))  # fmt: skip
    rows = session.execute(
        select(Participant, acked.label("acked"))
        .where(Participant.site_id.in_(site_ids), Participant.status == "active", ~signed)
        .options(joinedload(Participant.site))
        .order_by(Participant.study_code)
    ).all()
    return [ReconsentRow(p, bool(a)) for p, a in rows]
