"""A Twilio-compatible SMS API on loopback, for tests and for demonstrating the worker.

It speaks the parts of the REST API that twilio-python uses for messages — create
(POST .../Messages.json), list with To / DateSent> filters (GET .../Messages.json) and fetch
(GET .../Messages/SM….json) — checks HTTP basic auth, can inject failures and latency, and
posts status callbacks signed exactly as Twilio signs them (X-Twilio-Signature over the full
URL and the sorted form fields).

Run it alone:  .venv/bin/python tests/reminders/twilio_fake.py --port 8765
"""

from __future__ import annotations

import argparse
import base64
import json
import queue
import random
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"
API_PREFIX = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages"


def _gsm_segments(body: str) -> int:
    ucs2 = any(ord(ch) > 0x7F for ch in body)
    single, multi = (70, 67) if ucs2 else (160, 153)
    return 1 if len(body) <= single else -(-len(body) // multi)


@dataclass
class FakeMessage:
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str
    created: datetime
    status: str = "queued"
    error_code: int | None = None

    def as_json(self) -> dict[str, Any]:
        stamp = format_datetime(self.created)
        return {
            "sid": self.sid, "account_sid": ACCOUNT_SID, "to": self.to, "from": self.from_, "body": self.body,
            "status": self.status, "num_segments": str(_gsm_segments(self.body)), "direction": "outbound-api",
            "date_created": stamp, "date_updated": stamp, "date_sent": stamp, "error_code": self.error_code,
            "error_message": None, "price": None, "price_unit": "USD", "api_version": "2010-04-01",
            "messaging_service_sid": None, "num_media": "0",
            "uri": f"{API_PREFIX}/{self.sid}.json", "subresource_uris": {},
        }  # fmt: skip


@dataclass
class FakeTwilio:
    """The server's state; tests set the knobs and read ``messages`` / ``create_attempts``."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    plan: deque[str] = field(default_factory=deque)  # actions for the next create calls, in order
    fault_rates: dict[str, float] = field(default_factory=dict)  # action → probability per create
    latency: float = 0.0
    hang_seconds: float = 3.0  # how long a "timeout" action stalls (longer than the client timeout)
    retry_after: str = "1"
    reject: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # To → (HTTP status, code, text)
    callback_statuses: tuple[str, ...] = ("sent", "delivered")
    shuffle_callbacks: bool = False
    seed: int = 7
    messages: dict[str, FakeMessage] = field(default_factory=dict)
    create_attempts: list[tuple[float, str]] = field(default_factory=list)  # (time, action) per create call
    callbacks_sent: list[tuple[str, str, int]] = field(default_factory=list)  # (sid, status, HTTP status)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.random = random.Random(self.seed)
        self.callback_queue: queue.Queue[tuple[str, dict[str, str]] | None] = queue.Queue()

    # --- what tests look at --------------------------------------------------------------

    def accepted(self) -> list[FakeMessage]:
        with self.lock:
            return list(self.messages.values())

    def duplicates(self) -> dict[tuple[str, str], int]:
        counts = Counter((m.to, m.body) for m in self.accepted())
        return {key: n for key, n in counts.items() if n > 1}

    def next_action(self) -> str:
        with self.lock:
            if self.plan:
                return self.plan.popleft()
            for action, rate in self.fault_rates.items():
                if self.random.random() < rate:
                    return action
            return "ok"

    def create(self, form: dict[str, str]) -> FakeMessage:
        message = FakeMessage(
            sid="SM" + uuid.uuid4().hex, to=form.get("To", ""),
            from_=form.get("From", "") or form.get("MessagingServiceSid", ""), body=form.get("Body", ""),
            status_callback=form.get("StatusCallback", ""), created=datetime.now(UTC),
        )  # fmt: skip
        with self.lock:
            self.messages[message.sid] = message
        self._queue_callbacks(message)
        return message

    def _queue_callbacks(self, message: FakeMessage) -> None:
        if not message.status_callback:
            return
        statuses = list(self.callback_statuses)
        if self.shuffle_callbacks:
            self.random.shuffle(statuses)
        for status in statuses:
            params = {"MessageSid": message.sid, "SmsSid": message.sid, "AccountSid": self.account_sid,
                      "MessageStatus": status, "SmsStatus": status, "To": message.to, "From": message.from_,
                      "ApiVersion": "2010-04-01"}  # fmt: skip
            if status in ("failed", "undelivered"):
                params["ErrorCode"] = "30003"
            self.callback_queue.put((message.status_callback, params))

    def sign(self, url: str, params: dict[str, str]) -> str:
        return RequestValidator(self.auth_token).compute_signature(url, params)

    def post_callbacks(self) -> None:
        """Background loop: deliver queued status callbacks, signed."""
        session = requests.Session()
        session.trust_env = False
        while True:
            item = self.callback_queue.get()
            if item is None:
                return
            url, params = item
            try:
                reply = session.post(url, data=params, headers={"X-Twilio-Signature": self.sign(url, params)},
                                     timeout=10)  # fmt: skip
                code = reply.status_code
            except requests.RequestException:
                code = 0
            with self.lock:
                self.callbacks_sent.append((params["MessageSid"], params["MessageStatus"], code))
                if code == 200:
                    self.messages[params["MessageSid"]].status = params["MessageStatus"]
            self.callback_queue.task_done()

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued callback was posted."""
        deadline = time.monotonic() + timeout
        while self.callback_queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)


