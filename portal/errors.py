"""Error pages in the reader's language, inside the portal's own layout.

Without these, a stale link, a form sent after its session ended or a failure on our side showed
Werkzeug's plain English page. Machine endpoints (provider webhooks, health, metrics) keep
their short plain answers: nobody reads those in a browser.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

MACHINE_BLUEPRINTS = frozenset({"webhooks", "ops"})
STAFF_PREFIX = "/staff"  # the staff blueprint's url_prefix: unmatched staff URLs have no blueprint

# status → (heading, what to do); anything else in 4xx reads as the 400 text.
WORDS = {
    400: (_l("This request could not be used"), _l("Please go back and try again.")),
    403: (_l("You cannot open this page"),
          _l("This page is not available with your account. If you think this is a mistake, "
             "please contact your study team.")),
    404: (_l("Page not found"), _l("The link may be old or mistyped.")),
    413: (_l("The file is too large"), _l("Please send a smaller file.")),
    429: (_l("Too many tries"), _l("Please wait a few minutes, then try again.")),
    500: (_l("Something went wrong on our side"),
          _l("What you saved before is safe. Please try again in a few minutes.")),
}  # fmt: skip
FORM_EXPIRED = (
    _l("This page was open for a long time"),
    _l("For your safety, please go back, reload the page and send it again. Nothing was changed."),
)

# When the page itself cannot be drawn (the database is down, say): both languages, no layout.
LAST_RESORT = """<!doctype html><html lang="zh-Hans"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>系统出现问题 · Something went wrong</title>
<h1>系统出现问题</h1><p>您之前保存的内容不受影响。请几分钟后再试。如遇紧急情况，请拨打 120。</p>
<h1 lang="en">Something went wrong on our side</h1><p lang="en">What you saved before is safe.
Please try again in a few minutes. In an emergency call 120.</p></html>"""


def install(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)


def _http_error(exc: HTTPException) -> Response | HTTPException:
    if request.blueprint in MACHINE_BLUEPRINTS or exc.code is None or not 400 <= exc.code < 500:
        return exc
    response = error_page(exc.code, form_expired=isinstance(exc, CSRFError))
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value  # Allow on 405, Retry-After on 429
    return response


def _server_error(exc: InternalServerError) -> Response | tuple[str, int]:
    if request.blueprint in MACHINE_BLUEPRINTS:
        return exc.get_response()
    db = g.get("db")
    try:
        if db is not None:
            db.rollback()  # the failed statement may have left the transaction unusable for the page
        return error_page(500)
    except Exception:  # the page needs the database or a template that failed: say it without them
        log.exception("the error page could not be drawn")
        return LAST_RESORT, 500


def error_page(status: int, form_expired: bool = False) -> Response:
    """The page for an HTTP error ``status`` in the reader's language and the audience's layout."""
    words = FORM_EXPIRED if form_expired else WORDS.get(status, WORDS[400])
    for_staff = request.path == STAFF_PREFIX or request.path.startswith(STAFF_PREFIX + "/")
    start = url_for("staff.index") if for_staff else url_for("patient.home")
    heading, text = (str(w) for w in words)
    console: dict[str, object] = {}
    if for_staff and request.blueprint != "staff":  # an unmatched staff URL: no blueprint, so no
        from .staff.common import console_globals  # console context processor ran for it

        console = console_globals()
    body = render_template("error.html", heading=heading, text=text, start_url=start, for_staff=for_staff,
                           **console)  # fmt: skip
    response = current_app.make_response((body, status))
    response.headers["Cache-Control"] = "no-store"
    return response
