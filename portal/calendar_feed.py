"""Visits as iCalendar (RFC 5545): one .ics per visit and a private feed of all of them.

The feed is reached by a random token whose sha256 alone is stored on the participant, so a
leaked database does not leak working feed addresses; issuing a new token revokes the old.
Event text is kept to what a phone's lock screen may show: no diagnosis, arm or drug.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .audit import Actor
from .i18n import translations
from .models import Participant, ParticipantLike
from .models.visits import OPEN_VISIT_STATUSES
from .visit_view import VisitItem

VISIT_LENGTH = timedelta(hours=2)
INFUSION_VISIT_LENGTH = timedelta(hours=6)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, participant: Participant, actor: Actor) -> str:
    """A new private feed token; any earlier feed address stops working."""
    token = secrets.token_urlsafe(32)
    replaced = participant.calendar_token_hash is not None
    participant.calendar_token_hash = token_hash(token)
    audit.record(
        session, actor, "calendar.token_issued", object_type="participant", object_id=participant.id,
        participant_id=participant.id, site_id=participant.site_id, after={"replaced": replaced},
    )  # fmt: skip
    session.flush()
    return token


def revoke_token(session: Session, participant: Participant, actor: Actor) -> bool:
    if participant.calendar_token_hash is None:
        return False
    participant.calendar_token_hash = None
    audit.record(
        session, actor, "calendar.token_revoked", object_type="participant", object_id=participant.id,
        participant_id=participant.id, site_id=participant.site_id,
    )  # fmt: skip
    session.flush()
    return True


def participant_for_token(session: Session, token: str) -> Participant | None:
    if not token or len(token) > 100:
        return None
    return session.scalar(select(Participant).where(Participant.calendar_token_hash == token_hash(token)))


def build_calendar(
    items: Iterable[VisitItem], participant: ParticipantLike, locale: str, host: str, now: datetime
) -> bytes:
    """A VCALENDAR with the site's VTIMEZONE and one VEVENT per open visit."""
    _ = translations(locale).gettext
    cal = Calendar()
    cal.add("prodid", "-//trial-portal//visits//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", _("Study visits"))
    cal.add("x-wr-timezone", participant.site.timezone)
    for item in items:
        if item.status in OPEN_VISIT_STATUSES:
            cal.add_component(_event(item, participant, locale, host, now))
    cal.add_missing_timezones()
    return cal.to_ical()


def _event(item: VisitItem, participant: ParticipantLike, locale: str, host: str, now: datetime) -> Event:
    _ = translations(locale).gettext
    site = participant.site
    event = Event()
    event.add("uid", f"visit-{item.id}@{host}")
    event.add("dtstamp", now)
    event.add("summary", _("Study visit: %(site)s") % {"site": site.localized("sms_name", locale)})
    event.add("location", f"{site.localized('name', locale)}, {site.localized('address', locale)}")
    lines = [item.name]
    if item.booked and item.at is not None:
        event.add("dtstart", item.at)
        event.add("dtend", item.at + (INFUSION_VISIT_LENGTH if item.is_infusion else VISIT_LENGTH))
        trigger = timedelta(days=-1)
    else:
        # Not booked yet: an all-day placeholder on the target day.
        event.add("dtstart", item.day)
        event.add("dtend", item.day + timedelta(days=1))
        lines.append(_("The study team will tell you the time."))
        trigger = timedelta(hours=-6)
    if item.fasting:
        lines.append(_("Please come fasting: nothing to eat after midnight."))
    lines.append(_("Questions: call %(phone)s") % {"phone": site.phone})
    event.add("description", "\n".join(lines))
    event.add("status", "CONFIRMED" if item.booked else "TENTATIVE")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", _("Study visit tomorrow"))
    alarm.add("trigger", trigger)
    event.add_component(alarm)
    return event
