"""Template gettext that looks the request's catalogue up once, not once per string.

Flask-Babel's template callables resolve the domain, the locale's identifier and the catalogue
cache on every ``_()`` call; a page has 50-100 of them. Same catalogue, same result: the lookup is
remembered per request for the current locale object (``force_locale`` swaps that object, so a
forced locale still gets its own catalogue).
"""

from __future__ import annotations

from babel.support import NullTranslations
from flask import Flask, g
from flask_babel import get_locale, get_translations


def _translations() -> NullTranslations:
    locale = get_locale()
    memo = g.get("_portal_gettext")
    if memo is not None and memo[0] is locale:
        return memo[1]
    translations = get_translations()
    g._portal_gettext = (locale, translations)
    return translations


def install(app: Flask) -> None:
    """Call after ``babel.init_app``: replaces its callables with the memoised ones."""
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )
