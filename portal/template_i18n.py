"""Template gettext that looks the request's catalogue up once per page, not once per string.

Flask-Babel's template callables resolve the domain, the locale and the catalogue cache on
every ``_()`` call, and a page has 50-100 of them. Here each render gets ``gettext``/``ngettext``
bound to the catalogue of the locale in force when it starts (a context processor), with
Jinja's "newstyle" behaviour: the result is autoescaped and always %-formatted with the keyword
arguments. Templates that do not receive the render's context (macros imported without
``with context``) fall back to the global callables, which look the catalogue up per call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from babel.support import NullTranslations
from flask import Flask, g
from flask_babel import get_locale, get_translations
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup


def render_catalogue() -> tuple[str, NullTranslations]:
    """The request's locale (as Babel writes it) and its catalogue, looked up once per request."""
    locale = get_locale()
    memo = g.get("_portal_gettext")
    if memo is not None and memo[0] is locale:
        return memo[1], memo[2]
    translations = get_translations()
    g._portal_gettext = (locale, str(locale), translations)
    return str(locale), translations


def _translations() -> NullTranslations:
    return render_catalogue()[1]


def _newstyle(lookup: Callable[..., str], count_at: int | None = None) -> Callable[..., str]:
    """Jinja's newstyle wrapper: ``lookup(*args)``, autoescaped, then ``% variables``
    (``num`` defaults to the count argument for the plural forms)."""

    # The evaluation context, not the context: Jinja copies the whole context for every call of a
    # pass_context function made inside a loop or a block that sets a variable.
    @pass_eval_context
    def translate(eval_ctx: EvalContext, *args: Any, **variables: Any) -> str:
        if count_at is not None:
            variables.setdefault("num", args[count_at])
        text = lookup(*args)
        if eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - a catalogue entry, not user input (as in Jinja's own)
        # Jinja always %-formats; without variables or a "%" that changes nothing, so skip it.
        return text % variables if variables or "%" in text else text  # type: ignore[no-any-return]

    return translate


def _bound_to_this_render() -> dict[str, object]:
    translations = _translations()
    gettext = _newstyle(translations.ugettext)
    # "_" too: Jinja's global "_" would otherwise look "gettext" up again on every call.
    return {"gettext": gettext, "_": gettext, "ngettext": _newstyle(translations.ungettext, count_at=2)}


def install(app: Flask) -> None:
    """Call after ``babel.init_app``: replaces its callables with the memoised ones."""
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )
    app.context_processor(_bound_to_this_render)
