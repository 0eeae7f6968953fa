"""``flask --app wsgi backup PATH`` and ``flask --app wsgi restore PATH``.

SQLite: the sqlite3 online backup API, copying the whole database in one step. In WAL mode a
reader never blocks the portal or the worker, and one step is one consistent snapshot (a
stepped copy would restart on every write). The file is written beside PATH and renamed into
place, so a half-written backup never carries the final name.

PostgreSQL: runs ``pg_dump --format=custom`` when it is installed (the connection details go
through PG* environment variables, never the command line, so no password shows in ``ps``),
and otherwise prints the exact command to run. Restoring PostgreSQL is left to
``pg_restore`` (printed) because it replaces a live shared database: an operator's act.

Consent PDFs live in files, not in the database: each backup copies them, after the database,
into a folder beside it (``PATH.consents``), and a restore copies them back and checks that
every consent version's PDF is there.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from . import migrate
from .consent_admin import copy_version_files, storage_dir


def _engine() -> Engine:
    return current_app.extensions["engine"]


def _consent_folder() -> Path:
    return storage_dir(current_app.config["PORTAL_SETTINGS"].instance_path)


def _files_beside(backup: Path) -> Path:
    """Where a backup's consent PDFs are kept: a folder next to it."""
    return backup.with_name(backup.name + ".consents")


def _copy_consent_files(engine: Engine, source: Path, target: Path) -> None:
    """Every consent version's PDF (as ``engine``'s database lists them) from source to target."""
    with Session(engine) as session:
        files = copy_version_files(session, source, target)
    click.echo(f"consent PDFs: {files.copied} copied, {files.present} already there ({target})")
    problems = [f"{len(files.missing)} not found in {source}: {', '.join(files.missing)}"] if files.missing else []
    if files.damaged:
        problems.append(f"{len(files.damaged)} not matching their checksum: {', '.join(files.damaged)}")
    if problems:
        raise click.ClickException("consent PDFs " + "; ".join(problems))


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise click.ClickException("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def backup_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included) at ``target``."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        dst.close()
        src.close()
    if ok != "ok":
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"the copy failed its integrity check: {ok}")
    partial.replace(target)


def restore_sqlite(backup: Path, target: Path) -> None:
    """Replace the database at ``target`` with ``backup`` through the backup API (WAL-safe)."""
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst, pages=-1)
    finally:
        dst.close()
        src.close()


def _backup_revision(path: Path) -> str | None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise click.ClickException(f"{path} is damaged (integrity check failed)")
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(f"{path} is not a portal database backup: {exc}") from exc
    finally:
        conn.close()
    return row[0] if row else None


def pg_environment(url: URL) -> dict[str, str]:
    values = {"PGHOST": url.host, "PGPORT": url.port, "PGUSER": url.username,
              "PGPASSWORD": url.password, "PGDATABASE": url.database}  # fmt: skip
    return {key: str(value) for key, value in values.items() if value}


def pg_dump_command(target: Path) -> list[str]:
    return ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"]


def pg_restore_command(source: Path) -> list[str]:
    return ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
            "--dbname=$PGDATABASE", str(source)]  # fmt: skip


def _shown_env(url: URL) -> str:
    env = pg_environment(url)
    env.pop("PGPASSWORD", None)
    return " ".join(f"{k}={v}" for k, v in env.items())


def _backup_postgres(url: URL, target: Path) -> None:
    command = pg_dump_command(target)
    shown = f"{_shown_env(url)} PGPASSWORD=… {' '.join(command)}"
    if shutil.which("pg_dump") is None:
        click.echo("pg_dump is not installed here; run this where it is (same major version as the server):")
        click.echo(f"  {shown}")
        raise SystemExit(2)
    click.echo(f"running: {shown}")
    result = subprocess.run(command, env={**os.environ, **pg_environment(url)}, check=False)  # noqa: S603
    if result.returncode != 0:
        raise click.ClickException(f"pg_dump failed with exit code {result.returncode}")
    click.echo(f"backup written to {target} ({target.stat().st_size} bytes)")
    click.echo(f"restore with: {_shown_env(url)} {' '.join(pg_restore_command(target))}")


@click.command("backup")
@with_appcontext
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Write a consistent backup of the database to PATH while the portal and worker run."""
    url = _engine().url
    path.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "postgresql":
        _backup_postgres(url, path)
    else:
        backup_sqlite(_sqlite_path(url), path)
        click.echo(f"backup written to {path} (revision {_backup_revision(path)}, {path.stat().st_size} bytes)")
    _copy_consent_files(_engine(), _consent_folder(), _files_beside(path))  # after the snapshot: all it names


@click.command("restore")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(path: Path, yes: bool) -> None:
    """Replace the SQLite database with the backup at PATH (stop the portal and worker first)."""
    engine = _engine()
    url = engine.url
    if url.get_backend_name() == "postgresql":
        click.echo("PostgreSQL is restored with pg_restore (stop the portal and the workers first):")
        click.echo(f"  {_shown_env(url)} {' '.join(pg_restore_command(path))}")
        click.echo(f"then the consent PDFs: cp -n {_files_beside(path)}/*.pdf {_consent_folder()}/")
        raise SystemExit(2)
    revision = _backup_revision(path)
    target = _sqlite_path(url)
    if not yes:
        click.confirm(f"Replace every row of {target} with the backup {path} (revision {revision})?", abort=True)
    engine.dispose()
    restore_sqlite(path, target)
    current = migrate.current_revision(engine)
    click.echo(f"restored {path} into {target} (revision {current})")
    if current != migrate.head_revision():
        click.echo("the backup is older than this code: run `flask --app wsgi init-db` to upgrade it")
    _copy_consent_files(engine, _files_beside(path), _consent_folder())


def register(app: Flask) -> None:
    for command in (backup_command, restore_command):
        app.cli.add_command(command)
