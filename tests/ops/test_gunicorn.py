"""The production server config: gunicorn starts from gunicorn.conf.py, answers, and its access
log never prints a query string (the calendar feed's token travels in one)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(database_url: str, tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    runtime = tmp_path / "run"  # gunicornc's socket lands here, not in the user's ~/.gunicorn
    runtime.mkdir(exist_ok=True)
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "s" * 48,
        "PORTAL_INSTANCE_PATH": str(tmp_path),
        "WEB_CONCURRENCY": "2",
        "BIND": f"127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"metrics-{port}"),
        "XDG_RUNTIME_DIR": str(runtime),
        **extra,
    }


def _start(env: dict[str, str], out: IO[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _wait_healthy(port: int, log: Path, query: str = "") -> None:
    url = f"http://127.0.0.1:{port}/healthz{query}"
    for _ in range(100):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                assert response.status == 200
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(log.read_text())


def test_gunicorn_serves_and_keeps_query_strings_out_of_the_log(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        proc = _start(_env(database_url, tmp_path, port), out)
        try:
            _wait_healthy(port, log, "?token=SECRETTOKEN123&phone=13912345678")
            feed = f"http://127.0.0.1:{port}/calendar/feed/FEEDTOKEN987654.ics"
            with contextlib.suppress(OSError):  # 404 for an unknown token: only the log matters
                urllib.request.urlopen(feed, timeout=5).close()
            time.sleep(0.3)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    text = log.read_text()
    assert "GET /healthz" in text
    assert "SECRETTOKEN123" not in text
    assert "13912345678" not in text
    assert "FEEDTOKEN987654" not in text
    assert "/calendar/feed/[redacted]" in text
    assert "Booting worker" in text


def test_two_instances_on_one_machine_each_keep_their_control_socket(database_url: str, tmp_path: Path) -> None:
    """gunicornc's socket is per instance: one portal stopping leaves the other's in place (it
    was one path per user, taken over by the second instance and deleted by the first to stop)."""
    runtime = tmp_path / "run"
    ports = [_free_port(), _free_port()]
    logs = [tmp_path / f"gunicorn-{port}.log" for port in ports]
    procs = []
    try:
        for port, log in zip(ports, logs, strict=True):
            with log.open("w") as out:
                procs.append(_start(_env(database_url, tmp_path, port), out))
        for port, log in zip(ports, logs, strict=True):
            _wait_healthy(port, log)
        expected = sorted(f"portal-gunicorn-127-0-0-1-{port}.ctl" for port in ports)
        for _ in range(100):  # the master opens it from a thread once its workers are up
            if sorted(p.name for p in runtime.iterdir()) == expected:
                break
            time.sleep(0.1)
        assert sorted(p.name for p in runtime.iterdir()) == expected
        procs[0].terminate()
        procs[0].wait(timeout=20)
        assert (runtime / f"portal-gunicorn-127-0-0-1-{ports[1]}.ctl").is_socket()
        _wait_healthy(ports[1], logs[1])
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
