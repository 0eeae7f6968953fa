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
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload, sessionmaker

from . import audit, delivery
from .config import Settings
from .db import execute_core, is_postgres
from .models import OutboxMessage, Participant
from .phones import mask_phone
from .sms import (
    OutgoingSms,
    PermanentSmsError,
    RetryableSmsError,
    SendResult,
    SmsBackend,
    UnknownOutcomeError,
    get_backend,
    status_callback_url,
)
from .sms.pool import NOT_SENT, SendPool
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
    batch_size: int = 20  # most rows claimed in one transaction
    run_seconds: float = 9.0  # one run stops claiming after this, so the job stays short (it runs every 10 s)
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
    budget_spent: bool = False  # rows were still due when the run's time was up


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
    session: Session,
    worker: str,
    now: datetime,
    policy: DispatchPolicy,
    per_phone: Counter[str],
    *,
    limit: int | None = None,
    blocked: set[str] | None = None,
) -> list[int]:
    """Claim up to ``limit`` (default ``batch_size``) due rows, oldest first, respecting the per-phone
    cap of this run. ``blocked`` collects the phones at their cap that still have rows waiting, so
    the query excludes only those (not every phone this run has sent to)."""
    limit = policy.batch_size if limit is None else limit
    blocked = set() if blocked is None else blocked
    postgres = is_postgres(session)
    chosen: list[int] = []
    taken = Counter(per_phone)
    while not chosen:
        query = (
            select(OutboxMessage.id, OutboxMessage.to_number, OutboxMessage.kind)
            .where(OutboxMessage.status == "pending", OutboxMessage.direction == "out", OutboxMessage.due_at <= now)
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .limit(limit * 4)
        )
        if blocked:
            query = query.where(
                (OutboxMessage.to_number.not_in(blocked)) | (OutboxMessage.kind.not_in(DEFERRABLE_KINDS))
            )
        if postgres:
            query = query.with_for_update(skip_locked=True)
        skipped = False
        for message_id, phone, kind in execute_core(session, query, {}).all():  # plain rows: no ORM handling
            if len(chosen) >= limit:
                break
            if kind in DEFERRABLE_KINDS and taken[phone] >= policy.per_phone_cap:
                blocked.add(phone)
                skipped = True
                continue
            if postgres:
                chosen.append(message_id)  # locked by us: nobody else can claim it
            elif not claim_one(session, message_id, worker, now, policy):
                continue
            else:
                chosen.append(message_id)
            if kind in DEFERRABLE_KINDS:
                taken[phone] += 1
        if not skipped:
            break  # nothing was held back by the cap: what we have is all there is
    if postgres and chosen:
        claim = update(OutboxMessage).where(OutboxMessage.id.in_(chosen)).values(**_claim_values(worker, now, policy))
        execute_core(session, claim, {})
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


def _outgoing(message: OutboxMessage, settings: Settings) -> OutgoingSms:
    return OutgoingSms(message_id=message.id, to=message.to_number, body=message.body, kind=message.kind,
                       status_callback=status_callback_url(settings, message.id))  # fmt: skip


def _check(session: Session, message: OutboxMessage, settings: Settings, now: datetime) -> OutgoingSms | None:
    """The send-time checks on one claimed row: cancel or defer it, or return what to send."""
    hold = _hold_reason(message, settings, now)
    if hold is None:
        return _outgoing(message, settings)
    reason, until = hold
    if until is not None:
        _release(session, message.id, until, refund_attempt=True)
    else:
        delivery.advance(session, message.id, "cancelled", now, error_message=reason)
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message.id).values(error_code=reason[:20]),
            execution_options=_NO_SYNC,
        )
    log.info("dispatch held id=%s reason=%s", message.id, reason)
    return None


def prepare(
    session_factory: sessionmaker[Session], message_id: int, worker: str, settings: Settings, now: datetime
) -> OutgoingSms | None:
    """Check a claimed row is still worth sending; cancel or defer it otherwise."""
    with session_factory() as session, session.begin():
        message = _load_claimed(session, message_id, worker)
        if message is None:
            return None
        return _check(session, message, settings, now)


def prepare_claimed(
    session: Session, message_ids: list[int], worker: str, settings: Settings, now: datetime
) -> list[OutgoingSms]:
    """``prepare`` for a whole claimed batch: one query, the same checks, in the caller's transaction."""
    if not message_ids:
        return []
    messages = session.scalars(
        select(OutboxMessage)
        .options(joinedload(OutboxMessage.participant).joinedload(Participant.site))
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == "sending",
               OutboxMessage.claimed_by == worker)
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
    ).all()  # fmt: skip
    return [sms for message in messages if (sms := _check(session, message, settings, now)) is not None]


def record_outcome(
    session: Session,
    sms: OutgoingSms,
    outcome: object,
    now: datetime,
    policy: DispatchPolicy,
) -> str:
    """Write what the provider said (a SendResult or one of the SmsError kinds)."""
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
    pool: SendPool | None = None,
) -> DispatchReport:
    """One dispatch run: keep claiming and sending due rows until none is due or the run's time
    budget is spent, with up to ``pool.window`` sends in flight (``WORKER_SEND_CONCURRENCY``)."""
    policy = policy or DispatchPolicy()
    own_pool = pool is None
    pool = pool or SendPool(settings, backend=backend)
    try:
        return _Run(session_factory, settings, policy, worker or worker_name(), pool, clock, should_stop).run()
    finally:
        if own_pool:
            pool.close()


