"""What every participant page shares: who is signed in, their site's day, the audit row a
view writes, the layout's values, the idle timeout and the closed-participant guard."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import logout_user
from werkzeug.wrappers import Response

from .. import audit
from ..access import current_participant, touch_seen
from ..audit import Actor
from ..config import Settings
from ..extensions import db_session
from ..i18n import clock, localized, long_date, short_date, to_local
from ..id_urls import id_url
from ..models import Participant, ParticipantLike
from ..patient_chrome import PatientChrome, SignedInParticipant
from .blueprint import bp

CLOSED_STATUSES = ("withdrawn", "deceased")
NO_CHROME = PatientChrome(0, 0, ())
KEEP_SIGNED_IN = timedelta(days=30)
# Endpoints a signed-in but withdrawn participant may still reach.
CLOSED_ALLOWED = {"patient.closed", "patient.sign_out", "patient.set_language", "patient.contact", "patient.messages"}


def portal_settings() -> Settings:
    return current_app.config["PORTAL_SETTINGS"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def page_locale() -> str:
    return str(get_locale())


def signed_in() -> SignedInParticipant:
    participant = current_participant()
    assert participant is not None  # noqa: S101 - guarded by participant_required
    return participant


def participant_row(participant: SignedInParticipant) -> Participant:
    """The signed-in participant's ORM row, for a view that changes it (pages only read the
    plain values the session loaded: see patient_chrome)."""
    row = db_session().get(Participant, participant.id)
    if row is None:  # gone since the session's user loader read it this request
        abort(404)
    return row


def site_today(participant: ParticipantLike) -> date:
    return to_local(utc_now(), participant.site.timezone).date()


def client_address() -> str:
    return request.remote_addr or ""


def actor_for(participant: ParticipantLike) -> Actor:
    return Actor(type="participant", id=participant.id, request_id=g.get("request_id", ""), ip_address=client_address())


def page_view(what: str, object_id: object = "") -> audit.PageView:
    """The audit row this request's view of the signed-in participant's ``what`` writes."""
    participant = signed_in()
    return audit.PageView(actor_for(participant), f"portal.view_{what}", what, object_id, participant.id,
                          participant.site_id)  # fmt: skip


def record_viewed(participant: ParticipantLike, what: str, object_id: object = "") -> None:
    """Every view of participant data leaves an audit row (DESIGN.md invariant 7)."""
    audit.record_view(
        db_session(), actor_for(participant), f"portal.view_{what}", object_type=what, object_id=object_id,
        participant_id=participant.id, site_id=participant.site_id,
    )  # fmt: skip
    db_session().commit()


def render_viewed(template: str, what: str, object_id: object = "", **context: object) -> str:
    """Render, then record the view and commit: the page's reads (including the layout's) share
    one transaction, and a page whose audit row could not be written is never shown."""
    html = render_template(template, **context)
    record_viewed(signed_in(), what, object_id)
    return html


def render_recorded(template: str, **context: object) -> str:
    """Render a page whose read already wrote its audit row (audit.read_recording), then commit:
    as with render_viewed, a page whose audit row could not be saved is never shown."""
    html = render_template(template, **context)
    db_session().commit()
    return html


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.context_processor
def _patient_globals() -> dict[str, object]:
    participant = current_participant()
    locale = page_locale()
    # Read with the participant by the session's user loader (portal._load_user), which is
    # the only source of a SignedInParticipant.
    chrome = NO_CHROME
    if participant is not None and request.endpoint not in ("patient.sign_in", "patient.enter_code"):
        chrome = g.get("patient_chrome", NO_CHROME)
    return {
        "me": participant,
        "site": participant.site if participant else None,
        # Closed participants see no re-consent banner: there is nothing left for them to sign.
        "pending_consents": () if participant is None or participant.status in CLOSED_STATUSES
        else chrome.pending_consent_ids,
        "unread_messages": chrome.unread_messages,
        "unread_news": chrome.unread_news,
        "fdate": lambda d: long_date(d, locale),
        "fshort": lambda d: short_date(d, locale),
        "ftime": lambda t: clock(t, locale),
        "loc": lambda obj, field: localized(obj, field, locale),
        "is_zh": locale.startswith("zh"),
        "id_url": id_url,
    }


@bp.before_request
def _session_guard() -> Response | None:
    """Idle timeout (unless "keep me signed in"), and the closed page for withdrawn participants."""
    participant = current_participant()
    if participant is None:
        return None
    now = time.time()
    keep = session.get("keep") or session.get("_fresh") is False
    last = session.get("seen")
    if last and not keep and now - float(last) > portal_settings().patient_idle_minutes * 60:
        logout_user()
        session.clear()
        flash(_("You were signed out after a time without activity, to keep your information safe."), "info")
        return redirect(url_for("patient.sign_in"))
    touch_seen("seen", now)
    if participant.status in CLOSED_STATUSES and request.endpoint not in CLOSED_ALLOWED:
        return redirect(url_for("patient.closed"))
    return None
