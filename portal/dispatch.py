"""Outbox dispatch: claim due rows, send them through the SMS backend, record what happened.

Exactly once (DESIGN.md invariant 2) rests on three rules:

1. A row is sent only by whoever moved it ``pending → sending`` in a committed conditional
   UPDATE (PostgreSQL: candidates picked with ``FOR UPDATE SKIP LOCKED``). The claim carries a
   lease; no transaction is held open during the network call.
2. A send whose outcome is unclear (timeout, 5xx on create, a worker killed between the API
   call and the commit — i.e. an expired lease) becomes ``unknown``, never ``pending``:
   ``portal.reconcile`` asks the provider's message list before anything is sent again.
3. Delivery statuses only move forward (``portal.delivery``).
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload, sessionmaker

from . import audit, delivery
from .config import Settings
from .db import is_postgres
from .models import OutboxMessage, Participant
from .phones import mask_phone
from .sms import (
    OutgoingSms,
    PermanentSmsError,
    RetryableSmsError,
    SmsBackend,
    UnknownOutcomeError,
    get_backend,
    status_callback_url,
)
from .sms.segments import count_segments

log = logging.getLogger("portal.dispatch")
_NO_SYNC = {"synchronize_session": False}
# Kinds that wait for the end of quiet hours and for a participant who may receive SMS.
# A sign-in code was asked for a moment ago by the person holding the phone: it goes at once.
DEFERRABLE_KINDS = ("reminder", "notification", "staff")
# Twilio: 21610 = the recipient replied STOP; the others can never succeed either.
OPT_OUT_CODES = ("21610",)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class DispatchPolicy:
    batch_size: int = 20
    max_batches: int = 25  # per run, so one job run stays short
    lease_seconds: float = 120.0  # longer than the backend timeout plus bookkeeping
    max_attempts: int = 8
    backoff_base: float = 30.0
    backoff_cap: float = 1800.0
    per_phone_cap: int = 1  # deferrable messages per phone per run: a backlog never floods a phone
    reconcile_after: float = 30.0  # give the provider (and its first callback) a moment


@dataclass
class DispatchReport:
    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def backoff_delay(attempts: int, policy: DispatchPolicy, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider's Retry-After."""
    ceiling = min(policy.backoff_cap, policy.backoff_base * (2 ** max(attempts - 1, 0)))
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography
    return max(delay, retry_after or 0.0)


# --- claiming --------------------------------------------------------------------------------


def _claim_values(worker: str, now: datetime, policy: DispatchPolicy) -> dict[str, object]:
    return {
        "status": "sending",
        "claimed_by": worker,
        "lease_expires_at": now + timedelta(seconds=policy.lease_seconds),
        "attempts": OutboxMessage.attempts + 1,
        "status_updated_at": now,
    }


