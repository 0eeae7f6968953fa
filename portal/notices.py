"""Neutral SMS that only point to the portal: no content, the participant's language, never in quiet hours.

A team reply or a news item may say anything; the phone's lock screen must not. These notices say
only that something is waiting in the portal (DESIGN.md §3.5), and go through the outbox like
every SMS, as 'notification' rows the dispatch worker also holds back in quiet hours.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from .config import QuietHours
from .i18n import translations
from .models import OutboxMessage, Participant
from .outbox import queue_sms
from .reminders import next_allowed


def N_(text: str) -> str:
    return text


TEMPLATES: dict[str, str] = {
    "portal_message": N_("%(site)s: you have a new message from your study team in your portal."),
    "study_news": N_("%(site)s: there is news from your study team in your portal."),
}


def render_notice(template: str, participant: Participant) -> str:
    locale = participant.preferred_locale
    return translations(locale).gettext(TEMPLATES[template]) % {"site": participant.site.localized("sms_name", locale)}


def queue_notice(
    session: Session, participant: Participant, template: str, now: datetime, quiet: QuietHours,
    *, meta: dict[str, object] | None = None, created_by_id: int | None = None,
) -> OutboxMessage | None:  # fmt: skip
    """Queue the notice at the first moment outside quiet hours; None when the participant gets no SMS."""
    if not participant.can_receive_sms:
        return None
    return queue_sms(
        session, to_number=participant.phone_e164, body=render_notice(template, participant), kind="notification",
        locale=participant.preferred_locale, participant_id=participant.id,
        due_at=next_allowed(now, participant.site.timezone, quiet), created_by_id=created_by_id,
        meta={"notice": template, **(meta or {})},
    )  # fmt: skip
