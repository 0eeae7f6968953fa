"""The issue's targets, checked against the figures, and the Markdown report."""

from __future__ import annotations

import math
from typing import Any

FLOOR = "floor (bare Flask: visit list)"
HOME = "patient home"
MAX_STATEMENTS = 6


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def _web_targets(web: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = {r["page"]: r for r in web}
    floor = rows.get(FLOOR)
    out = []
    if not floor or not floor.get("rps"):
        return [{"target": "web pages vs floor", "figure": "floor not measured", "status": "n/a"}]
    for name, row in rows.items():
        if name == FLOOR:
            continue
        if not row.get("built"):
            out.append({"target": f"{name}: vs floor", "figure": row.get("note") or "not built yet", "status": "n/a"})
            continue
        if not row.get("rps"):
            out.append({"target": f"{name}: vs floor", "figure": row.get("note") or "no answer", "status": "MISSED"})
            continue
        floor_rps, floor_p99 = _floor_beside(row, floor)
        ratio = row["rps"] / floor_rps
        p99_ratio = row["p99_ms"] / max(floor_p99, 1e-6)
        line = 0.5 if name == HOME else 0.25
        if name == HOME:
            ok = ratio >= line and p99_ratio <= 3.0 and row["errors"] == 0
            goal = "≥ 0.5× floor req/s, p99 ≤ 3× floor, 0 errors"
        else:
            ok = ratio >= line and row["errors"] == 0
            goal = "≥ 0.25× floor req/s, 0 errors"
        figure = f"{_ratio(ratio, line)} req/s, p99 {p99_ratio:.1f}× floor, {row['errors']} errors"
        out.append({"target": f"{name}: {goal}", "status": _mark(ok), "figure": figure})
    return out


def _ratio(ratio: float, line: float) -> str:
    """Two decimals, or three where two would read as the line itself (0.249× is not 0.25×); a
    figure under its line is never rounded up onto it."""
    two = f"{ratio:.2f}"
    if float(two) != line:
        return f"{two}×"
    return f"{math.floor(ratio * 1000) / 1000 if ratio < line else ratio:.3f}×"


def _floor_beside(row: dict[str, Any], floor: dict[str, Any]) -> tuple[float, float]:
    """The floor measured next to this page (before and after it); the run's mean if absent."""
    return (row.get("floor_rps") or floor["rps"]), (row.get("floor_p99_ms") or floor["p99_ms"])


def _query_targets(queries: dict[str, dict[str, Any]], small: int, large: int) -> list[dict[str, Any]]:
    out = []
    for page, row in queries.items():
        if not row.get("built"):
            out.append({"target": f"{page}: ≤ {MAX_STATEMENTS} statements", "figure": "not built yet", "status": "n/a"})
            continue
        a, b = row.get(str(small)), row.get(str(large))
        ok = a is not None and a == b and b <= MAX_STATEMENTS
        out.append({"target": f"{page}: ≤ {MAX_STATEMENTS} statements, same at {small} and {large}",
                    "figure": f"{a} / {b}", "status": _mark(ok)})  # fmt: skip
    return out


def _dispatch_targets(dispatch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not dispatch:
        return [{"target": "dispatch", "figure": "needs PostgreSQL (not run)", "status": "n/a"}]
    runs = {(r["workers"], r["latency_ms"]): r for r in dispatch}
    out = []
    fast = runs.get((2, 0))
    if fast:
        out.append({"target": "dispatch ≥ 300 msg/s with 2 workers, 0 ms", "figure": f"{fast['messages_per_s']} msg/s",
                    "status": _mark(fast["messages_per_s"] >= 300 and not fast["capped"])})  # fmt: skip
    slow = runs.get((2, 100))
    if slow:
        out.append({"target": "all accepted within 60 s of due, 2 workers, 100 ms",
                    "figure": f"{slow['accepted']}/{slow['reminders']}, max lag {slow['lag_max_s']} s",
                    "status": _mark(slow["all_within_60s"])})  # fmt: skip
    dup = sum(r["duplicates"] for r in dispatch)
    lost = sum(r["lost"] for r in dispatch)
    out.append({"target": "0 duplicates, 0 lost (every run)", "figure": f"{dup} duplicates, {lost} lost",
                "status": _mark(dup == 0 and lost == 0)})  # fmt: skip
    peak = max((max(r["peak_rss_mb"] or [0]) for r in dispatch), default=0)
    out.append({"target": "worker RSS < 150 MB", "figure": f"{peak} MB", "status": _mark(0 < peak < 150)})
    return out


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if "queries" in results:
        out += _query_targets(results["queries"], results["small"], results["participants"])
    if "web" in results:
        out += _web_targets(results["web"])
    if "dispatch" in results:
        out += _dispatch_targets(results["dispatch"])
    if "planning" in results:
        seconds = results["planning"]["first"]["seconds"]
        out.append({"target": f"re-plan {results['planning']['participants']} participants < 60 s",
                    "figure": f"{seconds} s", "status": _mark(seconds < 60)})  # fmt: skip
    return out


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    env = results.get("environment", {})
    parts = [f"# Benchmark ({results['mode']}, {results['database']}, {results['participants']} participants)",
             f"{env.get('cores')} cores, Python {env.get('python')}, "
             + ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items())
             + f"; commit {env.get('commit')}; {env.get('date')}; total {results.get('seconds')} s"]  # fmt: skip
    if results.get("web"):
        floor = next((r for r in results["web"] if r["page"] == FLOOR), None)
        rows = []
        for r in results["web"]:
            measured = floor and floor.get("rps") and r.get("rps")
            line = 0.5 if r["page"] == HOME else 0.25
            ratio = _ratio(r["rps"] / _floor_beside(r, floor)[0], line) if measured else ""
            beside = f"; floor beside {r['floor_rps']:.0f} req/s" if r.get("floor_rps") else ""
            rows.append([r["page"], r["rps"] or "", r["p50_ms"] or "", r["p99_ms"] or "", r["errors"], ratio,
                         r.get("note") or f"{r['users']} users, {r['tool']}{beside}"])  # fmt: skip
        parts += ["## Web pages (gunicorn, production config, 64 connections)",
                  "Each page's ratio is to the floor measured just before and just after it (each figure the mean "
                  "of the page's rounds, listed in the note).",
                  _table(["page", "req/s", "p50 ms", "p99 ms", "errors", "vs floor", "note"], rows)]  # fmt: skip
    if results.get("queries"):
        small, large = str(results["small"]), str(results["participants"])
        rows = [[p, r.get(small, "not built yet") if r.get("built") else "not built yet",
                 r.get(large, "") if r.get("built") else ""] for p, r in results["queries"].items()]  # fmt: skip
        parts += ["## SQL statements per page", _table(["page", f"at {small}", f"at {large}"], rows)]
    if results.get("dispatch"):
        rows = [[r["workers"], r["latency_ms"], r["accepted"], r["messages_per_s"], r["lag_p50_s"], r["lag_p99_s"],
                 r["lag_max_s"], r["duplicates"], r["lost"], r["unsent_at_cap"], r["peak_rss_mb"],
                 f"{r['seconds']}{' (cap)' if r['capped'] else ''}"] for r in results["dispatch"]]  # fmt: skip
        parts += [f"## Dispatch ({results['dispatch'][0]['reminders']} reminders due at once, real workers)",
                  _table(["workers", "latency ms", "accepted", "msg/s", "lag p50 s", "lag p99 s", "lag max s",
                          "dup", "lost", "unsent", "peak RSS MB", "seconds"], rows)]  # fmt: skip
    if results.get("planning"):
        p = results["planning"]
        runs = [[k, p["participants"], p[k]["seconds"], p[k]["statements"]] for k in ("first", "again")]
        parts += ["## Re-planning", _table(["run", "participants", "seconds", "statements"], runs)]
    parts += ["## Targets", _table(["target", "figure", "status"],
              [[t["target"], t["figure"], t["status"]] for t in results.get("targets", [])])]  # fmt: skip
    return "\n\n".join(parts) + "\n"
