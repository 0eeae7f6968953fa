"""Web pages under gunicorn (production configuration) against the floor app, same settings."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from portal.models import Participant, StaffUser

from . import load
from .pages import COOKIE, PAGES, USER_AGENT, Target, participants_for_load, staff_for_load, targets
from .report import FLOOR

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class PageLoad:
    page: str
    built: bool
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0
    requests: int = 0
    users: int = 0
    tool: str = ""
    note: str = ""
    floor_rps: float = 0.0  # the floor measured just before and just after this page (mean)
    floor_p99_ms: float = 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gunicorn:
    """One gunicorn from a checkout's gunicorn.conf.py serving ``app_spec`` from that checkout
    (this one unless ``root`` names another, e.g. a git worktree of another commit)."""

    def __init__(self, app_spec: str, env: dict[str, str], log: Path, root: Path = ROOT) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, **env, "BIND": f"127.0.0.1:{self.port}", "PYTHONPATH": str(root)}
        self.log = log.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(root / "gunicorn.conf.py"), app_spec],
                                     cwd=root, env=full_env, stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip
        self._wait()

    def _wait(self) -> None:
        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    time.sleep(1.5)  # let every worker boot
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def preflight(base: str, sample: list[Target]) -> str:
    """'' when a sample of targets answers 200; else what went wrong (a redirect is a failure)."""
    host, port = base.removeprefix("http://").split(":")
    for target in sample:
        conn = http.client.HTTPConnection(host, int(port), timeout=40)
        try:
            conn.request("GET", target.path, headers={"Cookie": f"{COOKIE}={target.cookie}", "User-Agent": USER_AGENT})
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            return f"{target.path}: no answer within 40 s ({type(exc).__name__})"
        finally:
            conn.close()
        if response.status != 200:
            return f"{target.path} answered {response.status} {response.getheader('Location') or ''}"
    return ""


def measure(base: str, found: list[Target], connections: int, seconds: float, tool: str) -> load.LoadResult:
    pairs = [[t.path, t.cookie] for t in found]
    load.run(base, pairs, connections, min(3.0, seconds), tool)  # warm-up: pools, caches, bytecode
    return load.run(base, pairs, connections, seconds, tool)


def floor_targets_for(app: Flask, db: Session, people: list[Participant], staff: list[StaffUser]) -> list[Target]:
    """The floor's requests: the same participants' sessions as the patient home's, at "/"."""
    return [Target(t.cookie, "/") for t in targets(app, db, PAGES[0], people, staff)]


def run_pages(app: Flask, portal_base: str, floor_base: str, users: int, connections: int, seconds: float,
              tool: str, rounds: int = 1) -> list[PageLoad]:  # fmt: skip
    """Every page, ``rounds`` times over, with the floor measured before the first page and after
    each one: a page's ratio is to the floor runs on either side of it, so a machine whose speed
    drifts during the run (shared cores) moves both sides of each ratio, and each page's figures
    are the mean of its rounds, taken minutes apart, so one unlucky stretch weighs less."""
    results: dict[str, list[PageLoad]] = {}
    with Session(app.extensions["engine"]) as db:
        people = participants_for_load(db, users)
        staff = staff_for_load(db)
        floor_targets = floor_targets_for(app, db, people, staff)
        floors = [load_page(f"{FLOOR} (1)", floor_base, floor_targets, connections, seconds, tool)]
        for _round in range(rounds):
            for page in PAGES:
                found = targets(app, db, page, people, staff)  # minted now: staff sessions idle out after 15 min
                if not found:
                    results.setdefault(page.name, []).append(PageLoad(page.name, False, note="not built yet"))
                    continue
                row = load_page(page.name, portal_base, found, connections, seconds, tool)
                floors.append(load_page(f"{FLOOR} ({len(floors) + 1})", floor_base, floor_targets, connections,
                                        seconds, tool))  # fmt: skip
                beside = [r for r in floors[-2:] if r.requests]
                if beside:
                    row.floor_rps, row.floor_p99_ms = _mean(beside, "rps"), _mean(beside, "p99_ms")
                results.setdefault(page.name, []).append(row)
    return [_floor(floors), *(_rounds(rows) for rows in results.values())]


def _rounds(rows: list[PageLoad]) -> PageLoad:
    """One page's rounds as one row: the mean of each figure over its rounds (the floor's over
    those that have a floor run beside them), errors and requests summed; the note lists each
    round's ratio. A page must answer in every round: one that did not is reported as it failed."""
    if len(rows) == 1 or not rows[0].built:
        return rows[0]
    failed = next((i for i, r in enumerate(rows) if not r.requests), None)
    if failed is not None:
        row = rows[failed]
        row.note = f"round {failed + 1} of {len(rows)}: {row.note or 'no request completed'}"
        row.errors = sum(r.errors for r in rows)
        return row
    beside = [r for r in rows if r.floor_rps]
    floor_rps = _mean(beside, "floor_rps") if beside else 0.0
    first = rows[0]
    note = (f"{first.users} users, {first.tool}; floor beside {floor_rps:.0f} req/s; {len(rows)} rounds: "
            + ", ".join(f"{r.rps / r.floor_rps:.2f}×" if r.floor_rps else "no floor beside" for r in rows))  # fmt: skip
    return PageLoad(first.page, True, _mean(rows, "rps"), _mean(rows, "p50_ms"), _mean(rows, "p99_ms"),
                    sum(r.errors for r in rows), sum(r.requests for r in rows), first.users, first.tool, note,
                    floor_rps, _mean(beside, "floor_p99_ms") if beside else 0.0)  # fmt: skip


def _floor(runs: list[PageLoad]) -> PageLoad:
    """The floor row: the mean of every floor run (each is listed in the note)."""
    answered = [r for r in runs if r.requests]
    if not answered:
        return PageLoad(FLOOR, True, note=next((r.note for r in runs if r.note), "no answer"))
    note = f"mean of {len(answered)} runs: " + ", ".join(f"{r.rps:.0f}" for r in answered) + " req/s"
    errors, requests = sum(r.errors for r in answered), sum(r.requests for r in answered)
    return PageLoad(FLOOR, True, _mean(answered, "rps"), _mean(answered, "p50_ms"), _mean(answered, "p99_ms"), errors,
                    requests, answered[0].users, answered[0].tool, note)  # fmt: skip


def _mean(runs: list[PageLoad], field: str) -> float:
    return round(sum(float(getattr(r, field)) for r in runs) / len(runs), 1)


def load_page(name: str, base: str, found: list[Target], connections: int, seconds: float, tool: str) -> PageLoad:
    problem = preflight(base, found[:5])
    if problem:
        return PageLoad(name, True, users=len(found), note=f"preflight failed: {problem}")
    try:
        result = measure(base, found, connections, seconds, tool)
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
        return PageLoad(name, True, users=len(found), note=f"load failed: {exc}"[:200])
    print(f"  {name:32} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms  "
          f"errors {result.errors}  ({len(found)} users, {result.tool})", flush=True)  # fmt: skip
    note = "" if result.requests else f"no request completed within {seconds:.0f} s"
    return PageLoad(name, True, round(result.rps, 1), round(result.p50_ms, 1), round(result.p99_ms, 1),
                    result.errors, result.requests, len(found), result.tool, note)  # fmt: skip


def as_dicts(rows: list[PageLoad]) -> list[dict[str, object]]:
    return [asdict(r) for r in rows]