class Handler(BaseHTTPRequestHandler):
    server: FakeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def state(self) -> FakeTwilio:
        return self.server.state

    @property
    def prefix(self) -> str:
        return f"/2010-04-01/Accounts/{self.state.account_sid}/Messages"

    def _reply(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: int, text: str, headers: dict[str, str] | None = None) -> None:
        self._reply(status, {"code": code, "message": text, "more_info": "", "status": status}, headers)

    def _authorised(self) -> bool:
        expected = base64.b64encode(f"{self.state.account_sid}:{self.state.auth_token}".encode()).decode()
        if self.headers.get("Authorization", "") != f"Basic {expected}":
            self._error(401, 20003, "Authenticate")
            return False
        return True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode(), keep_blank_values=True).items()}
        if not self._authorised():
            return
        if urlsplit(self.path).path != f"{self.prefix}.json":
            self._error(404, 20404, "Not found")
            return
        if self.state.latency:
            time.sleep(self.state.latency)
        action = self.state.next_action()
        with self.state.lock:
            self.state.create_attempts.append((time.monotonic(), action))
        self._create(form, action)

    def _create(self, form: dict[str, str], action: str) -> None:
        state = self.state
        if form.get("To") in state.reject:
            status, code, text = state.reject[form["To"]]
            self._error(status, code, text)
            return
        if action == "429":
            self._error(429, 20429, "Too Many Requests", {"Retry-After": state.retry_after})
            return
        if action == "500":
            self._error(500, 20500, "Internal Server Error")
            return
        if not form.get("To") or not form.get("Body"):
            self._error(400, 21604, "A 'To' phone number and a 'Body' are required.")
            return
        message = state.create(form)
        if action == "500_created":
            self._error(500, 20500, "Internal Server Error")
        elif action == "timeout":
            time.sleep(state.hang_seconds)  # the client gave up long ago; the message exists
            self.close_connection = True
        else:
            self._reply(201, message.as_json())

    def do_GET(self) -> None:
        if not self._authorised():
            return
        parts = urlsplit(self.path)
        if parts.path == f"{self.prefix}.json":
            self._list(parse_qs(parts.query))
            return
        if parts.path.startswith(self.prefix + "/") and parts.path.endswith(".json"):
            sid = parts.path.removeprefix(self.prefix + "/").removesuffix(".json")
            with self.state.lock:
                message = self.state.messages.get(sid)
            if message is None:
                self._error(404, 20404, f"The requested resource {parts.path} was not found")
            else:
                self._reply(200, message.as_json())
            return
        self._error(404, 20404, "Not found")

    def _list(self, query: dict[str, list[str]]) -> None:
        to = query.get("To", [""])[0]
        after = query.get("DateSent>", [""])[0]
        since = datetime.fromisoformat(after.replace("Z", "+00:00")) if after else None
        size = int(query.get("PageSize", ["50"])[0])
        found = [m for m in self.state.accepted() if (not to or m.to == to) and (since is None or m.created >= since)]
        found.sort(key=lambda m: m.created, reverse=True)
        page = [m.as_json() for m in found[:size]]
        self._reply(200, {"messages": page, "page": 0, "page_size": size, "first_page_uri": "",
                          "next_page_uri": None, "previous_page_uri": None, "uri": self.path,
                          "start": 0, "end": len(page)})  # fmt: skip


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # workers open dozens of connections at once; the default 5 refuses some

    def __init__(self, state: FakeTwilio, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), Handler)
        self.state = state

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> FakeServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        threading.Thread(target=self.state.post_callbacks, daemon=True).start()
        return self

    def stop(self) -> None:
        self.state.callback_queue.put(None)
        self.shutdown()
        self.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--account-sid", default=ACCOUNT_SID)
    parser.add_argument("--auth-token", default=AUTH_TOKEN)
    args = parser.parse_args()
    server = FakeServer(FakeTwilio(account_sid=args.account_sid, auth_token=args.auth_token), port=args.port).start()
    print(f"Twilio-compatible API on {server.base_url} (account {args.account_sid}); Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(5)
            state = server.state
            print(f"accepted={len(state.accepted())} callbacks={len(state.callbacks_sent)} "
                  f"duplicates={len(state.duplicates())}", flush=True)  # fmt: skip
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
