"""The page's CSRF token, signed once per session token rather than on every page.

Flask-WTF signs the session's token afresh for every request that shows a form (a new
serializer, a key derivation, an HMAC and a timestamp), and every participant page has two
forms (language, sign out): ~3 % of a page. Tokens here never expire on their own
(WTF_CSRF_TIME_LIMIT = None: they live as long as the session), so a token signed earlier for
the same session token and secret is exactly as valid as a new one, and the signed form is kept
per process. Validation is Flask-WTF's, unchanged.
"""

from __future__ import annotations

from functools import lru_cache

from flask import Flask, current_app, g, session
from flask_wtf.csrf import generate_csrf
from itsdangerous import URLSafeTimedSerializer

FIELD = "csrf_token"  # Flask-WTF's default WTF_CSRF_FIELD_NAME, which the portal keeps


@lru_cache(maxsize=8192)
def _signed(secret_key: str | bytes, raw_token: str) -> str:
    """The token as Flask-WTF's generate_csrf signs it (same serializer and salt)."""
    return str(URLSafeTimedSerializer(secret_key, salt="wtf-csrf-token").dumps(raw_token))


def csrf_token() -> str:
    """generate_csrf, with this session's signed token taken from the cache when there is one."""
    raw = session.get(FIELD)
    if isinstance(raw, str) and FIELD not in g:
        setattr(g, FIELD, _signed(current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key, raw))
    return generate_csrf()


def install(app: Flask) -> None:
    """Call after CSRFProtect.init_app: templates' ``csrf_token()`` becomes the cached one (as a
    global and through a context processor run after Flask-WTF's, which would otherwise win)."""
    if app.config.get("WTF_CSRF_TIME_LIMIT") is not None or app.config.get("WTF_CSRF_FIELD_NAME", FIELD) != FIELD:
        raise RuntimeError("cached CSRF tokens need tokens without a time limit, under the default field name")
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: _IN_TEMPLATES)


_IN_TEMPLATES = {"csrf_token": csrf_token}
