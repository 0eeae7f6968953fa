"""Bounded concurrent sends for one worker process, with an optional rate cap.

Only the provider call runs on these threads: the dispatcher's main thread does every database
read and write (claim, checks, recording outcomes), so a worker still needs one connection for
dispatch however many sends are in flight, and no session is ever shared between threads.
Each thread has its own backend (``get_backend`` is per thread): a twilio client must not be
shared between threads.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from ..config import Settings
from . import get_backend
from .base import OutgoingSms, PermanentSmsError, RetryableSmsError, SmsBackend, UnknownOutcomeError

# A send's outcome: a SendResult, one of the SmsError kinds, or NOT_SENT (stopped before the call).
NOT_SENT = object()
# With a rate cap, claim no more than this many seconds' worth of sends at a time, so a claimed row
# never waits long (or anywhere near its lease) for its turn.
RATE_HORIZON_SECONDS = 2.0


class RateLimiter:
    """At most ``per_second`` sends per second across all threads: each send books the next slot."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, should_stop: Callable[[], bool]) -> bool:
        """Sleep until this caller's slot; False if asked to stop first (the slot is then wasted)."""
        with self._lock:
            slot = max(time.monotonic(), self._next)
            self._next = slot + self.interval
        while (delay := slot - time.monotonic()) > 0:
            if should_stop():
                return False
            time.sleep(min(delay, 0.1))
        return True


class SendPool:
    """``concurrency`` sending threads; ``window`` is how many claimed rows may be in hand at once."""

    def __init__(self, settings: Settings, *, concurrency: int | None = None, rate_per_second: float | None = None,
                 backend: SmsBackend | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.concurrency = max(1, concurrency or settings.worker_send_concurrency)
        rate = settings.sms_rate_limit_per_second if rate_per_second is None else rate_per_second
        self.limiter = RateLimiter(rate) if rate > 0 else None
        # Claimed rows in hand: every thread busy plus as many queued, so threads keep sending
        # while the dispatcher is in the database; a queued row waits one batch at most.
        self.window = 2 * self.concurrency
        if rate > 0:
            self.window = max(1, min(self.window, math.ceil(rate * RATE_HORIZON_SECONDS)))
        self._backend = backend  # a given backend (tests, console) is used by every thread
        self._executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="sms-send")

    def submit(self, sms: OutgoingSms, should_stop: Callable[[], bool]) -> Future[object]:
        return self._executor.submit(self._send, sms, should_stop)

    def _send(self, sms: OutgoingSms, should_stop: Callable[[], bool]) -> object:
        if self.limiter is not None and not self.limiter.wait(should_stop):
            return NOT_SENT
        if should_stop():
            return NOT_SENT  # stopping: hand the row back rather than start a new call
        backend = self._backend or get_backend(self.settings)
        try:
            return backend.send(sms)
        except (RetryableSmsError, UnknownOutcomeError, PermanentSmsError) as exc:
            return exc
        except Exception as exc:  # whatever broke, the provider may have the message
            return UnknownOutcomeError(f"unexpected error while sending: {type(exc).__name__}")

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
