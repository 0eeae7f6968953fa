"""Backups taken while the portal and worker write restore completely into a fresh database."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from portal import create_app, migrate
from portal.config import load_settings
from portal.db import make_engine
from portal.models import AuditEvent, OutboxMessage

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
