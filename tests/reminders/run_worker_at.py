"""Run ``python -m scheduler`` as if the wall clock said AT (a demonstration aid).

Reminders fall due at fixed site-local times (10:00 a week before, 18:00 the day before), so
showing the worker send them means either waiting for those times or moving the worker's
clock. This moves only the worker's clock (time-machine, ticking on from AT); the database,
the portal and the SMS provider keep real time.

    .venv/bin/python tests/reminders/run_worker_at.py 2026-11-26T18:05:00+08:00
"""

from __future__ import annotations

import runpy
import sys
from datetime import datetime

import time_machine


def main() -> None:
    at = datetime.fromisoformat(sys.argv[1])
    if at.tzinfo is None:
        raise SystemExit("give a time zone offset, e.g. 2026-11-26T18:05:00+08:00")
    sys.argv = ["scheduler", *sys.argv[2:]]
    with time_machine.travel(at, tick=True):
        runpy.run_module("scheduler", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
