"""The one interface every SMS backend implements, and the errors dispatch understands.

Dispatch treats the three error kinds differently (DESIGN.md §4):
``RetryableSmsError`` — the provider certainly did not take the message (429, connection refused):
retry later; ``UnknownOutcomeError`` — it may have (timeout, 5xx on create): reconcile before any
retry; ``PermanentSmsError`` — it never will (invalid number, unsubscribed, other 4xx): fail now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class OutgoingSms:
    message_id: int
    to: str
    body: str
    kind: str
    status_callback: str = ""


@dataclass(frozen=True)
class SendResult:
    """What the provider said about a message: its id and where delivery stands."""

    provider_id: str
    status: str  # one of our outbox statuses: queued | sent | delivered | undelivered | failed
    segments: int | None = None
    error_code: str | None = None


class SmsError(Exception):
    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class RetryableSmsError(SmsError):
    """Certainly not accepted; safe to send again after ``retry_after`` seconds (if given)."""

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class UnknownOutcomeError(SmsError):
    """The provider may have accepted the message: reconcile against its list first."""


class PermanentSmsError(SmsError):
    """The provider refused the message for good (``code`` is the provider's error code)."""


class SmsBackend(Protocol):
    name: str

    def send(self, sms: OutgoingSms) -> SendResult:
        """Hand one message to the provider; raises one of the SmsError kinds above."""
        ...

    def find_sent(self, sms: OutgoingSms, since: datetime, exclude: set[str]) -> SendResult | None:
        """The provider's record of this message if it has one (matched on recipient and body).

        ``exclude`` holds provider ids already linked to other outbox rows.
        Raises RetryableSmsError when the provider cannot be asked right now.
        """
        ...
