"""Development backend: prints the message and marks it delivered. Sends nothing anywhere."""

from __future__ import annotations

import logging
import sys
import uuid
from datetime import datetime

from ..phones import mask_phone
from .base import OutgoingSms, SendResult
from .segments import count_segments

log = logging.getLogger("portal.sms.console")


class ConsoleBackend:
    name = "console"

    def send(self, sms: OutgoingSms) -> SendResult:
        segments = count_segments(sms.body).segments
        # The log line never carries a sign-in code; the body goes to this process's stdout only,
        # so a developer running locally can read it.
        log.info("console sms id=%s kind=%s to=%s segments=%s", sms.message_id, sms.kind, mask_phone(sms.to), segments)
        print(f"--- SMS #{sms.message_id} to {mask_phone(sms.to)} ({sms.kind}) ---\n{sms.body}\n---", file=sys.stdout)
        return SendResult(provider_id=f"CONSOLE{uuid.uuid4().hex}", status="delivered", segments=segments)

    def find_sent(self, sms: OutgoingSms, since: datetime, exclude: set[str]) -> SendResult | None:
        return None  # the console forgets: nothing was ever handed to a provider
