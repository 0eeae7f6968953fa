"""The nightly backup unit in deploy/ does what the README says when its commands run."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "portal-backup.service"
INSTALLED_VENV = "/opt/trial-portal/.venv/bin/"
DAY = 24 * 3600


def _unit_values(key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith(f"{key}=")]


def _unit_environment() -> dict[str, str]:
    return dict(pair.split("=", 1) for line in _unit_values("Environment") for pair in shlex.split(line))


def _run_as_systemd_would(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``command`` as systemd hands it over: ``%%`` is a literal ``%``; the unit's flask is ours."""
    argv = shlex.split(command.replace("%%", "%").replace(INSTALLED_VENV, str(Path(sys.executable).parent) + "/"))
    return subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_nightly_backup_writes_a_dated_backup_and_removes_only_old_runs(tmp_path: Path) -> None:
    instance, backups = tmp_path / "instance", tmp_path / "backups"
    env = {**os.environ, **_unit_environment(), "BACKUP_DIR": str(backups), "PORTAL_INSTANCE_PATH": str(instance),
           "DATABASE_URL": f"sqlite:///{instance / 'portal.sqlite3'}", "PORTAL_ENV": "development"}  # fmt: skip
    assert env["BACKUP_KEEP_DAYS"] == "35"
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "init-db"], env=env, cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    backups.mkdir()
    old, recent = backups / "portal-20200101T000000Z.backup", backups / "portal-20261101T000000Z.backup"
    old_pdfs = old.with_name(old.name + ".consents")
    old.touch()
    recent.touch()
    old_pdfs.mkdir()
    now = time.time()
    for path, age_days in ((old, 40), (old_pdfs, 40), (recent, 10)):
        os.utime(path, (now - age_days * DAY, now - age_days * DAY))

    (start,) = _unit_values("ExecStart")
    started = _run_as_systemd_would(start, env)
    assert started.returncode == 0, started.stdout + started.stderr
    (post,) = _unit_values("ExecStartPost")
    pruned = _run_as_systemd_would(post, env)
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr

    left = sorted(p.name for p in backups.iterdir())
    written = [name for name in left if name != recent.name and name.endswith(".backup")]
    assert len(written) == 1 and written[0].startswith("portal-2") and written[0].endswith("Z.backup")
    assert (backups / written[0]).stat().st_size > 0
    assert recent.name in left
    assert not any(name.startswith("portal-20200101") for name in left)
