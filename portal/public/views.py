"""The public study page and the volunteer enquiry form (thin: parse, call portal.enquiries, commit, render)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from .. import dispatch, enquiries
from ..config import Settings
from ..extensions import db_session
from ..i18n import clock, long_date, to_local
from ..models import Site, Study
from ..models.enquiries import CALL_TIMES
from .blueprint import bp
from .forms import EnquiryForm

SENT_KEY = "enquiry_sent"


def _settings() -> Settings:
    return current_app.config["PORTAL_SETTINGS"]


def _locale() -> str:
    return str(get_locale())


def _lang() -> str:
    return "zh" if _locale().startswith("zh") else "en"


def _study() -> Study:
    study = db_session().scalar(select(Study).order_by(Study.id).limit(1))
    if study is None:
        abort(404)
    return study


def _sites(study: Study) -> list[Site]:
    return list(db_session().scalars(select(Site).where(Site.study_id == study.id).order_by(Site.id)))


def call_time_labels() -> dict[str, str]:
    return {
        "morning": _("Morning (8:00–12:00)"),
        "afternoon": _("Afternoon (12:00–17:00)"),
        "evening": _("Early evening (17:00–20:00)"),
        "any": _("Any time"),
    }


def _error_messages() -> dict[tuple[str, str], str]:
    return {
        ("site", "required"): _("Please choose a study site."),
        ("site", "unknown"): _("Please choose a study site."),
        ("full_name", "required"): _("Please enter your name."),
        ("full_name", "too_long"): _("Please shorten your name to %(max)s characters.") % {"max": enquiries.NAME_MAX},
        ("phone", "required"): _("Please enter a mobile number."),
        ("phone", "invalid"): _("That does not look like a mobile number. Example: 138 0013 8000"),
        ("phone", "not_mobile"): _("Please give a mobile number, so that we can send you a text message."),
        ("preferred_locale", "unknown"): _("Please choose a language."),
        ("call_time", "unknown"): _("Please choose a time to call."),
        ("message", "too_long"): _("Please shorten your message to %(max)s characters.")
        % {"max": enquiries.MESSAGE_MAX},
        ("consent", "required"): _("Please tick the box so that the study team may contact you."),
    }


@bp.app_template_global()
def localized_text(table: dict[str, str], stem: str) -> str:
    """``stem_zh`` or ``stem_en`` of a protocol text table, for the page's language."""
    return table.get(f"{stem}_{_lang()}", "")


@bp.get("/study")
def study_page() -> str:
    study = _study()
    public = dict(study.content.get("public") or {})
    return render_template("public/study.html", study=study, public=public, sites=_sites(study))


@bp.route("/study/contact", methods=["GET", "POST"])
def contact() -> Response | str:
    study = _study()
    sites = _sites(study)
    form = EnquiryForm()
    errors: dict[str, str] = {}
    limited = ""
    if request.method == "GET":
        chosen = request.args.get("site", "")
        only = str(sites[0].id) if len(sites) == 1 else ""
        form.site.data = next((str(s.id) for s in sites if s.code == chosen), only)
        form.preferred_locale.data = _locale()
        form.call_time.data = "any"
    elif form.validate_on_submit():
        now = datetime.now(UTC)
        data = enquiries.EnquiryInput(
            site_id=int(form.site.data) if (form.site.data or "").isdigit() else None,
            full_name=form.full_name.data or "", phone=form.phone.data or "",
            preferred_locale=form.preferred_locale.data or "", call_time=form.call_time.data or "",
            message=form.message.data or "", consent=bool(form.consent.data), honeypot=form.website.data or "",
        )  # fmt: skip
        try:
            receipt = enquiries.submit_enquiry(
                db_session(), study, data, address=request.remote_addr or "", secret=_settings().secret_key, now=now
            )
        except enquiries.EnquiryError as exc:
            db_session().rollback()
            messages = _error_messages()
            errors = {field: messages[(field, code)] for field, code in exc.errors.items()}
        except enquiries.EnquiryRateLimited:
            db_session().rollback()
            limited = _("We have received several enquiries from here already. Please try again later, "
                        "or call the study site directly.")  # fmt: skip
        else:
            db_session().commit()
            _send_confirmation(receipt)
            session[SENT_KEY] = {"site_id": receipt.site.id, "at": receipt.received_at.isoformat()}
            return redirect(url_for("public.contact_sent"))
    else:
        limited = _("The form expired. Please send it again.")
    return render_template(
        "public/contact.html", form=form, sites=sites, errors=errors, limited=limited,
        call_times=call_time_labels(), call_time_order=CALL_TIMES,
    )  # fmt: skip


def _send_confirmation(receipt: enquiries.EnquiryReceipt) -> None:
    """Try the confirmation SMS at once (as for sign-in codes); the worker retries if this fails."""
    if receipt.outcome != "created" or receipt.enquiry_id is None:
        return
    message_id = db_session().scalar(
        select(enquiries.Enquiry.confirmation_message_id).where(enquiries.Enquiry.id == receipt.enquiry_id)
    )
    if message_id is not None:
        dispatch.send_now(current_app.extensions["session_factory"], message_id, _settings())


@bp.get("/study/contact/sent")
def contact_sent() -> Response | str:
    sent = session.get(SENT_KEY)
    if not sent:
        return redirect(url_for("public.contact"))
    site = db_session().get(Site, int(sent["site_id"]))
    if site is None:
        return redirect(url_for("public.contact"))
    local = to_local(datetime.fromisoformat(sent["at"]), site.timezone)
    confirmation = _("Your message has been sent to the study team at %(site)s on %(date)s at %(time)s.") % {
        "site": site.localized("name", _locale()), "date": long_date(local.date(), _locale()),
        "time": clock(local, _locale()),
    }  # fmt: skip
    return render_template("public/contact_sent.html", site=site, confirmation=confirmation)
