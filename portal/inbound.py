"""Inbound SMS: keywords in both languages, confirmations, and free text for the study team.

Keywords are matched on the whole message, case- and width-insensitive (NFKC folds full-width
"ＳＴＯＰ"/"１" to "STOP"/"1"), ignoring surrounding spaces and punctuation. Replies are
rendered in the participant's saved language. An unknown sender leaves one audit line only.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from . import audit
from .audit import Actor
from .i18n import clock, short_date, to_local, translations
from .models import OutboxMessage, Participant, Visit
from .participants import set_sms_opt_out
from .phones import PhoneError, mask_phone, normalize_phone
from .schedule import confirm_visit
from .sms_templates import N_

log = logging.getLogger("portal.inbound")

KEYWORDS: dict[str, frozenset[str]] = {
    "opt_out": frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "退订", "TD", "T"}),
    "opt_in": frozenset({"START", "UNSTOP", "订阅"}),
    "help": frozenset({"HELP", "INFO", "帮助"}),
    "confirm": frozenset({"1", "Y", "YES", "确认", "是"}),
}
_EDGE_PUNCTUATION = " \t\r\n.,!?;:'\"。，！？；：、“”‘’～~"

REPLIES = {
    "opt_out": N_("%(site)s: you will get no more text reminders. Reply START to get them again. "
                  "Questions: %(phone)s."),
    "opt_in": N_("%(site)s: text reminders are on again. Reply TD to stop them."),
    "help": N_("%(site)s study team: %(phone)s (%(hours)s). In an emergency call 120. Reply TD to stop texts."),
    "confirmed": N_("%(site)s: thank you. Your study visit on %(date)s at %(time)s is confirmed."),
    "no_visit": N_("%(site)s: we found no booked visit to confirm. The study team will contact you."),
    "stored": N_("%(site)s: thank you, the study team has your message and will reply in working hours. "
                 "In an emergency call 120."),
}  # fmt: skip


def keyword_action(body: str) -> str | None:
    text = unicodedata.normalize("NFKC", body or "").strip(_EDGE_PUNCTUATION).upper()
    for action, words in KEYWORDS.items():
        if text in words:
            return action
    return None


@dataclass(frozen=True)
class InboundResult:
    action: str  # opt_out | opt_in | help | confirmed | no_visit | stored | unknown_sender
    reply: str = ""
    participant_id: int | None = None


def _find_participant(session: Session, sender: str) -> Participant | None:
    try:
        number = normalize_phone(sender, mobile_only=False)
    except PhoneError:
        number = sender.strip()
    candidates = session.scalars(
        select(Participant).options(joinedload(Participant.site)).where(Participant.phone_e164 == number)
        .order_by(Participant.status != "active", Participant.id.desc())
    ).all()  # fmt: skip
    return candidates[0] if candidates else None


def handle_inbound(
    session: Session, *, sender: str, to: str, body: str, provider_sid: str, now: datetime, actor: Actor
) -> InboundResult:
    """Act on one inbound SMS; flushes, never commits."""
    participant = _find_participant(session, sender)
    action = keyword_action(body)
    if participant is None:
        audit.record(session, actor, "sms.inbound_unknown_sender", object_type="sms", object_id=provider_sid,
                     after={"from": mask_phone(sender), "keyword": action or ""})  # fmt: skip
        session.flush()
        return InboundResult("unknown_sender")
    person = Actor(type="participant", id=participant.id, role="sms", request_id=actor.request_id,
                   ip_address=actor.ip_address)  # fmt: skip
    values: dict[str, str] = {}
    if action == "opt_out":
        set_sms_opt_out(session, participant, True, "sms", person, now)
        outcome = "opt_out"
    elif action == "opt_in":
        set_sms_opt_out(session, participant, False, "sms", person, now)
        outcome = "opt_in"
    elif action == "help":
        outcome = "help"
    elif action == "confirm":
        outcome, values = _confirm_nearest(session, participant, person, now)
    else:
        _store(session, participant, sender, to, body, provider_sid, now)
        outcome = "stored"
    audit.record(session, person, f"sms.inbound_{outcome}", object_type="participant", object_id=participant.id,
                 participant_id=participant.id, site_id=participant.site_id,
                 after={"provider_sid": provider_sid, "keyword": action or ""})  # fmt: skip
    session.flush()
    return InboundResult(outcome, _reply(participant, outcome, values), participant.id)


def _confirm_nearest(
    session: Session, participant: Participant, actor: Actor, now: datetime
) -> tuple[str, dict[str, str]]:
    visit = session.scalar(
        select(Visit)
        .where(Visit.participant_id == participant.id, Visit.status.in_(("scheduled", "confirmed")),
               Visit.scheduled_at >= now)
        .order_by(Visit.scheduled_at)
        .limit(1)
    )  # fmt: skip
    if visit is None or visit.scheduled_at is None:
        return "no_visit", {}
    confirm_visit(session, visit, actor, "sms", now=now)
    local = to_local(visit.scheduled_at, participant.site.timezone)
    locale = participant.preferred_locale
    return "confirmed", {"date": short_date(local.date(), locale), "time": clock(local.replace(tzinfo=None), locale)}


def _store(
    session: Session, participant: Participant, sender: str, to: str, body: str, provider_sid: str, now: datetime
) -> None:
    """Free text joins the participant's conversation for the study team (once per provider id)."""
    if provider_sid and session.scalar(select(OutboxMessage.id).where(OutboxMessage.provider_id == provider_sid)):
        return  # the provider retried this webhook
    session.add(OutboxMessage(
        direction="in", kind="inbound", status="received", participant_id=participant.id,
        to_number=to[:20], from_number=participant.phone_e164, body=body[:1600],
        locale=participant.preferred_locale, due_at=now, created_at=now, status_updated_at=now,
        provider_id=provider_sid or None,
    ))  # fmt: skip


def _reply(participant: Participant, outcome: str, values: dict[str, str]) -> str:
    locale = participant.preferred_locale
    site = participant.site
    params = {"site": site.localized("sms_name", locale), "phone": site.phone,
              "hours": site.localized("hours", locale), **values}  # fmt: skip
    return translations(locale).gettext(REPLIES[outcome]) % params
