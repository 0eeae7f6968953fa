"""Twilio status callbacks and inbound messages: signature-checked, CSRF-exempt, thin."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Response, abort, current_app, g, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from .. import delivery
from ..audit import Actor
from ..config import Settings
from ..extensions import db_session
from ..inbound import handle_inbound
from ..provider_status import record_status
from .blueprint import bp

log = logging.getLogger("portal.webhooks")


def _settings() -> Settings:
    return current_app.config["PORTAL_SETTINGS"]


def _public_url() -> str:
    """The URL Twilio called, as configured (PUBLIC_BASE_URL) — Twilio signs the full URL."""
    query = request.query_string.decode()
    return f"{_settings().public_base_url}{request.path}" + (f"?{query}" if query else "")


def _require_signature() -> None:
    """403 unless X-Twilio-Signature matches our auth token over the full URL and the form.

    Both the configured public URL and the URL this request reached (correct behind a proxy
    when TRUSTED_PROXIES enables ProxyFix) are accepted.
    """
    signature = request.headers.get("X-Twilio-Signature", "")
    token = _settings().twilio_auth_token
    if not signature or not token:
        abort(403)
    validator = RequestValidator(token)
    if not any(validator.validate(url, request.form, signature) for url in {_public_url(), request.url}):
        log.warning("webhook signature rejected path=%s", request.path)
        abort(403)


def _actor() -> Actor:
    return Actor(type="provider", role="twilio", request_id=getattr(g, "request_id", ""),
                 ip_address=request.remote_addr or "")  # fmt: skip


@bp.post("/twilio/status")
def twilio_status() -> Response:
    _require_signature()
    raw_id = request.args.get("outbox_id", "")
    status = delivery.TWILIO_STATUS.get(request.form.get("MessageStatus", "").lower())
    if status is not None:
        session = db_session()
        record_status(
            session,
            outbox_id=int(raw_id) if raw_id.isdigit() else None,
            provider_id=request.form.get("MessageSid", ""),
            status=status,
            error_code=request.form.get("ErrorCode") or None,
            now=datetime.now(UTC),
            actor=_actor(),
        )
        session.commit()
    return Response(status=204)


@bp.post("/twilio/inbound")
def twilio_inbound() -> Response:
    _require_signature()
    session = db_session()
    result = handle_inbound(
        session,
        sender=request.form.get("From", ""),
        to=request.form.get("To", ""),
        body=request.form.get("Body", ""),
        provider_sid=request.form.get("MessageSid", ""),
        now=datetime.now(UTC),
        actor=_actor(),
    )
    session.commit()
    twiml = MessagingResponse()
    if result.reply:
        twiml.message(result.reply)
    return Response(str(twiml), mimetype="application/xml")
