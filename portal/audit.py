"""Writing the append-only audit trail (DESIGN.md invariant 7)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Result, Select, bindparam, insert
from sqlalchemy.orm import Session

from .db import execute_core
from .models import AuditEvent
from .models.base import utcnow


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
_VIEW_COLUMNS = ("occurred_at", "actor_type", "actor_id", "actor_role", "request_id", "ip_address", "action",
                 "object_type", "object_id", "participant_id", "site_id", "reason")  # fmt: skip


@dataclass(frozen=True)
class PageView:
    """The audit row one page view writes (DESIGN.md invariant 7)."""

    actor: Actor
    action: str
    object_type: str
    object_id: object = ""
    participant_id: int | None = None
    site_id: int | None = None

    def values(self) -> dict[str, Any]:
        actor = self.actor
        return {
            "occurred_at": utcnow(), "actor_type": actor.type, "actor_id": actor.id, "actor_role": actor.role,
            "request_id": actor.request_id, "ip_address": actor.ip_address, "action": self.action,
            "object_type": self.object_type, "participant_id": self.participant_id, "site_id": self.site_id,
            "object_id": str(self.object_id) if self.object_id not in (None, "") else "", "reason": "",
        }  # fmt: skip


def record_view(session: Session, actor: Actor, action: str, *, object_type: str, object_id: object = "",
                participant_id: int | None = None, site_id: int | None = None) -> None:
    """An audit row for reading a page, written at once with one plain INSERT.

    Page views are the commonest audit rows (every participant page writes one) and change
    nothing else, so they skip the ORM's unit of work and its execution path (db.execute_core);
    the row is in the same transaction as anything else the request writes, and the caller
    commits as usual.
    """
    view = PageView(actor, action, object_type, object_id, participant_id, site_id)
    execute_core(session, _VIEW_INSERT, view.values())


def read_recording(session: Session, statement: Select[Any], params: dict[str, Any], view: PageView) -> Result[Any]:
    """The rows of ``statement``, with the view's audit row written by the same statement where the
    database allows it (PostgreSQL: an INSERT in a WITH clause), else by an INSERT just before.
    Either way the row is in the request's transaction, which the caller commits once the page is
    built: a page is shown only if its audit row was saved. One statement instead of two is
    about a twentieth of a participant page's cost."""
    if session.get_bind().dialect.name != "postgresql":
        execute_core(session, _VIEW_INSERT, view.values())
        return execute_core(session, statement, params)
    values = {f"viewed_{name}": value for name, value in view.values().items()}
    return execute_core(session, _with_view_insert(statement), {**params, **values})


@lru_cache(maxsize=32)
def _with_view_insert(statement: Select[Any]) -> Select[Any]:
    """``statement`` with the audit INSERT as a WITH clause PostgreSQL runs whether or not the
    SELECT reads it (built once per statement: construction costs more than running)."""
    table = AuditEvent.__table__
    values = {name: bindparam(f"viewed_{name}", type_=table.c[name].type) for name in _VIEW_COLUMNS}
    return statement.add_cte(insert(table).values(values).cte("viewed"))


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, as (before, after) for an audit row."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {k: v if isinstance(v, str | int | float | bool | type(None)) else str(v) for k, v in values.items()}
