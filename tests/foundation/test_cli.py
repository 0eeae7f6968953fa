"""The `flask --app wsgi …` commands, run as a new user would run them."""

import os
import subprocess
import sys
import uuid
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, func, select, text

from portal import migrate
from portal.models import AuditEvent, ConsentRecord, Participant, ResultPanel, StaffUser, Visit
from tests.conftest import PG_ADMIN_URL, _drop_pg_database, _pg_url

ROOT = Path(__file__).resolve().parents[2]


def flask(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PORTAL_", "SECRET_KEY"))}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_init_db_and_seed_demo_are_idempotent(tmp_path: Path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "PORTAL_INSTANCE_PATH": str(tmp_path)}
    first = flask(env, "init-db")
    assert first.returncode == 0, first.stderr
    assert "upgraded empty" in first.stdout
    assert "already at" in flask(env, "init-db").stdout
    seeded = flask(env, "seed-demo")
    assert seeded.returncode == 0, seeded.stderr
    assert "20 demo participants enrolled" in seeded.stdout
    engine = create_engine(env["DATABASE_URL"])
    counts = lambda: [  # noqa: E731
        engine.connect().execute(select(func.count()).select_from(m)).scalar()
        for m in (Participant, Visit, StaffUser, ConsentRecord, ResultPanel, AuditEvent)
    ]
    before = counts()
    again = flask(env, "seed-demo")
    assert "nothing added" in again.stdout
    assert counts() == before
    with engine.connect() as conn:
        statuses = set(conn.execute(select(Participant.status)).scalars())
        opted_out = conn.execute(select(func.count()).where(Participant.sms_opt_out)).scalar()
        arms = conn.execute(text("SELECT DISTINCT arm_id FROM participants")).scalars().all()
    assert {"active", "withdrawn"} <= statuses and opted_out >= 1 and len(arms) == 2
    # Consent comes before anything else: nobody's consent is dated after today, even for the
    # participants whose first visit is still days away.
    with engine.connect() as conn:
        latest = conn.execute(select(func.max(ConsentRecord.signed_on))).scalar()
    assert date.fromisoformat(str(latest)) <= datetime.now(ZoneInfo("Asia/Shanghai")).date()
    engine.dispose()


def test_create_staff(tmp_path: Path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 's.sqlite3'}", "PORTAL_INSTANCE_PATH": str(tmp_path)}
    flask(env, "init-db")
    flask(env, "load-protocol")
    args = ["create-staff", "--email", "Nurse@Example.org", "--name", "Nurse", "--role", "coordinator",
            "--site", "BJ", "--password", "correct horse battery staple"]  # fmt: skip
    created = flask(env, *args)
    assert created.returncode == 0, created.stderr
    assert "created coordinator nurse@example.org (BJ)" in created.stdout
    assert "updated coordinator" in flask(env, *args).stdout
    weak = flask(env, *args[:-1], "password123")
    assert weak.returncode != 0 and "password rejected" in weak.stderr
    no_site = flask(env, *args[:7], "--password", "correct horse battery staple")
    assert no_site.returncode != 0 and "--site" in no_site.stderr


@pytest.mark.postgres
def test_init_db_on_a_fresh_postgres_database(postgres_template):
    name = f"portal_cli_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = _pg_url(name)
        result = flask({"DATABASE_URL": url, "PORTAL_INSTANCE_PATH": "/tmp/portal-cli-pg"}, "init-db")
        assert result.returncode == 0, result.stderr
        engine = create_engine(url)
        assert migrate.current_revision(engine) == migrate.head_revision()
        seeded = flask({"DATABASE_URL": url, "PORTAL_INSTANCE_PATH": "/tmp/portal-cli-pg"}, "seed-demo")
        assert seeded.returncode == 0, seeded.stderr
        engine.dispose()
    finally:
        _drop_pg_database(admin, name)
        admin.dispose()


def test_production_start_with_unsafe_settings_says_one_line(tmp_path: Path):
    result = flask({"PORTAL_ENV": "production", "PORTAL_INSTANCE_PATH": str(tmp_path)}, "init-db")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "configuration error: SECRET_KEY is missing or weak: set a random value of at least 32 characters "
        "(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
    ]
