"""Health, readiness and Prometheus metrics for load balancers and monitoring."""

from __future__ import annotations

import hmac
import os
from functools import lru_cache

from flask import Blueprint, Response, current_app, jsonify
from flask import request as flask_request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import text

from .. import migrate
from ..extensions import db_session
from ..ops_metrics import HEARTBEAT_FRESH, Sample, collect, latest_heartbeat_age

bp = Blueprint("ops", __name__)


@lru_cache(maxsize=1)
def _head() -> str | None:
    return migrate.head_revision()


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive and answering; touches nothing else."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready for traffic: database reachable, schema at head, a worker beating."""
    engine = current_app.extensions["engine"]
    try:
        db_session().execute(text("SELECT 1"))
        current = migrate.current_revision(engine)
    except Exception as exc:
        current_app.logger.warning("readyz: database unreachable: %s", type(exc).__name__)
        return jsonify(status="unavailable", reason="database_unreachable"), 503
    head = _head()
    if current != head:
        return jsonify(status="unavailable", reason="migrations_pending", current=current, head=head), 503
    age = latest_heartbeat_age(db_session())
    if age is None or age > HEARTBEAT_FRESH.total_seconds():
        return jsonify(status="unavailable", reason="worker_heartbeat_stale",
                       heartbeat_age_seconds=None if age is None else round(age, 1)), 503  # fmt: skip
    return jsonify(status="ok", revision=current, heartbeat_age_seconds=round(age, 1)), 200


class _DatabaseCollector:
    """Hands prometheus-client the samples read from the database for this one scrape."""

    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples

    def collect(self):  # type: ignore[no-untyped-def]  # prometheus-client's collector protocol
        families: dict[str, GaugeMetricFamily] = {}
        for sample in self.samples:
            family = families.get(sample.name)
            if family is None:
                family = GaugeMetricFamily(sample.name, sample.help, labels=sorted(sample.labels))
                families[sample.name] = family
            family.add_metric([sample.labels[k] for k in sorted(sample.labels)], sample.value)
        yield from families.values()


def _authorised() -> bool:
    token = current_app.config["PORTAL_SETTINGS"].metrics_token
    given = flask_request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def _latency_text() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    from . import LATENCY_REGISTRY

    return generate_latest(LATENCY_REGISTRY)


@bp.get("/metrics")
def metrics() -> Response:
    if not _authorised():
        return Response("metrics need the bearer token (METRICS_TOKEN)\n", 401,
                        {"WWW-Authenticate": 'Bearer realm="metrics"', "Content-Type": "text/plain"})  # fmt: skip
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_DatabaseCollector(collect(db_session())))  # type: ignore[arg-type]
    body = generate_latest(registry) + _latency_text()
    return Response(body, 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})
