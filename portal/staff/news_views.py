"""Publishing study news to the whole study (every site needed) or one site."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from .. import news
from ..access import staff_required
from ..extensions import db_session
from ..models import Study
from ..scoping import allowed_sites
from .blueprint import bp
from .common import actor, me, now, settings, site_ids

ALL = ("admin", "coordinator", "investigator")
EDITORS = ("admin", "coordinator")


def _study() -> Study:
    return db_session().scalars(select(Study).order_by(Study.id)).first()  # type: ignore[return-value]


def _errors() -> dict[str, str]:
    return {
        "required": _("Required, in both languages."),
        "too_long": _("Too long."),
        "unknown": _("Choose one of the sites."),
        "not_allowed": _("You may publish only to your own sites."),
    }


def _page(errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    study = _study()
    items = news.staff_news(db_session(), study, site_ids())
    counts = news.receipt_counts(db_session(), [i.id for i in items])
    sites = allowed_sites(db_session(), me())
    return render_template("staff/news.html", items=items, counts=counts, sites=sites, errors=errors or {},
                           form=request.form, whole_study=len(sites) == len(study.sites)), status  # fmt: skip


@bp.get("/news")
@staff_required(*ALL)
def news_list() -> tuple[str, int]:
    return _page()


@bp.post("/news")
@staff_required(*EDITORS)
def news_publish() -> Response | tuple[str, int]:
    form = request.form
    raw_site = form.get("site", "")
    draft = news.NewsDraft(
        site_id=int(raw_site) if raw_site.isdigit() else None, title_zh=form.get("title_zh", ""),
        title_en=form.get("title_en", ""), body_zh=form.get("body_zh", ""), body_en=form.get("body_en", ""),
        notify_sms=form.get("notify_sms") == "y",
    )  # fmt: skip
    try:
        _item, sms = news.publish_news(db_session(), _study(), draft, me(), actor(), now(), settings().quiet_hours,
                                       site_ids())  # fmt: skip
    except news.NewsError as exc:
        db_session().rollback()
        messages = _errors()
        return _page({k: messages[v] for k, v in exc.errors.items()}, 400)
    db_session().commit()
    flash(_("News published. %(count)s text messages queued.", count=sms), "info")
    return redirect(url_for("staff.news_list"))
