"""Template translations: bound once per render, with Jinja's newstyle behaviour kept."""

from __future__ import annotations

from flask import Flask, render_template_string


def _render(app: Flask, source: str, language: str = "zh-CN") -> str:
    with app.test_request_context("/", headers={"Accept-Language": language}):
        return render_template_string(source)


def test_strings_follow_the_request_language(app: Flask) -> None:
    assert _render(app, '{{ _("Sign out") }}') == "退出登录"
    assert _render(app, '{{ _("Sign out") }}', "en") == "Sign out"


def test_variables_are_formatted_and_escaped(app: Flask) -> None:
    assert _render(app, '{{ _("Visit %(position)s of %(total)s", position=3, total=17) }}') == "第3次随访，共17次"
    page = _render(app, '{{ _("Unknown site code: %(codes)s.", codes="<b>") }}', "en")
    assert page == "Unknown site code: &lt;b&gt;."


def test_plural_forms_get_num(app: Flask) -> None:
    assert _render(app, '{{ ngettext("In %(num)s day", "In %(num)s days", 3) }}', "en") == "In 3 days"
    assert _render(app, '{{ ngettext("In %(num)s day", "In %(num)s days", 1) }}', "en") == "In 1 day"


def test_a_macro_imported_without_context_still_translates(app: Flask) -> None:
    page = _render(app, '{% from "staff/_macros.html" import pager %}{{ pager(1, 2, "staff.inbox", {}) }}', "zh-CN")
    assert "下一页" in page and "Next" not in page
