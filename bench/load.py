"""Load generators, run as their own process on loopback: wrk when installed, else this module.

Both rotate through (path, session cookie) pairs of many different signed-in users and report
requests/s, latency percentiles and errors (any status other than 200 counts as an error in the
Python generator; wrk counts socket errors and statuses ≥ 400, and the bench checks a sample
for 200 before each run so a redirect to the sign-in page cannot pass for a fast page).

    python -m bench.load --base http://127.0.0.1:8000 --targets targets.json --connections 64 --seconds 10
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .pages import COOKIE, USER_AGENT

ACCEPT_ENCODING = "gzip, deflate, br"


@dataclass
class LoadResult:
    tool: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


# --- Python generator --------------------------------------------------------------------------


def _worker(host: str, port: int, targets: list[list[str]], start: int, deadline: float,
            latencies: list[float], errors: list[int]) -> None:  # fmt: skip
    conn = http.client.HTTPConnection(host, port, timeout=30)
    i = start
    while time.perf_counter() < deadline:
        path, cookie = targets[i % len(targets)]
        i += 1
        began = time.perf_counter()
        try:
            conn.request("GET", path, headers={"Cookie": f"{COOKIE}={cookie}", "User-Agent": USER_AGENT,
                                               "Accept-Encoding": ACCEPT_ENCODING})  # fmt: skip
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
        latencies.append(time.perf_counter() - began)
        if not ok:
            errors.append(1)
    conn.close()


def python_load(base: str, targets: list[list[str]], connections: int, seconds: float) -> LoadResult:
    parts = urlsplit(base)
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    deadline = started + seconds
    threads = [threading.Thread(target=_worker, args=(parts.hostname, parts.port, targets, n * 7, deadline,
                                                      latencies, errors)) for n in range(connections)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return LoadResult("python", len(ordered), elapsed, len(ordered) / elapsed, _percentile(ordered, 0.5) * 1000,
                      _percentile(ordered, 0.99) * 1000, len(errors))  # fmt: skip


# --- wrk ---------------------------------------------------------------------------------------

WRK_SCRIPT = """
local targets = %s
local i = 0
init = function(args) i = math.random(#targets) end
request = function()
  i = i + 1
  local t = targets[(i %% #targets) + 1]
  return wrk.format("GET", t[1], {["Cookie"] = "%s=" .. t[2], ["User-Agent"] = "%s",
                                  ["Accept-Encoding"] = "%s"})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCHJSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"p50_us\\": %%d, " ..
    "\\"p99_us\\": %%d, \\"errors\\": %%d}\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def _lua_table(targets: list[list[str]]) -> str:
    return "{" + ",".join(f'{{"{p}","{c}"}}' for p, c in targets) + "}"


def wrk_load(base: str, targets: list[list[str]], connections: int, seconds: float) -> LoadResult:
    script = WRK_SCRIPT % (_lua_table(targets), COOKIE, USER_AGENT, ACCEPT_ENCODING)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    threads = min(2, connections)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "10s",
                          "-s", handle.name, base], capture_output=True, text=True, timeout=seconds + 60,
                         check=False)  # fmt: skip
    Path(handle.name).unlink(missing_ok=True)
    match = re.search(r"BENCHJSON (\{.*\})", out.stdout)
    if match is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-500:]} {out.stderr[-500:]}")
    data = json.loads(match.group(1))
    secs = data["duration_us"] / 1e6
    return LoadResult("wrk", data["requests"], secs, data["requests"] / secs, data["p50_us"] / 1000,
                      data["p99_us"] / 1000, data["errors"])  # fmt: skip


def run(base: str, targets: list[list[str]], connections: int, seconds: float, tool: str = "auto") -> LoadResult:
    """Run the load in a separate process (wrk, or this module under a new interpreter)."""
    if tool in ("auto", "wrk") and shutil.which("wrk"):
        return wrk_load(base, targets, connections, seconds)
    import sys

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(targets, handle)
    out = subprocess.run([sys.executable, "-m", "bench.load", "--base", base, "--targets", handle.name,
                          "--connections", str(connections), "--seconds", str(seconds)],
                         capture_output=True, text=True, timeout=seconds + 120, check=False)  # fmt: skip
    Path(handle.name).unlink(missing_ok=True)
    if out.returncode != 0:
        raise RuntimeError(f"python load generator failed: {out.stderr[-800:]}")
    return LoadResult(**json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--base", required=True)
    parser.add_argument("--targets", required=True, type=Path)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    targets = json.loads(args.targets.read_text())
    print(json.dumps(asdict(python_load(args.base, targets, args.connections, args.seconds))))


if __name__ == "__main__":
    main()