class _Run:
    """The dispatcher's main thread: it alone touches the database; ``pool`` threads only call the
    provider. Each step is one short transaction that records the sends finished since the last
    step and tops up the claimed rows in hand (at most ``pool.window``), so a busy run costs one
    commit per group of messages rather than several per message."""

    def __init__(self, session_factory: sessionmaker[Session], settings: Settings, policy: DispatchPolicy,
                 worker: str, pool: SendPool, clock: Clock, should_stop: Callable[[], bool]) -> None:  # fmt: skip
        self.factory, self.settings, self.policy, self.worker = session_factory, settings, policy, worker
        self.pool, self.clock, self.should_stop = pool, clock, should_stop
        self.report = DispatchReport()
        self.per_phone: Counter[str] = Counter()
        self.blocked: set[str] = set()
        self.in_flight: dict[Future[object], OutgoingSms] = {}
        self.finished: list[tuple[OutgoingSms, object]] = []  # sent, not yet recorded
        self.deadline = time.monotonic() + policy.run_seconds

    def run(self) -> DispatchReport:
        more, since = True, 0.0
        try:
            while True:
                if not self.finished:
                    since = time.monotonic()
                self.finished += self._collect([f for f in self.in_flight if f.done()])
                out_of_time = time.monotonic() >= self.deadline
                claiming = more and not self.should_stop() and not out_of_time
                if out_of_time:
                    self._hand_back_queued()  # so the run ends within one provider round trip
                free = self.pool.window - len(self.in_flight)
                top_up = claiming and (not self.in_flight or free >= max(1, self.pool.window // 2))
                # Finished sends wait for the next top-up, so one transaction records a group.
                flush = self.finished and (not self.in_flight or time.monotonic() - since > 0.5)
                if top_up or flush:
                    finished, self.finished = self.finished, []
                    claimed = self._step(finished, free if top_up else 0)
                    more = more and (claimed or not top_up)
                elif self.in_flight:
                    wait(self.in_flight, timeout=0.2, return_when=FIRST_COMPLETED)
                else:
                    break
        finally:
            self._wind_down()
        self.report.budget_spent = more and time.monotonic() >= self.deadline
        return self.report

    def _hand_back_queued(self) -> None:
        self.finished += [(self.in_flight.pop(f), NOT_SENT) for f in list(self.in_flight) if f.cancel()]

    def _collect(self, futures: list[Future[object]]) -> list[tuple[OutgoingSms, object]]:
        return [(self.in_flight.pop(f), f.result()) for f in futures]

    def _step(self, finished: list[tuple[OutgoingSms, object]], claim: int) -> bool:
        """Record ``finished`` and claim up to ``claim`` more rows, in one transaction."""
        with self.factory() as session, session.begin():
            now = self.clock()
            results = self._record(session, finished, now)
            ids = ready = []
            if claim:
                ids = claim_batch(session, self.worker, now, self.policy, self.per_phone, limit=claim,
                                  blocked=self.blocked)  # fmt: skip
                ready = prepare_claimed(session, ids, self.worker, self.settings, now)
        for sms, result in results:  # logged once committed
            self.report.outcomes[result] += 1
            log.info("dispatch id=%s kind=%s to=%s outcome=%s", sms.message_id, sms.kind, mask_phone(sms.to), result)
        self.report.claimed += len(ids)
        self.report.outcomes["held"] += len(ids) - len(ready)
        for sms in ready:
            self.in_flight[self.pool.submit(sms, self.should_stop)] = sms
        return bool(ids)

    def _record(self, session: Session, finished: list[tuple[OutgoingSms, object]], now: datetime
                ) -> list[tuple[OutgoingSms, str]]:  # fmt: skip
        unsent = [sms.message_id for sms, outcome in finished if outcome is NOT_SENT]
        if unsent:
            _release_claimed(session, unsent, self.worker)
            self.report.outcomes["released"] += len(unsent)
        sent = [(sms, outcome) for sms, outcome in finished if outcome is not NOT_SENT]
        accepted = [(sms, o) for sms, o in sent if isinstance(o, SendResult) and o.status in delivery.ACCEPTED]
        delivery.accept_many(session, [(sms.message_id, o.status, o.provider_id,
                                        o.segments or count_segments(sms.body).segments)
                                       for sms, o in accepted], now)  # fmt: skip
        done = {sms.message_id for sms, _ in accepted}
        return [(sms, "accepted") for sms, _ in accepted] + [
            (sms, record_outcome(session, sms, o, now, self.policy)) for sms, o in sent if sms.message_id not in done
        ]

    def _wind_down(self) -> None:
        """Leaving (stop, budget, or an error): sends not started are handed back, sends under way
        finish and are recorded. If even that fails, their leases expire and they are reconciled."""
        self._hand_back_queued()
        finished, self.finished = self.finished + self._collect(list(wait(self.in_flight).done)), []
        if not finished:
            return
        try:
            self._step(finished, 0)
        except Exception:
            log.exception("dispatch could not record %s outcomes; their leases will expire", len(finished))


def _release_claimed(session: Session, message_ids: list[int], worker: str) -> None:
    """Hand back claimed rows that were never sent: pending again, the attempt refunded."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == "sending",
               OutboxMessage.claimed_by == worker)
        .values(status="pending", claimed_by=None, lease_expires_at=None, attempts=OutboxMessage.attempts - 1),
        execution_options=_NO_SYNC,
    )  # fmt: skip


def release_unsent(session_factory: sessionmaker[Session], message_ids: list[int], worker: str, now: datetime) -> None:
    with session_factory() as session, session.begin():
        _release_claimed(session, message_ids, worker)


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
