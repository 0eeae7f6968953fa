"""``flask --app wsgi …`` commands. Each is idempotent and says what it did."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from . import migrate
from .audit import Actor
from .config import Settings
from .protocol import DEFAULT_PROTOCOL, ProtocolError, load_protocol
from .studies import apply_protocol

CLI_ACTOR = Actor(type="system", role="cli")


def _engine() -> Engine:
    return current_app.extensions["engine"]


def _session() -> Session:
    return current_app.extensions["session_factory"]()


def _settings() -> Settings:
    return current_app.config["PORTAL_SETTINGS"]


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create or upgrade the database schema to the newest migration."""
    engine = _engine()
    before = migrate.current_revision(engine)
    migrate.upgrade(engine)
    after = migrate.current_revision(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        click.echo(f"database already at {after} ({where})")
    else:
        click.echo(f"database upgraded {before or 'empty'} → {after} ({where})")


@click.command("load-protocol")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
def load_protocol_command(path: Path | None) -> None:
    """Load or update a study from its protocol file (default: the NCT03945487 default)."""
    path = path or DEFAULT_PROTOCOL
    try:
        spec = load_protocol(path)
    except ProtocolError as exc:
        click.echo(f"{path}: the protocol was not loaded:", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(1) from exc
    with _session() as session:
        try:
            study, report = apply_protocol(session, spec, CLI_ACTOR, today=datetime.now(UTC).date())
        except ProtocolError as exc:
            session.rollback()
            for problem in exc.problems:
                click.echo(f"  - {problem}", err=True)
            raise SystemExit(1) from exc
        session.commit()
        click.echo(f"{study.code} protocol {study.protocol_version} from {path}:")
        for line in report.lines():
            click.echo(f"  {line}")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load the default protocol and a demo cohort (2 sites, ~20 participants, staff)."""
    from .demo import seed_demo

    with _session() as session:
        lines = seed_demo(session, datetime.now(UTC), _settings().instance_path / "consents")
        session.commit()
    for line in lines:
        click.echo(line)


@click.command("create-staff")
@with_appcontext
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True)
@click.option("--role", type=click.Choice(["admin", "coordinator", "investigator"]), required=True)
@click.option("--site", "site_codes", multiple=True, help="Site code; repeat for several sites.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_staff_command(email: str, full_name: str, role: str, site_codes: tuple[str, ...], password: str) -> None:
    """Create a study-team account, or update its name, role and sites if it exists."""
    from .staff_accounts import StaffAccountError, upsert_staff

    with _session() as session:
        try:
            staff, created = upsert_staff(session, email, full_name, role, site_codes, password, CLI_ACTOR)
        except StaffAccountError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
        verb = "created" if created else "updated"
        sites = ", ".join(site.code for site in staff.sites) or "no sites"
        click.echo(f"{verb} {role} {staff.email} ({'all sites' if role == 'admin' else sites})")


def register_cli(app: Flask) -> None:
    for command in (init_db, load_protocol_command, seed_demo_command, create_staff_command):
        app.cli.add_command(command)
    app.cli.add_command(__import__("portal.cli_worker", fromlist=["x"]).worker_status_command)
    __import__("portal.cli_ops", fromlist=["register"]).register(app)
