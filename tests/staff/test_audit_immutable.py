"""The database itself refuses to change or delete audit rows (SQLite triggers, PostgreSQL trigger)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DatabaseError

from portal import audit
from portal.audit import Actor
from portal.models import AuditEvent


def _one_event(db) -> int:
    event = audit.record(db, Actor("staff", 1, "coordinator", "req-1"), "participant.view", object_type="participant",
                         object_id=1, participant_id=1, site_id=1, after={"page": "record"})  # fmt: skip
    db.commit()
    return event.id


def _assert_append_only(db) -> None:
    event_id = _one_event(db)
    with pytest.raises(DatabaseError, match="append-only"):
        db.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(action="tampered"))
        db.flush()
    db.rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        db.execute(delete(AuditEvent).where(AuditEvent.id == event_id))
        db.flush()
    db.rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        db.execute(text("UPDATE audit_events SET reason = 'x'"))
    db.rollback()
    assert db.get(AuditEvent, event_id).action == "participant.view"
    # Appending still works.
    _one_event(db)


def test_audit_rows_cannot_be_changed_on_sqlite(db):
    assert db.get_bind().dialect.name == "sqlite"
    _assert_append_only(db)


@pytest.mark.postgres
def test_audit_rows_cannot_be_changed_on_postgresql(db):
    assert db.get_bind().dialect.name == "postgresql"
    _assert_append_only(db)
    with pytest.raises(DatabaseError, match="append-only"):
        db.execute(text("TRUNCATE audit_events"))
    db.rollback()


@pytest.mark.postgres
def test_staff_routes_keep_scoping_on_postgresql(sign_in, world):
    client = sign_in("coord_bj")
    assert client.get(f"/staff/participants/{world.bj.id}").status_code == 200
    assert client.get(f"/staff/participants/{world.sh.id}").status_code == 404
    assert client.get("/staff/worklist").status_code == 200
    assert client.get("/staff/participants?sort=next_visit").status_code == 200
