"""Autoescaped output goes through escape_output: the same text MarkupSafe's escape gives, in
every place a template prints a value (pages, macros, set blocks, call blocks, includes)."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask, render_template_string
from flask_babel import lazy_gettext
from markupsafe import Markup, escape

from portal.template_output import escape_output

HOSTILE = "<script>alert('x') & \"y\"</script>"


class Html:
    def __html__(self) -> str:
        return "<b>trusted</b>"


class Text:
    def __str__(self) -> str:
        return "<i>"


class Sub(str):
    pass


@pytest.mark.parametrize(
    "value", [HOSTILE, "", "plain", Markup("<b>ok</b>"), 42, 3.5, None, date(2026, 12, 1), Html(), Text(), Sub("<u>")]
)
def test_same_text_as_markupsafe(value: object) -> None:
    assert escape_output(value) == str(escape(value))


def _render(app: Flask, source: str, **context: object) -> str:
    with app.test_request_context("/"):
        return render_template_string(source, **context)


def test_every_kind_of_output_is_escaped(app: Flask) -> None:
    source = (
        "{% macro show(v) %}[{{ v }}]{% endmacro %}"
        "{% macro wrap() %}<{{ caller() }}>{% endmacro %}"
        "{% set block %}{{ v }}{% endset %}"
        "{{ v }}|{{ show(v) }}|{{ block }}|{% call wrap() %}{{ v }}{% endcall %}|{{ v ~ '!' }}|{{ v|upper }}"
    )
    page = _render(app, source, v="<x>")
    assert page == "&lt;x&gt;|[&lt;x&gt;]|&lt;x&gt;|<&lt;x&gt;>|&lt;x&gt;!|&lt;X&gt;"


def test_trusted_markup_is_not_escaped_twice(app: Flask) -> None:
    page = _render(app, "{{ m }} {{ s|safe }} {{ m ~ s }}", m=Markup("<b>a</b>"), s="<i>")
    assert page == "<b>a</b> <i> <b>a</b>&lt;i&gt;"


def test_autoescape_can_still_be_switched_in_a_template(app: Flask) -> None:
    page = _render(app, "{% autoescape false %}{{ v }}{% endautoescape %} {{ v }}", v="<x>")
    assert page == "<x> &lt;x&gt;"


def test_lazy_strings_print_as_before(app: Flask) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert render_template_string("{{ t }}", t=lazy_gettext("Sign out")) == "Sign out"


def test_a_page_escapes_what_a_participant_typed(app: Flask) -> None:
    """Through a real template: an included partial and the layout."""
    with app.test_request_context("/"):
        from flask import flash

        flash(HOSTILE, "error")
        page = render_template_string('{% extends "layout.html" %}{% block content %}{{ v }}{% endblock %}', v=HOSTILE)
    assert "<script>" not in page
    assert page.count(str(escape(HOSTILE))) == 2  # the flash (an include) and the block
