"""``make bench`` / ``python -m bench``: the performance suite (see README, "Performance").

Steps: cohorts (100 and N participants) → SQL statements per page at both sizes → web pages
under gunicorn against the floor app → dispatch with 1, 2, 4 real workers at 0 and 100 ms
provider latency → re-planning every reminder of N participants. Results go to
bench/results/ as JSON and Markdown and are printed at the end, each target met or missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from portal import create_app
from portal.config import load_settings
from portal.db import make_engine
from portal.models import Participant
from portal.reminders import default_quiet_hours, replan_participants

from . import dispatch_bench, report, web
from .cohort import generate
from .pages import count_statements, participants_for_load, staff_for_load, statements_per_page

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-" + "0123456789" * 5


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=None, help="large cohort (default 10000; quick 1000)")
    parser.add_argument("--small", type=int, default=100, help="small cohort for the query counts")
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--quick", action="store_true", help="smaller and shorter: for development")
    parser.add_argument("--only", default="queries,web,dispatch,planning", help="comma-separated steps")
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto", help="load generator")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away databases")
    parser.add_argument("--rounds", type=int, default=None, help="times each page is loaded (default 2; quick 1)")
    args = parser.parse_args(argv)
    args.participants = args.participants or (1000 if args.quick else 10_000)
    args.steps = set(args.only.split(","))
    args.rounds = max(1, args.rounds if args.rounds is not None else (1 if args.quick else 2))
    args.seconds = 4.0 if args.quick else 10.0
    args.users = 50 if args.quick else 200
    args.reminders = 1000 if args.quick else 10_000
    args.worker_counts = (1, 2) if args.quick else (1, 2, 4)
    args.cap = 30.0 if args.quick else 75.0
    return args


class Databases:
    """Throw-away databases: PostgreSQL via the admin URL, or SQLite files in a temp folder."""

    def __init__(self, kind: str, keep: bool) -> None:
        self.kind, self.keep = kind, keep
        self.tag = uuid.uuid4().hex[:6]
        self.tmp = Path(tempfile.mkdtemp(prefix="portal-bench-"))
        self.created: list[str] = []
        self.admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT") if kind == "postgres" else None

    def new(self, label: str) -> str:
        if self.admin is None:
            return f"sqlite:///{self.tmp / f'{label}.sqlite3'}"
        name = f"bench_{label}_{self.tag}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop_all(self) -> None:
        if self.admin is not None and not self.keep:
            with self.admin.connect() as conn:
                for name in self.created:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _settings(url: str, tmp: Path):  # type: ignore[no-untyped-def]
    return load_settings(environ={}, database_url=url, secret_key=SECRET, instance_path=tmp)


def build_cohort(dbs: Databases, label: str, participants: int) -> str:
    url = dbs.new(label)
    engine = make_engine(_settings(url, dbs.tmp))
    print(f"cohort: {participants} participants → {engine.url.render_as_string(hide_password=True)}", flush=True)
    result = generate(engine, participants)
    engine.dispose()
    print(f"  {result.seconds:.1f}s: " + ", ".join(f"{k}={v}" for k, v in result.rows.items()), flush=True)
    return url


def step_queries(urls: dict[int, str], tmp: Path) -> dict[str, dict[str, object]]:
    table: dict[str, dict[str, object]] = {}
    for size, url in urls.items():
        app = create_app(_settings(url, tmp))
        with Session(app.extensions["engine"]) as db:
            people = participants_for_load(db, 10)
            staff = staff_for_load(db)
            db.expunge_all()
        for count in statements_per_page(app, people, staff):
            row = table.setdefault(count.page, {"built": count.built})
            row[str(size)] = count.steady
            row[f"{size}_all"] = sorted(set(count.statements))
            row[f"{size}_codes"] = sorted(set(count.status_codes))
        app.extensions["engine"].dispose()
    return table


def production_env(url: str, tmp: Path) -> dict[str, str]:
    """What gunicorn serving the portal (or the floor) gets: the production configuration."""
    return {"PORTAL_ENV": "production", "SECRET_KEY": SECRET, "DATABASE_URL": url, "PORTAL_INSTANCE_PATH": str(tmp),
            "PUBLIC_BASE_URL": "https://portal.bench.invalid", "METRICS_TOKEN": "bench-metrics",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"), "ACCESS_LOG": str(tmp / "access.log")}  # fmt: skip


def step_web(url: str, tmp: Path, args: argparse.Namespace) -> list[dict[str, object]]:
    env = production_env(url, tmp)
    print(f"web: gunicorn ({os.environ.get('WEB_CONCURRENCY') or 2 * (os.cpu_count() or 1) + 1} workers), "
          f"{args.users} users, 64 connections, {args.seconds:.0f}s per page, {args.rounds} round(s)",
          flush=True)  # fmt: skip
    app = create_app(_settings(url, tmp))
    portal = web.Gunicorn("wsgi:app", env, tmp / "portal-gunicorn.log")
    floor = web.Gunicorn("bench.floor:app", env, tmp / "floor-gunicorn.log")
    try:
        rows = web.run_pages(app, portal.base, floor.base, args.users, 64, args.seconds, args.tool, args.rounds)
    finally:
        portal.stop()
        floor.stop()
        app.extensions["engine"].dispose()
    return web.as_dicts(rows)


def step_dispatch(dbs: Databases, args: argparse.Namespace) -> list[dict[str, object]]:
    if dbs.admin is None:
        return []
    template = dbs.new("dispatch_tpl")
    engine = create_engine(template)
    dispatch_bench.build_template(engine, args.reminders)
    engine.dispose()
    name = template.rsplit("/", 1)[1]
    results = []
    for latency in (0, 100):
        for workers in args.worker_counts:
            print(f"dispatch: {args.reminders} reminders, {workers} worker(s), provider latency {latency} ms",
                  flush=True)  # fmt: skip
            result = dispatch_bench.run_once(dbs.admin, name, template, workers, latency, args.reminders, args.cap,
                                             dbs.tmp)  # fmt: skip
            print(f"  {result.messages_per_s} msg/s, lag p50 {result.lag_p50_s}s p99 {result.lag_p99_s}s max "
                  f"{result.lag_max_s}s, dup {result.duplicates}, lost {result.lost}, unsent {result.unsent_at_cap}, "
                  f"RSS {result.peak_rss_mb} MB", flush=True)  # fmt: skip
            results.append(dispatch_bench.as_dict(result))
    return results


def step_planning(url: str, tmp: Path) -> dict[str, object]:
    engine = make_engine(_settings(url, tmp))
    figures: dict[str, object] = {}
    with Session(engine) as session:
        ids = list(session.scalars(select(Participant.id)))
        for label in ("first", "again"):
            with count_statements(engine) as seen:
                started = time.perf_counter()
                replan_participants(session, ids, now=datetime.now(UTC), quiet_hours=default_quiet_hours())
                session.commit()
                seconds = time.perf_counter() - started
            figures[label] = {"seconds": round(seconds, 2), "statements": len(seen)}
            print(f"planning ({label}): {len(ids)} participants in {seconds:.1f}s, {len(seen)} statements", flush=True)
    figures["participants"] = len(ids)
    engine.dispose()
    return figures


def _ensure_wrk(tool: str) -> None:
    if tool == "python" or shutil.which("wrk") or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    print("installing wrk from Debian (falls back to the Python load generator if this fails)", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, timeout=300, check=False)


def environment(dbs: Databases) -> dict[str, object]:
    versions = {name: metadata.version(name) for name in ("flask", "sqlalchemy", "gunicorn", "psycopg", "jinja2")}
    if dbs.admin is not None:
        with dbs.admin.connect() as conn:
            versions["postgresql"] = str(conn.scalar(text("SHOW server_version")))
    wrk = shutil.which("wrk")
    if wrk:
        out = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
        versions["wrk"] = (out.stdout or out.stderr).split("\n")[0][:40]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()  # fmt: skip
    date = datetime.now(UTC).isoformat(timespec="seconds")
    return {"cores": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
            "versions": versions, "commit": commit, "date": date}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    started = time.perf_counter()
    _ensure_wrk(args.tool)
    dbs = Databases(args.db, args.keep)
    results: dict[str, object] = {"mode": "quick" if args.quick else "full", "database": args.db,
                                  "participants": args.participants, "small": args.small}  # fmt: skip
    try:
        results["environment"] = environment(dbs)
        urls = {args.small: build_cohort(dbs, "small", args.small)}
        urls[args.participants] = build_cohort(dbs, "large", args.participants)
        if "queries" in args.steps:
            results["queries"] = step_queries(urls, dbs.tmp)
        if "web" in args.steps:
            results["web"] = step_web(urls[args.participants], dbs.tmp, args)
        if "dispatch" in args.steps:
            results["dispatch"] = step_dispatch(dbs, args)
        if "planning" in args.steps:
            results["planning"] = step_planning(urls[args.participants], dbs.tmp)
    finally:
        dbs.drop_all()
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["targets"] = report.targets(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    markdown = report.markdown(results)
    for name in (f"bench-{stamp}", "latest"):
        (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
        (RESULTS / f"{name}.md").write_text(markdown)
    print("\n" + markdown)
    print(f"results: {RESULTS / f'bench-{stamp}.json'} and .md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
