"""Backups taken while the portal and worker write restore completely into a fresh database."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from portal import create_app, migrate
from portal.config import load_settings
from portal.consent_admin import storage_dir
from portal.db import make_engine
from portal.models import AuditEvent, ConsentDocument, ConsentVersion, OutboxMessage

SECRET = "backup-test-secret-0123456789-0123456789"


def _writer(url: str, stop: threading.Event, committed: list[int]) -> None:
    """Writes like the portal and the worker do: small committed transactions, one after another."""
    engine = make_engine(load_settings(environ={}, database_url=url, secret_key=SECRET))
    with Session(engine) as session:
        while not stop.is_set():
            row = AuditEvent(actor_type="system", action="bench.write")
            session.add(row)
            session.add(OutboxMessage(to_number="+8613900000000", kind="reminder", body="x",
                                      due_at=datetime.now(UTC)))  # fmt: skip
            session.commit()
            committed.append(row.id)
    engine.dispose()


def _app_for(url: str, tmp: Path) -> Flask:
    return create_app(load_settings(environ={}, database_url=url, secret_key=SECRET, instance_path=tmp, testing=True))


def test_backup_during_writes_restores_every_row_at_head(app: Flask, database_url: str, tmp_path: Path) -> None:
    stop = threading.Event()
    committed: list[int] = []
    thread = threading.Thread(target=_writer, args=(database_url, stop, committed))
    thread.start()
    try:
        while len(committed) < 200:
            time.sleep(0.01)
        before_backup = len(committed)
        result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "backups" / "portal.sqlite3")])
        assert result.exit_code == 0, result.output
        while len(committed) < before_backup + 100:  # writes go on after the backup
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join()
    assert "backup written" in result.output

    fresh = tmp_path / "fresh" / "portal.sqlite3"
    fresh.parent.mkdir()
    restored_app = _app_for(f"sqlite:///{fresh}", tmp_path / "fresh")
    backup = str(tmp_path / "backups" / "portal.sqlite3")
    result = restored_app.test_cli_runner().invoke(args=["restore", "--yes", backup])
    assert result.exit_code == 0, result.output
    engine = restored_app.extensions["engine"]
    assert migrate.current_revision(engine) == migrate.head_revision()
    with Session(engine) as session:
        ids = session.scalars(select(AuditEvent.id).where(AuditEvent.action == "bench.write")).all()
        outbox = session.scalar(select(func.count()).select_from(OutboxMessage))
        assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()
    # Every row committed before the backup started is there, and the copy is one consistent
    # moment: no gap in the sequence, and each audit row's outbox row came with it.
    assert len(ids) >= before_backup
    assert sorted(ids) == committed[: len(ids)]
    assert outbox == len(ids)


def test_restore_asks_for_confirmation(app: Flask, database_url: str, tmp_path: Path) -> None:
    backup = tmp_path / "b.sqlite3"
    assert app.test_cli_runner().invoke(args=["backup", str(backup)]).exit_code == 0
    result = app.test_cli_runner().invoke(args=["restore", str(backup)], input="n\n")
    assert result.exit_code != 0
    assert "Replace every row" in result.output


def test_restore_refuses_a_file_that_is_not_a_backup(app: Flask, tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    result = app.test_cli_runner().invoke(args=["restore", "--yes", str(junk)])
    assert result.exit_code != 0
    assert "not a portal database backup" in result.output


@pytest.mark.postgres
def test_postgres_backup_runs_pg_dump(app: Flask, tmp_path: Path) -> None:
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    target = tmp_path / "portal.dump"
    result = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:5] == b"PGDMP"
    assert "PGPASSWORD=…" in result.output
    assert "pg_restore --clean" in result.output


@pytest.fixture
def consent_pdf(app: Flask, db: Session, study) -> bytes:
    """One consent version with its PDF in the instance's consent folder, as an upload leaves it."""
    content = b"%PDF-1.4\n% consent form v1\n%%EOF\n"
    digest = hashlib.sha256(content).hexdigest()
    folder = storage_dir(app.config["PORTAL_SETTINGS"].instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{digest}.pdf").write_bytes(content)
    document = ConsentDocument(study_id=study.id, code="ICF", title_zh="知情同意书", title_en="Consent form")
    db.add(document)
    db.flush()
    db.add(ConsentVersion(document_id=document.id, label="v1", locale="zh_Hans_CN", effective_date=date(2026, 1, 1),
                          file_path=f"{digest}.pdf", file_sha256=digest, file_size=len(content)))  # fmt: skip
    db.commit()
    return content


def _restore_into_fresh(tmp_path: Path, backup: Path) -> tuple[Flask, object]:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    restored = _app_for(f"sqlite:///{fresh / 'portal.sqlite3'}", fresh)
    result = restored.test_cli_runner().invoke(args=["restore", "--yes", str(backup)])
    restored.extensions["engine"].dispose()
    return restored, result


def test_a_backup_keeps_the_consent_pdfs_and_a_restore_puts_them_back(app, consent_pdf, tmp_path):
    backup = tmp_path / "backups" / "portal.sqlite3"
    result = app.test_cli_runner().invoke(args=["backup", str(backup)])
    assert result.exit_code == 0, result.output
    assert "consent PDFs: 1 copied" in result.output
    again = app.test_cli_runner().invoke(args=["backup", str(backup)])
    assert "consent PDFs: 0 copied, 1 already there" in again.output
    restored, result = _restore_into_fresh(tmp_path, backup)
    assert result.exit_code == 0, result.output
    pdfs = list(storage_dir(restored.config["PORTAL_SETTINGS"].instance_path).glob("*.pdf"))
    assert [p.read_bytes() for p in pdfs] == [consent_pdf]


def test_a_restore_names_the_consent_pdfs_it_could_not_find_or_trust(app, consent_pdf, tmp_path):
    backup = tmp_path / "backups" / "portal.sqlite3"
    assert app.test_cli_runner().invoke(args=["backup", str(backup)]).exit_code == 0
    (kept,) = (tmp_path / "backups" / "portal.sqlite3.consents").glob("*.pdf")
    kept.write_bytes(b"%PDF-1.4\n% changed\n%%EOF\n")
    _, result = _restore_into_fresh(tmp_path, backup)
    assert result.exit_code != 0 and f"1 not matching their checksum: {kept.name}" in result.output
    kept.unlink()
    shutil.rmtree(tmp_path / "fresh")
    _, result = _restore_into_fresh(tmp_path, backup)
    assert result.exit_code != 0 and f"1 not found in {kept.parent}: {kept.name}" in result.output
