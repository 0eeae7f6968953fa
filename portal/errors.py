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
# A URL that matched no route (404) or not with this method (405) has no blueprint: it is placed by
# its path. The webhooks blueprint's url_prefix, the ops endpoints' paths; static files are added.
MACHINE_PATHS = ("/webhooks/", "/healthz", "/readyz", "/metrics")
STAFF_PREFIX = "/staff"  # the staff blueprint's url_prefix

# status → (heading, what to do); anything else in 4xx reads as the 400 text.
WORDS = {
    400: (_l("This request could not be used"), _l("Please go back and try again.")),
    403: (_l("You cannot open this page"),
          _l("This page is not available with your account. If you think this is a mistake, "
             "please contact your study team.")),
    404: (_l("Page not found"), _l("The link may be old or mistyped.")),
    413: (_l("The file is too large"), _l("Please send a smaller file.")),
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


def _for_machines() -> bool:
    """Provider webhooks, health, metrics and static files: their callers read no HTML page."""
    if request.blueprint in MACHINE_BLUEPRINTS or request.endpoint == "static":
        return True
    return request.path.startswith((*MACHINE_PATHS, f"{current_app.static_url_path}/"))


def _for_staff() -> bool:
    return request.path == STAFF_PREFIX or request.path.startswith(STAFF_PREFIX + "/")


def _http_error(exc: HTTPException) -> Response | HTTPException:
    if _for_machines() or exc.code is None or not 400 <= exc.code < 500:
        return exc
    if _for_staff() and request.blueprint != "staff":
        # No console route matched, so the console's own checks did not run: a session past its
        # idle limit (a shared ward computer) or of a deactivated account ends here as on any page.
        from .staff.common import idle_timeout

        ended = idle_timeout()
        if ended is not None:
            return ended
    response = error_page(exc.code, form_expired=isinstance(exc, CSRFError))
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value  # Allow on 405
    return response


def _server_error(exc: InternalServerError) -> Response | tuple[str, int]:
    if _for_machines():
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
    for_staff = _for_staff()
    start = url_for("staff.index") if for_staff else url_for("patient.home")
    heading, text = (str(w) for w in words)
    console: dict[str, object] = {}
    if for_staff and request.blueprint != "staff":  # an unmatched staff URL: no blueprint, so no
        from .staff.common import console_globals  # console context processor ran for it

        console = console_globals()
    body = render_template("error.html", heading=heading, text=text, start_url=start, for_staff=for_staff,
                           **console)  # fmt: skip
    return current_app.make_response((body, status))  # no-store: security.py, as for every page
