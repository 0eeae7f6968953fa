"""SMS backends behind one interface (``SmsBackend``): ``console`` for development, ``twilio``."""

from __future__ import annotations

from functools import lru_cache

from ..config import Settings
from .base import (
    OutgoingSms,
    PermanentSmsError,
    RetryableSmsError,
    SendResult,
    SmsBackend,
    SmsError,
    UnknownOutcomeError,
)

__all__ = [
    "OutgoingSms",
    "PermanentSmsError",
    "RetryableSmsError",
    "SendResult",
    "SmsBackend",
    "SmsError",
    "UnknownOutcomeError",
    "get_backend",
    "status_callback_url",
]


@lru_cache(maxsize=8)
def get_backend(settings: Settings) -> SmsBackend:
    """One backend per settings object (the Twilio one keeps a connection pool)."""
    if settings.sms_backend == "twilio":
        from .twilio_backend import TwilioBackend

        return TwilioBackend(settings)
    from .console import ConsoleBackend

    return ConsoleBackend()


def status_callback_url(settings: Settings, message_id: int) -> str:
    """The row id rides in the URL so the first callback links the provider id even if the
    create reply was lost (Twilio has no idempotency key)."""
    return f"{settings.public_base_url}/webhooks/twilio/status?outbox_id={message_id}"
