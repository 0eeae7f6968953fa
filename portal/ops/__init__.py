"""Operations endpoints: /healthz, /readyz and /metrics, plus per-endpoint request latency.

``init_ops(app)`` registers the blueprint and the latency hooks; create_app calls it once.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Histogram

from .views import bp

# Per-process latency histogram. Under gunicorn, set PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py
# does) so every worker process writes its samples to files that /metrics adds up.

LATENCY_REGISTRY = CollectorRegistry(auto_describe=True)
REQUEST_LATENCY = Histogram(
    "portal_request_duration_seconds",
    "Time to answer a request, by Flask endpoint (never the path: paths can carry ids).",
    ["endpoint", "method"],
    registry=None if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else LATENCY_REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def init_ops(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def _start_timer() -> None:
        g.ops_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("ops_started")
        if started is not None:
            rule = request.url_rule
            endpoint = rule.endpoint if rule is not None else "unmatched"
            REQUEST_LATENCY.labels(endpoint, request.method).observe(time.perf_counter() - started)
        return response


__all__ = ["REQUEST_LATENCY", "init_ops"]
