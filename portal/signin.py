"""Participant sign-in by a 6-digit code sent by SMS.

Codes are stored as keyed hashes, single use, valid for 10 minutes, with 5 attempts, and may
be re-sent after 60 seconds. Unknown numbers take exactly the same path (a challenge row is
written, no SMS is queued), so the response never tells whether a number is enrolled.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit
from .audit import Actor
from .i18n import translations
from .models import Participant, SignInChallenge
from .outbox import queue_sms


@dataclass(frozen=True)
class SignInPolicy:
    code_ttl: timedelta = timedelta(minutes=10)
    max_attempts: int = 5
    resend_after: timedelta = timedelta(seconds=60)
    per_number_per_hour: int = 5
    per_address_per_hour: int = 20


DEFAULT_POLICY = SignInPolicy()


class SignInError(Exception):
    """Why a request or a code was refused; ``code`` is what the view translates.

    Request: 'too_soon' (with ``wait_seconds``), 'rate_limited'.
    Verify: 'no_challenge', 'wrong', 'expired', 'used', 'too_many'.
    """

    def __init__(self, code: str, wait_seconds: int = 0, attempts_left: int = 0) -> None:
        self.code = code
        self.wait_seconds = wait_seconds
        self.attempts_left = attempts_left
        super().__init__(code)


@dataclass(frozen=True)
class CodeRequest:
    challenge_id: int
    message_id: int | None  # None for unknown numbers: nothing to send


def keyed_hash(secret: str, purpose: str, value: str) -> str:
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def sms_body(code: str, site_name: str, locale: str) -> str:
    """The minimum: who sends it, the code, how long it lasts. Never logged."""
    text = translations(locale).gettext(
        "%(site)s: your sign-in code is %(code)s. It works for 10 minutes. Do not share it."
    )
    return text % {"site": site_name, "code": code}


def request_code(
    session: Session,
    phone_e164: str,
    address: str,
    secret: str,
    now: datetime,
    policy: SignInPolicy = DEFAULT_POLICY,
) -> CodeRequest:
    """Check the limits, write a challenge and (for an enrolled number) queue its SMS."""
    phone_hash = keyed_hash(secret, "phone", phone_e164)
    address_hash = keyed_hash(secret, "address", address or "-")
    _check_limits(session, phone_hash, address_hash, now, policy)
    participant = session.scalar(
        select(Participant).where(Participant.phone_e164 == phone_e164).order_by(Participant.id).limit(1)
    )
    code = new_code()
    challenge = SignInChallenge(
        phone_hash=phone_hash,
        address_hash=address_hash,
        participant_id=participant.id if participant else None,
        code_hash=keyed_hash(secret, "code", f"{phone_hash}:{code}"),
        created_at=now,
        expires_at=now + policy.code_ttl,
    )
    session.add(challenge)
    session.flush()
    message_id = None
    if participant is not None:
        locale = participant.preferred_locale
        message = queue_sms(
            session, to_number=participant.phone_e164, kind="sign_in_code", locale=locale,
            body=sms_body(code, participant.site.localized("sms_name", locale), locale),
            participant_id=participant.id, due_at=now, expires_at=challenge.expires_at,
        )  # fmt: skip
        challenge.message_id = message_id = message.id
    audit.record(
        session, Actor(type="anonymous", ip_address=address), "sign_in.code_requested",
        object_type="sign_in_challenge", object_id=challenge.id,
        participant_id=participant.id if participant else None,
        site_id=participant.site_id if participant else None,
    )  # fmt: skip
    return CodeRequest(challenge.id, message_id)


def _check_limits(
    session: Session, phone_hash: str, address_hash: str, now: datetime, policy: SignInPolicy
) -> None:
    hour_ago = now - timedelta(hours=1)
    by_address = session.scalar(
        select(func.count()).where(
            SignInChallenge.address_hash == address_hash, SignInChallenge.created_at > hour_ago
        )
    )
    if (by_address or 0) >= policy.per_address_per_hour:
        raise SignInError("rate_limited")
    count, latest = session.execute(
        select(func.count(), func.max(SignInChallenge.created_at)).where(
            SignInChallenge.phone_hash == phone_hash, SignInChallenge.created_at > hour_ago
        )
    ).one()
    if count >= policy.per_number_per_hour:
        raise SignInError("rate_limited")
    if latest is not None:
        latest = _aware(latest)
        ready = latest + policy.resend_after
        if now < ready:
            raise SignInError("too_soon", wait_seconds=int((ready - now).total_seconds()) + 1)


def _aware(moment: datetime) -> datetime:
    # func.max() bypasses the column type on SQLite and may come back naive (UTC).
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def resend_wait(session: Session, challenge_id: int, now: datetime, policy: SignInPolicy = DEFAULT_POLICY) -> int:
    """Seconds until a new code may be asked for this challenge's number (0: now)."""
    challenge = session.get(SignInChallenge, challenge_id)
    if challenge is None:
        return 0
    left = (challenge.created_at + policy.resend_after - now).total_seconds()
    return max(0, int(left) + (1 if left > int(left) else 0))


def verify_code(
    session: Session,
    challenge_id: int | None,
    code: str,
    secret: str,
    now: datetime,
    address: str = "",
    policy: SignInPolicy = DEFAULT_POLICY,
) -> Participant:
    """The participant the code signs in; every failure counts and is audited (commit either way)."""
    challenge = session.get(SignInChallenge, challenge_id, with_for_update=True) if challenge_id else None
    if challenge is None:
        raise SignInError("no_challenge")
    actor = Actor(type="anonymous", ip_address=address)
    reason = _refusal(challenge, now, policy)
    if reason is None:
        challenge.attempts += 1
        expected = challenge.code_hash
        given = keyed_hash(secret, "code", f"{challenge.phone_hash}:{code.strip()}")
        if hmac.compare_digest(expected, given) and challenge.participant_id is not None:
            challenge.used_at = now
            participant = session.get(Participant, challenge.participant_id)
            assert participant is not None  # noqa: S101 - foreign key
            audit.record(
                session, Actor(type="participant", id=participant.id, ip_address=address), "sign_in.success",
                object_type="participant", object_id=participant.id, participant_id=participant.id,
                site_id=participant.site_id,
            )  # fmt: skip
            session.flush()
            return participant
        reason = "too_many" if challenge.attempts >= policy.max_attempts else "wrong"
    audit.record(
        session, actor, "sign_in.failed", object_type="sign_in_challenge", object_id=challenge.id,
        participant_id=challenge.participant_id, reason=reason,
    )  # fmt: skip
    session.flush()
    raise SignInError(reason, attempts_left=max(0, policy.max_attempts - challenge.attempts))


def _refusal(challenge: SignInChallenge, now: datetime, policy: SignInPolicy) -> str | None:
    if challenge.used_at is not None:
        return "used"
    if challenge.attempts >= policy.max_attempts:
        return "too_many"
    if now >= challenge.expires_at:
        return "expired"
    return None
