"""gunicorn settings for the portal: `gunicorn -c gunicorn.conf.py wsgi:app`.

Everything comes from the environment so systemd units and containers change nothing here:
WEB_CONCURRENCY (worker processes, default 2 × cores + 1), WEB_THREADS (threads per worker,
default 1), BIND (default 127.0.0.1:8000), GUNICORN_TIMEOUT (seconds, default 30),
GUNICORN_CONTROL_SOCKET (gunicornc's socket, default one per BIND in the runtime directory).
TRUSTED_PROXIES is read by the app itself (ProxyFix in portal/__init__.py); DB_POOL_SIZE
sets each process's connection pool (portal/db.py).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import re
import shutil
import tempfile

from gunicorn.glogging import Logger


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = _int("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1)
threads = _int("WEB_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak never becomes an outage; jitter avoids a herd.
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = max_requests // 10
# The app is imported once, in the master, and each worker is a fork of it: a recycled worker is
# serving again at once instead of spending a second or two of CPU importing under load, and the
# workers share the code's memory. New code therefore needs a restart, not a HUP reload. Each
# process's connection pool is fresh after the fork (portal/db.py: make_engine).
preload_app = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = forwarded_allow_ips

# Access log: method, path WITHOUT the query string (%(U)s), status, size, duration, request id.
# Never %(r)s/%(q)s (query strings may carry tokens), headers or cookies. The calendar feed's
# token sits in its path, so RedactingLogger masks it, and any long digit run (a phone number).
accesslog = os.environ.get("ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}i)s'

_SECRET_SEGMENT = re.compile(r"/(feed|token|reset)/[^/]+")
_LONG_DIGITS = re.compile(r"\+?\d{7,}")


class RedactingLogger(Logger):
    def atoms(self, resp: object, req: object, environ: dict, request_time: object) -> dict:  # type: ignore[override]
        values = super().atoms(resp, req, environ, request_time)
        path = _SECRET_SEGMENT.sub(r"/\1/[redacted]", str(values.get("U", "")))
        values["U"] = _LONG_DIGITS.sub("[digits]", path)
        return values


logger_class = RedactingLogger

# prometheus-client multiprocess mode: each worker writes its latency samples to files here and
# /metrics adds them up. Wiped at start so a restart never reports a dead process's figures.
# The default is per listen address, so two instances on one machine never share (and wipe) one.
_bind_slug = re.sub(r"[^0-9A-Za-z]+", "-", bind)
_default_dir = os.path.join(tempfile.gettempdir(), "portal-metrics-" + _bind_slug)
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or _default_dir
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


# gunicorn ≥ 25.1 opens a control socket for `gunicornc` at ONE path per user by default
# (~/.gunicorn/gunicorn.ctl): a second instance on the machine (two portals, as in "Running at
# scale", or the bench's floor) took it over, so `gunicornc` managed the wrong one, and the first
# to stop deleted the other's. One per listen address instead, in the runtime directory
# (systemd's RuntimeDirectory=, else the user's), unless GUNICORN_CONTROL_SOCKET names one.
_runtime_dir = next((d for d in (os.environ.get("RUNTIME_DIRECTORY"), os.environ.get("XDG_RUNTIME_DIR"))
                     if d and os.path.isdir(d)), os.path.expanduser(os.path.join("~", ".gunicorn")))  # fmt: skip
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET") or os.path.join(
    _runtime_dir, f"portal-gunicorn-{_bind_slug}.ctl"
)


def on_starting(server: object) -> None:
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


# Garbage collection for a preforking server (Python's gc docs): what the master imported is
# frozen before each fork, so no worker's collector scans it again (or copies its pages by
# touching them); and a worker collects young objects every 20,000 allocations instead of 700,
# since a page allocates thousands of short-lived ones. Together ~5-10 % of a page's CPU.
GC_THRESHOLDS = (20_000, 50, 100)


def pre_fork(server: object, worker: object) -> None:
    gc.freeze()


def post_fork(server: object, worker: object) -> None:
    gc.set_threshold(*GC_THRESHOLDS)


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
