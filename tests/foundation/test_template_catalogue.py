"""Templates compiled per language: fixed words translated once, the page as before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, render_template
from jinja2 import ChoiceLoader, DictLoader

TEMPLATES = {
    "t/words.html": '<p>{{ _("Sign out") }}</p><p>{{ _("Unknown site code: %(codes)s.", codes=codes) }}</p>'
    '<p>{{ pgettext("how many participants have read it", "Read") }}</p>',
    "t/child.html": '{% extends "t/words.html" %}',
    "t/joined.html": '{{ (_("Sign out") ~ "<br>")|safe }} {{ pgettext("a context", "In %(context)s") }}',
    "t/rebinds.html": '{% macro echo(_) %}{{ _ }}{% endmacro %}{{ echo("x") }} {{ gettext("Sign out") }}',
}


@pytest.fixture
def templated(app: Flask) -> Iterator[Flask]:
    loader = app.jinja_env.loader
    inner = loader.inner  # type: ignore[union-attr]
    loader.inner = ChoiceLoader([DictLoader(TEMPLATES), inner])  # type: ignore[union-attr]
    yield app
    loader.inner = inner  # type: ignore[union-attr]


def _render(app: Flask, name: str | list[str], language: str, **context: object) -> str:
    with app.test_request_context("/", headers={"Accept-Language": language}):
        return render_template(name, codes="<b>", **context)


def test_each_language_gets_its_own_words_whichever_was_compiled_first(templated: Flask) -> None:
    zh = _render(templated, "t/words.html", "zh-CN")
    en = _render(templated, "t/words.html", "en")
    assert "退出登录" in zh and "Sign out" not in zh
    assert "<p>Sign out</p>" in en and "退出登录" not in en
    assert _render(templated, "t/words.html", "zh-CN") == zh
    assert _render(templated, "t/child.html", "en") == en  # extends: the parent in the child's language
    assert _render(templated, ["t/missing.html", "t/words.html"], "en") == en  # a list: the first found


def test_variables_are_still_formatted_and_escaped(templated: Flask) -> None:
    assert "<p>Unknown site code: &lt;b&gt;.</p>" in _render(templated, "t/words.html", "en")


def test_joins_and_contexts_render_as_the_runtime_callables_do(templated: Flask) -> None:
    # "~" with a translation escapes the other side; pgettext formats with its context.
    assert _render(templated, "t/joined.html", "en") == "Sign out&lt;br&gt; In a context"


def test_a_template_that_rebinds_the_message_names_translates_at_render_time(templated: Flask) -> None:
    assert _render(templated, "t/rebinds.html", "zh-CN") == "x 退出登录"

