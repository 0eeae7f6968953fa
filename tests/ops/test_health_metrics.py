"""/healthz, /readyz and /metrics as a load balancer and Prometheus see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.orm import Session

from portal.models import AuditEvent, OutboxMessage, WorkerHeartbeat

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"metrics_token": TOKEN}


def _beat(db: Session, age: timedelta) -> None:
    now = datetime.now(UTC)
    db.merge(WorkerHeartbeat(worker_id="host:1", hostname="host", pid=1, started_at=now - age, last_beat_at=now - age))
    db.commit()


def test_healthz_answers_without_touching_anything(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_503_without_a_worker_heartbeat(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["reason"] == "worker_heartbeat_stale"


def test_readyz_is_503_when_the_worker_stopped_beating(client: FlaskClient, db: Session) -> None:
    _beat(db, timedelta(minutes=3))
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["reason"] == "worker_heartbeat_stale"
    assert body["heartbeat_age_seconds"] >= 180


def test_readyz_is_200_with_a_fresh_heartbeat(client: FlaskClient, db: Session) -> None:
    _beat(db, timedelta(seconds=5))
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_readyz_is_503_when_migrations_are_behind(client: FlaskClient, db: Session) -> None:
    _beat(db, timedelta(seconds=5))
    db.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    db.commit()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["reason"] == "migrations_pending"


def test_metrics_refuse_without_the_token(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


@pytest.mark.parametrize("settings_overrides", [{"metrics_token": ""}])
def test_metrics_stay_closed_when_no_token_is_configured(client: FlaskClient) -> None:
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def _families(client: FlaskClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def _message(status: str, due: datetime, **extra: object) -> OutboxMessage:
    return OutboxMessage(to_number="+8613900000001", kind="reminder", body="x", status=status, due_at=due, **extra)


def test_metrics_report_outbox_figures_from_the_database(client: FlaskClient, db: Session) -> None:
    now = datetime.now(UTC)
    db.add_all([
        _message("pending", now - timedelta(minutes=5)),
        _message("pending", now + timedelta(hours=1)),
        _message("failed", now - timedelta(hours=1), error_code="21211", status_updated_at=now),
        _message("delivered", now - timedelta(hours=1), status_updated_at=now,
                 sent_at=now - timedelta(seconds=40), delivered_at=now - timedelta(seconds=10)),
    ])  # fmt: skip
    db.add(AuditEvent(actor_type="anonymous", action="sign_in.failed"))
    db.commit()
    client.get("/healthz")
    found = _families(client)
    by_status = {labels["status"]: value for labels, value in found["portal_outbox_messages"]}
    assert by_status == {"pending": 2, "failed": 1, "delivered": 1}
    oldest = found["portal_outbox_oldest_due_unsent_seconds"][0][1]
    assert 290 <= oldest <= 400
    sends = {(lab["result"], lab["error_code"]): v for lab, v in found["portal_sms_sends_24h"]}
    assert sends[("failed", "21211")] == 1
    lag = {lab["quantile"]: v for lab, v in found["portal_sms_callback_lag_seconds"]}
    assert 29 <= lag["max"] <= 31
    failures = {lab["audience"]: v for lab, v in found["portal_sign_in_failures_1h"]}
    assert failures == {"participant": 1, "staff": 0}
    endpoints = {lab["endpoint"] for lab, _ in found["portal_request_duration_seconds_count"]}
    assert "ops.healthz" in endpoints


def test_metrics_carry_no_phone_numbers(client: FlaskClient, db: Session) -> None:
    db.add(_message("pending", datetime.now(UTC)))
    db.commit()
    body = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
    assert "+86139" not in body
    assert "13900000001" not in body
