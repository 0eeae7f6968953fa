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

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_serves_and_keeps_query_strings_out_of_the_log(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "s" * 48,
        "PORTAL_INSTANCE_PATH": str(tmp_path),
        "WEB_CONCURRENCY": "2",
        "BIND": f"127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/healthz?token=SECRETTOKEN123&phone=13912345678"
            for _ in range(100):
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        assert response.status == 200
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise AssertionError(log.read_text())
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
