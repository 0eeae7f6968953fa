"""Writing the append-only audit trail (DESIGN.md invariant 7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from .db import execute_core
from .models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who did something, and from which request; views build one, domain code passes it on."""

    type: str  # staff | participant | system | anonymous | provider
    id: int | None = None
    role: str = ""
    request_id: str = ""
    ip_address: str = ""


SYSTEM = Actor(type="system")


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    object_type: str = "",
    object_id: object = "",
    participant_id: int | None = None,
    site_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    event = AuditEvent(
        actor_type=actor.type,
        actor_id=actor.id,
        actor_role=actor.role,
        request_id=actor.request_id,
        ip_address=actor.ip_address,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id not in (None, "") else "",
        participant_id=participant_id,
        site_id=site_id,
        before=_jsonable(before),
        after=_jsonable(after),
        reason=reason,
    )
    session.add(event)
    return event


# Inline: no RETURNING of the new id, which nothing reads.
_VIEW_INSERT = insert(AuditEvent.__table__).inline()


def record_view(session: Session, actor: Actor, action: str, *, object_type: str, object_id: object = "",
                participant_id: int | None = None, site_id: int | None = None) -> None:
    """An audit row for reading a page, written at once with one plain INSERT.

    Page views are the commonest audit rows (every participant page writes one) and change
    nothing else, so they skip the ORM's unit of work and its execution path (db.execute_core);
    the row is in the same transaction as anything else the request writes, and the caller
    commits as usual.
    """
    execute_core(session, _VIEW_INSERT, {
        "actor_type": actor.type, "actor_id": actor.id, "actor_role": actor.role, "request_id": actor.request_id,
        "ip_address": actor.ip_address, "action": action, "object_type": object_type,
        "object_id": str(object_id) if object_id not in (None, "") else "", "participant_id": participant_id,
        "site_id": site_id, "before": None, "after": None, "reason": "",
    })  # fmt: skip


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, as (before, after) for an audit row."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {k: v if isinstance(v, str | int | float | bool | type(None)) else str(v) for k, v in values.items()}
