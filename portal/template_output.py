"""Autoescaped template output without building a ``Markup`` for every value.

With autoescaping on, Jinja compiles each ``{{ value }}`` to ``escape(value)``: MarkupSafe's
``escape`` returns a new ``Markup``, whose constructor looks for ``__html__`` on the escaped
``str`` it was just given (a failed attribute lookup, so an exception raised and caught), and
the worklist prints ~1,400 values a page. Those results only ever go into the page's text
(Jinja joins an output's parts, and wraps a macro's or a ``{% set %}`` block's joined text in
``Markup`` itself), so a plain ``str`` escaped the same way does the same job for a fraction of
the cost. The escaping itself is MarkupSafe's, character for character: the same rules and,
for objects with ``__html__`` (``Markup``, lazy strings), the same trust in that method.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Expr
from markupsafe import escape

try:  # MarkupSafe's own escaping of a str (C when its speedups are built), behind ``escape``.
    from markupsafe import _escape_inner  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - a MarkupSafe without it: same result, at escape's cost

    def _escape_inner(text: str, /) -> str:
        return str(escape(text))


def escape_output(value: Any, /) -> str:
    """``str(markupsafe.escape(value))``, without the ``Markup`` in between."""
    if type(value) is str:
        return _escape_inner(value)  # type: ignore[no-any-return]
    html = getattr(value, "__html__", None)
    if html is not None:
        return str(html())
    return _escape_inner(str(value))  # type: ignore[no-any-return]


class _OutputCodeGenerator(CodeGenerator):
    """Jinja's code generator, writing ``environment.escape_output(...)`` where it would write
    ``escape(...)`` for an output. Contexts that switch autoescaping at run time keep Jinja's own."""

    def _output_child_pre(self, node: Expr, frame: Frame, finalize: Any) -> None:
        if not frame.eval_ctx.autoescape or frame.eval_ctx.volatile:
            super()._output_child_pre(node, frame, finalize)
            return
        self.write("environment.escape_output(")
        if finalize.src is not None:
            self.write(finalize.src)


def install(app: Flask) -> None:
    """Call before the first template is compiled (create_app): compiled templates keep the
    code they were generated with."""
    env = app.jinja_env
    env.code_generator_class = _OutputCodeGenerator
    env.escape_output = escape_output  # type: ignore[attr-defined]  # the generated code calls it
