"""Participant pages for messaging the study team and reading study news.

Registered on the patient blueprint (one import line in ``portal/patient/__init__.py``). Every
query is bound to the signed-in participant; nothing here takes a message id from the URL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import StringField, TextAreaField

from .. import audit, news
from .. import portal_messages as pm
from ..access import participant_required
from ..extensions import db_session
from ..i18n import clock, long_date, to_local
from ..models import OutboxMessage, ParticipantLike
from ..models.messages import MESSAGE_TOPICS
from .blueprint import bp
from .common import actor_for, page_locale, signed_in

SENT_KEY = "portal_message_sent"


class MessageForm(FlaskForm):
    body = TextAreaField(_l("Your message"))
    topic = StringField(_l("What is it about? (optional)"))


def topic_labels() -> dict[str, str]:
    return {"visit": _("My visit"), "medicines": _("My medicines"), "feeling": _("How I feel"), "other": _("Other")}


def _errors() -> dict[str, str]:
    return {
        "empty": _("Please write your message."),
        "too_long": _("Your message is too long. Please keep it to %(max)s characters.") % {"max": pm.BODY_MAX},
        "topic": _("Please choose one of the topics."),
        "rate_limited": _(
            "You have sent %(count)s messages in the last hour. Please wait a little before sending another, "
            "or call your study team."
        ) % {"count": pm.RATE_LIMIT[0]},
        "closed": _("Your part in the study has ended, so you cannot send messages here. Please call your study team."),
    }


def when(moment: datetime, participant: ParticipantLike) -> str:
    local = to_local(moment, participant.site.timezone)
    return f"{long_date(local.date(), page_locale())} {clock(local, page_locale())}"


def _confirmation(participant: ParticipantLike) -> tuple[OutboxMessage | None, str]:
    """The message just sent (loaded through the participant, never by a bare id) and its confirmation."""
    sent_id = session.pop(SENT_KEY, None)
    if not isinstance(sent_id, int):
        return None, ""
    message = db_session().scalar(
        select(OutboxMessage).where(OutboxMessage.id == sent_id, OutboxMessage.participant_id == participant.id)
    )
    if message is None:
        return None, ""
    local = to_local(message.created_at, participant.site.timezone)
    text = _("Your message has been sent to the study team at %(site)s on %(date)s at %(time)s.") % {
        "site": participant.site.localized("name", page_locale()), "date": long_date(local.date(), page_locale()),
        "time": clock(local, page_locale()),
    }  # fmt: skip
    return message, text


@bp.route("/messages", methods=["GET", "POST"])
@participant_required
def messages() -> Response | str:
    me = signed_in()
    db = db_session()
    form = MessageForm()
    error = ""
    if request.method == "POST" and form.validate_on_submit():
        topic = form.topic.data or None
        try:
            message = pm.send_portal_message(db, me, form.body.data or "", topic, actor_for(me), datetime.now(UTC))
        except pm.PortalMessageError as exc:
            db.rollback()
            error = _errors()[exc.code]
        else:
            db.commit()
            session[SENT_KEY] = message.id
            return redirect(url_for("patient.messages"))
    elif request.method == "POST":
        error = _("The form expired. Please send it again.")
    sent, confirmation = _confirmation(me)
    thread = pm.participant_conversation(db, me)
    unread = set(pm.mark_replies_read(db, me, actor_for(me), datetime.now(UTC)))
    html = render_template(
        "patient/messages.html", form=form, error=error, thread=thread, unread=unread, sent=sent,
        confirmation=confirmation, topics=topic_labels(), topic_order=MESSAGE_TOPICS, when=lambda m: when(m, me),
        body_max=pm.BODY_MAX, closed=me.status in pm.CLOSED_STATUSES, unread_messages=0,
    )  # fmt: skip
    # After rendering, so the page's reads and these writes are one transaction, one commit.
    audit.record_view(db, actor_for(me), "portal.view_messages", object_type="messages", participant_id=me.id,
                      site_id=me.site_id)  # fmt: skip
    db.commit()
    return html


@bp.get("/news")
@participant_required
def study_news() -> str:
    me = signed_in()
    db = db_session()
    entries = news.news_for(db, me)
    news.mark_read(db, me, [e.item.id for e in entries if not e.read], datetime.now(UTC))
    html = render_template("patient/news.html", entries=entries, when=lambda m: when(m, me), unread_news=0)
    audit.record_view(db, actor_for(me), "portal.view_news", object_type="news", participant_id=me.id,
                      site_id=me.site_id)  # fmt: skip
    db.commit()
    return html
