"""Conversations, sending (template or free text, with preview), bulk messages, the inbox of replies."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from .. import staff_messaging as messaging
from ..access import staff_required
from ..extensions import db_session
from ..participant_admin import record_view
from ..scoping import allowed_sites, get_message, get_participant
from .blueprint import bp
from .common import actor, me, now, parse_int, site_ids, today
from .forms import BulkForm, MessageForm, options

ALL = ("admin", "coordinator", "investigator")
EDITORS = ("admin", "coordinator")
ERRORS = {
    "empty": lambda: _("Write a message or choose a template."),
    "too_long": lambda: _("The message is longer than two SMS segments."),
    "forbidden_word": lambda: _("SMS must not name the diagnosis, treatment or study arm."),
    "cannot_receive": lambda: _("This participant does not receive SMS (opted out, withdrawn or deceased)."),
}


def _template_choices(include_blank: bool = True) -> list[SelectChoice]:
    labels = {"call_us": _("Please call the study team"), "portal_news": _("New information in the portal"),
              "bring_documents": _("Bring ID and insurance card")}  # fmt: skip
    return options(([("", _("Free text"))] if include_blank else []) + [(k, labels[k]) for k in messaging.TEMPLATES])


@bp.get("/participants/<int:participant_id>/messages")
@staff_required(*ALL)
def conversation(participant_id: int) -> str:
    p = get_participant(db_session(), me(), participant_id)
    form = MessageForm()
    form.template.choices = _template_choices()
    messages = messaging.conversation(db_session(), p)
    record_view(db_session(), p, actor(), "messages")
    db_session().commit()
    previews = {code: messaging.render_template(code, p) for code in messaging.TEMPLATES}
    return render_template("staff/conversation.html", p=p, messages=messages, form=form, previews=previews)


@bp.post("/participants/<int:participant_id>/messages")
@staff_required(*EDITORS)
def send_message(participant_id: int) -> Response:
    p = get_participant(db_session(), me(), participant_id)
    form = MessageForm()
    form.template.choices = _template_choices()
    template = form.template.data if form.validate_on_submit() else ""
    body = messaging.render_template(template, p) if template in messaging.TEMPLATES else (form.body.data or "")
    try:
        messaging.send_message(db_session(), p, body, me(), actor(), template=template or "")
    except messaging.MessagingError as exc:
        db_session().rollback()
        flash(ERRORS[exc.code](), "error")
    else:
        db_session().commit()
        flash(_("Message queued."), "info")
    return redirect(url_for("staff.conversation", participant_id=p.id))


@bp.post("/participants/<int:participant_id>/messages/preview")
@staff_required(*EDITORS)
def message_preview(participant_id: int) -> Response:
    """The exact text the participant will receive, in their language, and its segment count."""
    p = get_participant(db_session(), me(), participant_id)
    template = request.form.get("template", "")
    body = messaging.render_template(template, p) if template in messaging.TEMPLATES else request.form.get("body", "")
    problem = ""
    try:
        messaging.check_body(body)
    except messaging.MessagingError as exc:
        problem = ERRORS[exc.code]()
    return jsonify(body=body.strip(), segments=messaging.segments(body.strip()) if body.strip() else 0,
                   problem=problem)  # fmt: skip


@bp.route("/messages/bulk", methods=["GET", "POST"])
@staff_required(*EDITORS)
def bulk() -> str | Response:
    form = BulkForm()
    sites = allowed_sites(db_session(), me())
    form.site.choices = options((str(s.id), s.code) for s in sites)
    form.template.choices = _template_choices(include_blank=False)
    audience = None
    if form.validate_on_submit():
        site_id = parse_int(form.site.data)
        if site_id not in {s.id for s in sites}:
            flash(_("Choose one of your sites."), "error")
            return render_template("staff/bulk.html", form=form, audience=None)
        within = parse_int(form.within_days.data)
        audience = messaging.bulk_audience(db_session(), [site_id], today(), within_days=within)  # type: ignore[list-item]
        if form.confirm.data == str(len(audience.recipients)) and audience.recipients:
            sent = messaging.send_bulk(db_session(), audience, form.template.data or "", me(), actor(), now())
            db_session().commit()
            flash(_("%(count)s messages queued.", count=sent), "info")
            return redirect(url_for("staff.bulk"))
    return render_template("staff/bulk.html", form=form, audience=audience)


@bp.get("/messages/inbox")
@staff_required(*ALL)
def inbox() -> str:
    page = messaging.inbox(db_session(), list(site_ids()), parse_int(request.args.get("page")) or 1)
    return render_template("staff/inbox.html", messages=page.messages, page=page)


@bp.post("/messages/<int:message_id>/handled")
@staff_required(*EDITORS)
def message_handled(message_id: int) -> Response:
    message = get_message(db_session(), me(), message_id)
    messaging.mark_handled(db_session(), message, me(), actor())
    db_session().commit()
    return redirect(url_for("staff.inbox"))
