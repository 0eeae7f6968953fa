"""The Twilio backend, through the real ``twilio`` library.

``TWILIO_API_BASE`` lets the same library talk to any Twilio-compatible endpoint (a regional
provider, or the loopback test server): ``RebasingHttpClient`` rewrites scheme and host of every
request the library builds. Every request has an explicit timeout.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.utils import get_environ_proxies
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from ..config import Settings
from ..delivery import TWILIO_STATUS
from .base import (
    OutgoingSms,
    PermanentSmsError,
    RetryableSmsError,
    SendResult,
    UnknownOutcomeError,
)
from .segments import count_segments

log = logging.getLogger("portal.sms.twilio")
RECONCILE_PAGE = 200


class RebasingHttpClient(TwilioHttpClient):
    """A TwilioHttpClient that sends every request to ``api_base`` instead of *.twilio.com."""

    def __init__(self, api_base: str, timeout: float) -> None:
        super().__init__(pool_connections=True, timeout=timeout, proxy=get_environ_proxies(api_base))
        self._base = urlsplit(api_base)
        self._local = threading.local()
        # The environment's proxy and CA bundle, read once above and here rather than again for
        # every message (requests' per-send lookup was ~5 % of a worker's CPU in a burst).
        if self.session is not None:
            self.session.trust_env = False
            self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True

    def rebase(self, url: str) -> str:
        parts = urlsplit(url)
        path = self._base.path.rstrip("/") + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, parts.fragment))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        self._local.last_headers = {}
        response = super().request(method, self.rebase(url), *args, **kwargs)
        self._local.last_headers = dict(response.headers or {})
        return response

    def last_header(self, name: str) -> str | None:
        headers: dict[str, str] = getattr(self._local, "last_headers", {}) or {}
        for key, value in headers.items():
            if key.lower() == name.lower():
                return value
        return None


def _retry_after(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """Connection refused / DNS failure / connect timeout: the request never left this host."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text or "NameResolutionError" in text


class TwilioBackend:
    name = "twilio"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.http = RebasingHttpClient(settings.twilio_api_base, settings.twilio_timeout_seconds)
        self.client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=self.http,
                             environment={})  # fmt: skip

    def _sender(self) -> dict[str, str]:
        if self.settings.twilio_messaging_service_sid:
            return {"messaging_service_sid": self.settings.twilio_messaging_service_sid}
        return {"from_": self.settings.twilio_from_number}

    def send(self, sms: OutgoingSms) -> SendResult:
        try:
            message = self.client.messages.create(
                to=sms.to, body=sms.body, status_callback=sms.status_callback or None, **self._sender()
            )
        except TwilioRestException as exc:
            raise self._classify(exc) from exc
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                raise RetryableSmsError(f"connection failed: {type(exc).__name__}", code="connect") from exc
            raise UnknownOutcomeError(f"connection lost mid-request: {type(exc).__name__}") from exc
        except requests.exceptions.Timeout as exc:
            raise UnknownOutcomeError(f"timeout: {type(exc).__name__}") from exc
        return self._result(message, sms.body)

    def _classify(self, exc: TwilioRestException) -> Exception:
        code = str(exc.code) if exc.code else str(exc.status)
        text = f"HTTP {exc.status} code {exc.code}: {exc.msg}"
        if exc.status == 429:
            return RetryableSmsError(text, code=code, retry_after=_retry_after(self.http.last_header("Retry-After")))
        if exc.status >= 500:
            # The provider may have created the message before failing: reconcile first.
            return UnknownOutcomeError(text, code=code)
        return PermanentSmsError(text, code=code)

    def _result(self, message: Any, body: str) -> SendResult:
        segments = int(message.num_segments) if str(message.num_segments or "").isdigit() else None
        status = TWILIO_STATUS.get(str(message.status or "queued"), "queued")
        error = str(message.error_code) if message.error_code else None
        return SendResult(message.sid, status, segments or count_segments(body).segments, error)

    def find_sent(self, sms: OutgoingSms, since: datetime, exclude: set[str]) -> SendResult | None:
        """Twilio's Messages list filtered by To and date sent, matched on body."""
        try:
            found = self.client.messages.list(
                to=sms.to, date_sent_after=since - timedelta(days=1), limit=RECONCILE_PAGE
            )
        except TwilioRestException as exc:
            raise RetryableSmsError(f"cannot list messages: HTTP {exc.status}", code=str(exc.status)) from exc
        except requests.exceptions.RequestException as exc:
            raise RetryableSmsError(f"cannot list messages: {type(exc).__name__}", code="list") from exc
        for message in found:
            if message.body == sms.body and message.sid not in exclude:
                return self._result(message, sms.body)
        return None
