"""``flask --app wsgi import-participants FILE`` (registered on the blueprint's CLI at top level)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import select

from .. import importer
from ..audit import Actor
from ..config import Settings
from ..models import Site, Study
from .blueprint import bp


@bp.cli.command("import-participants")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--lang", "locale", type=click.Choice(["zh_Hans_CN", "en"]), default=None,
              help="Language of the error report (default: the site default).")
def import_participants_command(path: Path, locale: str | None) -> None:
    """Enrol participants from a CSV file: all rows are checked first; nothing is written unless all are valid."""
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    locale = locale or settings.default_locale
    with current_app.extensions["session_factory"]() as session:
        study = session.scalar(select(Study).order_by(Study.id))
        if study is None:
            raise click.ClickException("no study loaded: run flask --app wsgi load-protocol first")
        sites = set(session.scalars(select(Site.code).where(Site.study_id == study.id)))

        def progress(rows):  # type: ignore[no-untyped-def]
            with click.progressbar(list(rows), label=f"Enrolling {path.name}") as bar:
                yield from bar

        report = importer.run_import(session, study, path.read_bytes(), Actor(type="system", role="cli"), sites,
                                     progress=progress, now=datetime.now(UTC), source=path.name)  # fmt: skip
        if not report.ok:
            session.rollback()
            for error in report.errors:
                column = f" [{error.field}]" if error.field else ""
                click.echo(f"{path.name}:{error.line}{column} {error.message(locale)}", err=True)
            raise click.ClickException(f"{len(report.errors)} problem(s) in {report.rows} row(s); nothing imported")
        session.commit()
        click.echo(f"imported {len(report.created)} participants from {path.name}")
