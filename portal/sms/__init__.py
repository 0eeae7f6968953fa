"""SMS backends behind one interface (``SmsBackend``): ``console`` for development, ``twilio``."""

from __future__ import annotations

import threading

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
    "new_backend",
    "status_callback_url",
]


_per_thread = threading.local()


def get_backend(settings: Settings) -> SmsBackend:
    """One backend per settings object and thread, kept for reuse (the Twilio one keeps a
    connection pool). Never shared between threads: twilio's ``TwilioHttpClient.request`` stores
    each response on the client and returns that attribute, so two threads sending through one
    client could swap replies (and record one message's provider id on another row)."""
    cache: dict[Settings, SmsBackend] = _per_thread.__dict__.setdefault("backends", {})
    backend = cache.get(settings)
    if backend is None:
        if len(cache) >= 8:  # tests build many settings objects; a process normally has one
            cache.clear()
        backend = cache[settings] = new_backend(settings)
    return backend


def new_backend(settings: Settings) -> SmsBackend:
    if settings.sms_backend == "twilio":
        from .twilio_backend import TwilioBackend

        return TwilioBackend(settings)
    from .console import ConsoleBackend

    return ConsoleBackend()


def status_callback_url(settings: Settings, message_id: int) -> str:
    """The row id rides in the URL so the first callback links the provider id even if the
    create reply was lost (Twilio has no idempotency key)."""
    return f"{settings.public_base_url}/webhooks/twilio/status?outbox_id={message_id}"
