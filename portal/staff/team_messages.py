"""Answering portal messages from the participant's conversation; closing a message without a reply."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from .. import portal_messages as pm
from ..access import staff_required
from ..extensions import db_session
from ..models import OutboxMessage, Participant
from ..scoping import get_message, get_participant
from .blueprint import bp
from .common import actor, me, now, settings

EDITORS = ("admin", "coordinator")


@bp.app_template_global()
def channel_label(message: OutboxMessage) -> str:
    """Portal, SMS in or SMS out: how the message travelled, for the conversation and the inbox."""
    if message.channel == "portal":
        return _("Portal message") if message.direction == "in" else _("Portal reply")
    return _("SMS in") if message.direction == "in" else _("SMS out")


@bp.app_template_global()
def topic_label(code: str | None) -> str:
    labels = {"visit": _("Visit"), "medicines": _("Medicines"), "feeling": _("How they feel"), "other": _("Other")}
    return labels.get(code or "", "")


@bp.app_template_global()
def portal_incoming(participant: Participant) -> list[OutboxMessage]:
    """Incoming messages with who handled them (the participant was already loaded through scoping)."""
    return pm.with_handlers(db_session(), participant)


@bp.post("/participants/<int:participant_id>/portal-reply")
@staff_required(*EDITORS)
def portal_reply(participant_id: int) -> Response:
    """The reply appears in the participant's portal; an SMS without content tells them it is there."""
    participant = get_participant(db_session(), me(), participant_id)
    try:
        pm.reply_in_portal(db_session(), participant, request.form.get("body", ""), me(), actor(), now(),
                           settings().quiet_hours)  # fmt: skip
    except pm.PortalMessageError as exc:
        db_session().rollback()
        flash(_("Write a reply first.") if exc.code == "empty" else
              _("The reply is too long (at most %(max)s characters).", max=pm.REPLY_MAX), "error")  # fmt: skip
    else:
        db_session().commit()
        flash(_("Reply sent to the participant's portal; a text message tells them it is there."), "info")
    return redirect(url_for("staff.conversation", participant_id=participant.id) + "#portal-reply")


@bp.post("/messages/<int:message_id>/close")
@staff_required(*EDITORS)
def message_close(message_id: int) -> Response:
    """Mark an incoming message handled without replying; a reason is required and kept."""
    message = get_message(db_session(), me(), message_id)
    try:
        pm.mark_handled_with_reason(db_session(), message, request.form.get("reason", ""), me(), actor(), now())
    except pm.PortalMessageError as exc:
        db_session().rollback()
        flash(_("Give a reason (for example: answered by phone).") if exc.code == "empty" else
              _("This message was already handled."), "error")  # fmt: skip
    else:
        db_session().commit()
        flash(_("Marked as handled."), "info")
    target = request.form.get("back") == "inbox"
    return redirect(url_for("staff.inbox") if target else
                    url_for("staff.conversation", participant_id=message.participant_id) + "#portal-reply")  # fmt: skip
