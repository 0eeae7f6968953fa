"""Applying the provider's delivery reports to outbox rows (forward only, see ``delivery``)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import delivery
from .audit import Actor
from .dispatch import OPT_OUT_CODES
from .models import OutboxMessage, Participant
from .participants import set_sms_opt_out

log = logging.getLogger("portal.provider_status")


def record_status(
    session: Session,
    *,
    outbox_id: int | None,
    provider_id: str,
    status: str,
    error_code: str | None,
    now: datetime,
    actor: Actor,
) -> bool:
    """Apply one status report; returns whether the row moved forward.

    The row is found by the id in the callback URL (so the first report links the provider id
    even when the create reply was lost), else by provider id. A report naming a different
    provider id than the row already has is ignored: it is not this row's message.
    """
    message = session.get(OutboxMessage, outbox_id) if outbox_id is not None else None
    if message is None and provider_id:
        message = session.scalar(select(OutboxMessage).where(OutboxMessage.provider_id == provider_id))
    if message is None or message.direction != "out":
        log.warning("status report for no known row outbox_id=%s", outbox_id)
        return False
    if message.provider_id and provider_id and message.provider_id != provider_id:
        log.warning("status report id=%s names another provider id; ignored", message.id)
        return False
    detail = f"provider error {error_code}" if error_code else ""
    changed = delivery.advance(session, message.id, status, now, provider_id=provider_id or None,
                               error_code=error_code, error_message=detail)  # fmt: skip
    if error_code in OPT_OUT_CODES and message.participant_id is not None:
        participant = session.get(Participant, message.participant_id)
        if participant is not None:
            set_sms_opt_out(session, participant, True, "provider", actor, now)
    session.flush()
    return changed
