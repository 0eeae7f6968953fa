"""Shared fixtures: a fresh migrated database per test (SQLite, or PostgreSQL on request),
the app and its client, factories for participants, and a guard against real network hosts."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from portal import create_app, migrate
from portal.audit import SYSTEM
from portal.config import Settings, load_settings
from portal.db import make_engine
from portal.models import Participant, Study
from portal.participants import EnrolmentData, enrol_participant
from portal.protocol import load_protocol
from portal.studies import apply_protocol

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# A test taking a ``database`` argument runs once on SQLite and once on PostgreSQL.
BOTH_DATABASES = pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


# --- no real network -------------------------------------------------------------------------

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is None or not ip.is_loopback:
            raise RuntimeError(f"test tried to reach a non-loopback host: {host!r}")
    return _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_real_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any test reaching a real network host (Twilio included) fails."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


# --- databases -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head; each test gets a copy (fast, and through Alembic)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(_settings_for(f"sqlite:///{path}", path.parent))
    migrate.upgrade(engine)
    engine.dispose()
    return path


def postgres_available() -> str | None:
    """None when the server answers; otherwise why not."""
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # any failure means "not available"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"
    return None


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated template database; tests clone it with CREATE DATABASE … TEMPLATE."""
    reason = postgres_available()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)
    name = f"portal_tpl_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = _pg_url(name)
    engine = make_engine(_settings_for(url, Path("/tmp")))
    migrate.upgrade(engine)
    engine.dispose()
    yield name
    _drop_pg_database(admin, name)
    admin.dispose()


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_pg_database(admin: object, name: str) -> None:
    with admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database at head for one test."""
    name = f"portal_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    yield _pg_url(name)
    _drop_pg_database(admin, name)
    admin.dispose()


def _settings_for(database_url: str, instance: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "instance_path": instance,
        "testing": True,
    }
    values.update(overrides)
    return load_settings(environ={}, **values)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite copy by default; tests marked ``postgres`` get a fresh PostgreSQL database."""
    if request.node.get_closest_marker("postgres"):
        return request.getfixturevalue("postgres_url")
    path = tmp_path / "portal.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module to change settings (e.g. SMS backend, quiet hours)."""
    return {}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, settings_overrides: dict[str, object]) -> Settings:
    return _settings_for(database_url, tmp_path / "instance", **settings_overrides)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    session: Session = app.extensions["session_factory"]()
    yield session
    session.close()


# --- factories -------------------------------------------------------------------------------


@pytest.fixture
def study(db: Session) -> Study:
    """The default NCT03945487 protocol, loaded as `flask load-protocol` would."""
    existing = db.scalar(select(Study))
    if existing is not None:
        return existing
    loaded, _ = apply_protocol(db, load_protocol(), SYSTEM, today=date(2026, 1, 1))
    db.commit()
    return loaded


ParticipantFactory = Callable[..., Participant]


@pytest.fixture
def make_participant(db: Session, study: Study) -> ParticipantFactory:
    counter = iter(range(1, 10_000))

    def make(
        *,
        site: str = "BJ",
        arm: str = "ucmsc",
        day0: date | None = None,
        locale: str = "zh_Hans_CN",
        phone: str | None = None,
        name: str | None = None,
        now: datetime | None = None,
    ) -> Participant:
        n = next(counter)
        data = EnrolmentData(
            study_code=f"{site}-{n:04d}",
            full_name=name or f"测试参与者{n}",
            phone=phone or f"+86139{n:08d}",
            site_code=site,
            arm_code=arm,
            day0=day0 or date(2026, 12, 1),
            preferred_locale=locale,
        )
        participant = enrol_participant(db, study, data, SYSTEM, now=now or datetime(2026, 11, 25, tzinfo=UTC))
        db.commit()
        return participant

    return make
