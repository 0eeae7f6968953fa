"""``python -m bench.compare``: one page of two portals, A and B, side by side against the floor.

A is this checkout. B is this checkout with other settings (``--b-env NAME=VALUE``, e.g.
``GUNICORN_MAX_REQUESTS=1000000`` or a ``DATABASE_URL`` with ``?options=...``), or another
checkout (``--b-root PATH``: ``git worktree add PATH COMMIT``, its catalogues compiled with
``make -C PATH compile-messages VENV=$PWD/.venv``), or both. Both run under gunicorn with the
production settings, on one cohort, and every run of either stands between two floor runs; the
order of A and B swaps every round. On a shared machine a single 10 s run moves by ±8 %, more
than most changes are worth, so a change is judged by the means of several rounds taken this way,
not by two separate ``make bench`` runs.

    python -m bench.compare --b-root ../portal-other --rounds 6
    python -m bench.compare --database-url postgresql+psycopg://postgres@127.0.0.1:5432/prof \\
        --b-env GUNICORN_MAX_REQUESTS=1000000
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from portal import create_app

from . import web
from .__main__ import Databases, _ensure_wrk, _settings, build_cohort, production_env
from .pages import PAGES, Page, Target, participants_for_load, staff_for_load, targets


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    parser.add_argument("--page", default=PAGES[0].name, choices=[p.name for p in PAGES])
    parser.add_argument("--b-root", type=Path, default=web.ROOT, help="B's checkout (default: this one)")
    parser.add_argument("--b-env", action="append", default=[], metavar="NAME=VALUE", help="B's extra setting")
    parser.add_argument("--database-url", help="an existing cohort (python -m bench.cohort); default: a new one")
    parser.add_argument("--participants", type=int, default=10_000, help="the new cohort's size")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args(argv)
    if any("=" not in pair for pair in args.b_env):
        parser.error("--b-env takes NAME=VALUE")
    if not (args.b_root / "gunicorn.conf.py").is_file():
        parser.error(f"--b-root {args.b_root}: no gunicorn.conf.py there")
    return args


def ratios(runs: Sequence[tuple[str, float]]) -> dict[str, list[float]]:
    """Each portal run's req/s over the mean of the floor runs just before and just after it.
    ``runs`` is the order things ran in: ("floor", rps), ("A", rps), ("floor", rps), ..."""
    found: dict[str, list[float]] = {}
    for i, (name, rps) in enumerate(runs):
        if name == "floor":
            continue
        neighbours = [runs[j] for j in (i - 1, i + 1) if 0 <= j < len(runs)]
        beside = [r for n, r in neighbours if n == "floor" and r > 0]
        if beside and rps > 0:
            found.setdefault(name, []).append(rps / (sum(beside) / len(beside)))
    return found


def summary(found: dict[str, list[float]]) -> list[str]:
    lines = [f"{name}: mean {sum(v) / len(v):.3f}× the floor (rounds: {', '.join(f'{x:.3f}' for x in v)})"
             for name, v in sorted(found.items()) if v]  # fmt: skip
    if found.get("A") and found.get("B"):
        a, b = (sum(found[n]) / len(found[n]) for n in "AB")
        lines.append(f"B / A: {b / a:.3f}")
    return lines


def _targets(app_url: str, tmp: Path, page: Page, users: int) -> tuple[list[Target], list[Target]]:
    app = create_app(_settings(app_url, tmp))
    with Session(app.extensions["engine"]) as db:
        people, staff = participants_for_load(db, users), staff_for_load(db)
        found = targets(app, db, page, people, staff)
        floor = web.floor_targets_for(app, db, people, staff)
    app.extensions["engine"].dispose()
    return found, floor


def _start(name: str, env: dict[str, str], tmp: Path, root: Path) -> web.Gunicorn:
    app_spec = "bench.floor:app" if name == "floor" else "wsgi:app"
    metrics = tmp / f"metrics-{name}"  # each server its own: prometheus files are per process tree
    metrics.mkdir()
    return web.Gunicorn(app_spec, {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}, tmp / f"gunicorn-{name}.log", root)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    _ensure_wrk(args.tool)
    dbs = Databases("postgres", keep=False)
    servers: dict[str, web.Gunicorn] = {}
    try:
        url = args.database_url or build_cohort(dbs, "compare", args.participants)
        page = next(p for p in PAGES if p.name == args.page)
        found, floor_targets = _targets(url, dbs.tmp, page, args.users)
        if not found:
            print(f"{page.name}: not built", file=sys.stderr)
            return 1
        env = production_env(url, dbs.tmp)
        b_env = dict(pair.split("=", 1) for pair in args.b_env)
        for name, extra, root in (("A", {}, web.ROOT), ("B", b_env, args.b_root), ("floor", {}, web.ROOT)):
            servers[name] = _start(name, {**env, **extra}, dbs.tmp, root)
        print(f"{page.name}: A = this checkout, B = {args.b_root} {' '.join(args.b_env)}; {args.rounds} rounds "
              f"of {args.seconds:.0f} s, 64 connections, {len(found)} users", flush=True)  # fmt: skip
        runs: list[tuple[str, float]] = []
        order = ["floor"] + [n for r in range(args.rounds) for n in (("A", "floor", "B", "floor") if r % 2 == 0
                                                                     else ("B", "floor", "A", "floor"))]  # fmt: skip
        for name in order:
            row = web.load_page(name, servers[name].base, floor_targets if name == "floor" else found, 64,
                                args.seconds, args.tool)  # fmt: skip
            runs.append((name, row.rps if row.requests and not row.errors else 0.0))
        print("\n".join(summary(ratios(runs))))
    finally:
        for server in servers.values():
            server.stop()
        dbs.drop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