def claim_one(session: Session, message_id: int, worker: str, now: datetime, policy: DispatchPolicy) -> bool:
    """Claim one pending row; True only for the single caller whose UPDATE matched."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending", OutboxMessage.direction == "out")
        .values(**_claim_values(worker, now, policy)),
        execution_options=_NO_SYNC,
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def claim_batch(
    session: Session, worker: str, now: datetime, policy: DispatchPolicy, per_phone: Counter[str]
) -> list[int]:
    """Claim up to ``batch_size`` due rows, oldest first, respecting the per-phone cap of this run."""
    query = (
        select(OutboxMessage.id, OutboxMessage.to_number, OutboxMessage.kind)
        .where(OutboxMessage.status == "pending", OutboxMessage.direction == "out", OutboxMessage.due_at <= now)
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
        .limit(policy.batch_size * 4)
    )
    capped = [phone for phone, n in per_phone.items() if n >= policy.per_phone_cap]
    if capped:
        query = query.where(
            (OutboxMessage.to_number.not_in(capped)) | (OutboxMessage.kind.not_in(DEFERRABLE_KINDS))
        )
    postgres = is_postgres(session)
    if postgres:
        query = query.with_for_update(skip_locked=True)
    chosen: list[int] = []
    taken = Counter(per_phone)
    for message_id, phone, kind in session.execute(query):
        if len(chosen) >= policy.batch_size:
            break
        if kind in DEFERRABLE_KINDS and taken[phone] >= policy.per_phone_cap:
            continue
        if postgres:
            chosen.append(message_id)  # locked by us: nobody else can claim it
        elif claim_one(session, message_id, worker, now, policy):
            chosen.append(message_id)
        else:
            continue
        if kind in DEFERRABLE_KINDS:
            taken[phone] += 1
    if postgres and chosen:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(chosen)).values(**_claim_values(worker, now, policy)),
            execution_options=_NO_SYNC,
        )
    per_phone.clear()
    per_phone.update(taken)
    return chosen


# --- sending one claimed row -----------------------------------------------------------------


def _load_claimed(session: Session, message_id: int, worker: str) -> OutboxMessage | None:
    message = session.scalar(
        select(OutboxMessage)
        .options(joinedload(OutboxMessage.participant).joinedload(Participant.site))
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "sending", OutboxMessage.claimed_by == worker)
    )
    return message


def _hold_reason(message: OutboxMessage, settings: Settings, now: datetime) -> tuple[str, datetime | None] | None:
    """Why this claimed row must not go out now: ('cancel', None) or ('defer', until)."""
    if message.expires_at is not None and message.expires_at <= now:
        return "expired", None
    participant = message.participant
    if message.kind in DEFERRABLE_KINDS and participant is not None and not participant.can_receive_sms:
        return "sms_not_allowed", None
    if message.kind in DEFERRABLE_KINDS:
        tz = participant.site.timezone if participant is not None else settings.default_timezone
        from .reminders import next_allowed

        allowed = next_allowed(now, tz, settings.quiet_hours)
        if allowed > now:
            return "quiet_hours", allowed
    return None


def _release(session: Session, message_id: int, due_at: datetime, *, refund_attempt: bool) -> None:
    values: dict[str, object] = {"status": "pending", "claimed_by": None, "lease_expires_at": None, "due_at": due_at}
    if refund_attempt:
        values["attempts"] = OutboxMessage.attempts - 1
    session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.status == "sending").values(**values),
        execution_options=_NO_SYNC,
    )


def prepare(
    session_factory: sessionmaker[Session], message_id: int, worker: str, settings: Settings, now: datetime
) -> OutgoingSms | None:
    """Check a claimed row is still worth sending; cancel or defer it otherwise."""
    with session_factory() as session, session.begin():
        message = _load_claimed(session, message_id, worker)
        if message is None:
            return None
        hold = _hold_reason(message, settings, now)
        if hold is not None:
            reason, until = hold
            if until is not None:
                _release(session, message_id, until, refund_attempt=True)
            else:
                delivery.advance(session, message_id, "cancelled", now, error_message=reason)
                session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == message_id).values(error_code=reason[:20]),
                    execution_options=_NO_SYNC,
                )
            log.info("dispatch held id=%s reason=%s", message_id, reason)
            return None
        return OutgoingSms(
            message_id=message.id,
            to=message.to_number,
            body=message.body,
            kind=message.kind,
            status_callback=status_callback_url(settings, message.id),
        )


def record_outcome(
    session: Session,
    sms: OutgoingSms,
    outcome: object,
    now: datetime,
    policy: DispatchPolicy,
) -> str:
    """Write what the provider said (a SendResult or one of the SmsError kinds)."""
    from .sms import SendResult

    if isinstance(outcome, SendResult):
        segments = outcome.segments or count_segments(sms.body).segments
        delivery.advance(session, sms.message_id, outcome.status, now, provider_id=outcome.provider_id,
                         segments=segments, error_code=outcome.error_code)  # fmt: skip
        return "accepted"
    if isinstance(outcome, PermanentSmsError):
        _fail_permanently(session, sms, outcome, now)
        return "failed"
    if isinstance(outcome, UnknownOutcomeError):
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == sms.message_id, OutboxMessage.status == "sending")
            .values(status="unknown", status_updated_at=now, error_message=str(outcome)[:500]),
            execution_options=_NO_SYNC,
        )
        return "unknown"
    assert isinstance(outcome, RetryableSmsError)  # noqa: S101 - exhaustive over send()'s outcomes
    return _retry_later(session, sms.message_id, outcome, now, policy)


def _retry_later(
    session: Session, message_id: int, error: RetryableSmsError, now: datetime, policy: DispatchPolicy
) -> str:
    attempts = session.scalar(select(OutboxMessage.attempts).where(OutboxMessage.id == message_id)) or 0
    if attempts >= policy.max_attempts:
        delivery.advance(session, message_id, "failed", now, error_code=error.code or "retries",
                         error_message=f"gave up after {attempts} attempts: {error}")  # fmt: skip
        return "failed"
    delay = backoff_delay(attempts, policy, error.retry_after)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status.in_(("sending", "unknown")))
        .values(status="pending", claimed_by=None, lease_expires_at=None, due_at=now + timedelta(seconds=delay),
                error_code=error.code, error_message=str(error)[:500], status_updated_at=now),
        execution_options=_NO_SYNC,
    )  # fmt: skip
    return "retry"


def _fail_permanently(session: Session, sms: OutgoingSms, error: PermanentSmsError, now: datetime) -> None:
    delivery.advance(session, sms.message_id, "failed", now, error_code=error.code or "4xx", error_message=str(error))
    participant_id = session.scalar(select(OutboxMessage.participant_id).where(OutboxMessage.id == sms.message_id))
    if error.code in OPT_OUT_CODES and participant_id is not None:
        from .participants import set_sms_opt_out

        participant = session.get(Participant, participant_id)
        if participant is not None:
            actor = audit.Actor(type="provider", role="twilio")
            set_sms_opt_out(session, participant, True, "provider", actor, now)
    log.warning("dispatch failed id=%s to=%s code=%s", sms.message_id, mask_phone(sms.to), error.code)


def deliver(
    session_factory: sessionmaker[Session],
    sms: OutgoingSms,
    backend: SmsBackend,
    policy: DispatchPolicy,
    clock: Clock = utcnow,
) -> str:
    """The network call, outside any transaction, then one short transaction to record it."""
    try:
        outcome: object = backend.send(sms)
    except (RetryableSmsError, UnknownOutcomeError, PermanentSmsError) as exc:
        outcome = exc
    with session_factory() as session, session.begin():
        result = record_outcome(session, sms, outcome, clock(), policy)
    log.info("dispatch id=%s kind=%s to=%s outcome=%s", sms.message_id, sms.kind, mask_phone(sms.to), result)
    return result


def process_claimed(
    session_factory: sessionmaker[Session],
    message_id: int,
    worker: str,
    settings: Settings,
    policy: DispatchPolicy,
    backend: SmsBackend | None = None,
    clock: Clock = utcnow,
) -> str:
    sms = prepare(session_factory, message_id, worker, settings, clock())
    if sms is None:
        return "held"
    return deliver(session_factory, sms, backend or get_backend(settings), policy, clock)


# --- entry points ----------------------------------------------------------------------------


def send_now(session_factory: sessionmaker[Session], message_id: int, settings: Settings) -> None:
    """Send one queued row at once (e.g. a sign-in code), through the same claim as the worker.

    Call it after the row is committed. If a worker claimed the row first, this does nothing:
    the worker sends it. Errors are recorded on the row, never raised to the caller.
    """
    policy = DispatchPolicy()
    worker = f"send_now:{worker_name()}"
    with session_factory() as session, session.begin():
        claimed = claim_one(session, message_id, worker, utcnow(), policy)
    if claimed:
        process_claimed(session_factory, message_id, worker, settings, policy)


def dispatch_due(
    session_factory: sessionmaker[Session],
    settings: Settings,
    *,
    policy: DispatchPolicy | None = None,
    worker: str | None = None,
    backend: SmsBackend | None = None,
    clock: Clock = utcnow,
    should_stop: Callable[[], bool] = lambda: False,
) -> DispatchReport:
    """One dispatch run: claim and send due rows in small batches until none is due."""
    policy = policy or DispatchPolicy()
    worker = worker or worker_name()
    report = DispatchReport()
    per_phone: Counter[str] = Counter()
    for _ in range(policy.max_batches):
        if should_stop():
            break
        with session_factory() as session, session.begin():
            claimed = claim_batch(session, worker, clock(), policy, per_phone)
        if not claimed:
            break
        report.claimed += len(claimed)
        for position, message_id in enumerate(claimed):
            if should_stop():
                # Hand back what we claimed but have not touched: nothing was sent for these.
                release_unsent(session_factory, claimed[position:], worker, clock())
                return report
            report.outcomes[process_claimed(session_factory, message_id, worker, settings, policy, backend, clock)] += 1
    return report


def release_unsent(session_factory: sessionmaker[Session], message_ids: list[int], worker: str, now: datetime) -> None:
    with session_factory() as session, session.begin():
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == "sending",
                   OutboxMessage.claimed_by == worker)
            .values(status="pending", claimed_by=None, lease_expires_at=None, attempts=OutboxMessage.attempts - 1),
            execution_options=_NO_SYNC,
        )  # fmt: skip


def expire_leases(session_factory: sessionmaker[Session], clock: Clock = utcnow) -> int:
    """Rows whose worker vanished mid-send: the provider may have them, so they become unknown."""
    now = clock()
    with session_factory() as session, session.begin():
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending", OutboxMessage.lease_expires_at < now)
            .values(status="unknown", status_updated_at=now, error_message="lease expired mid-send"),
            execution_options=_NO_SYNC,
        )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if count:
        log.warning("expired leases count=%s", count)
    return count
