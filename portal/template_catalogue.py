"""Templates compiled once per language, with their fixed words already translated.

A ``{{ _("My visits") }}`` can only change with the language, yet rendering it is a catalogue
lookup, a ``Markup`` and a template call every time; a patient page has ~50 of them. Here a
template rendered in a request is loaded under a name that carries the request's locale
(``@zh_Hans_CN/patient/home.html``: Jinja caches each language's compiled template on its own),
and while it is compiled every ``_``/``gettext``/``pgettext`` call on literal text becomes that
locale's translation: autoescape-safe, and still %-formatted with its keyword arguments (which
are escaped) at render time, exactly as the runtime callables do (template_i18n). Plural forms
and non-literal messages stay runtime calls. Outside a request, names stay plain and every
message is translated at render time as before. The catalogue is read once per process either
way (Flask-Babel caches it), so a compiled translation is never staler than a runtime one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from babel.support import NullTranslations
from flask import Flask, has_request_context
from flask.templating import Environment as FlaskEnvironment
from jinja2 import BaseLoader, Template, Undefined, nodes
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from .template_i18n import render_catalogue

_MARK = "@"
_MESSAGE_CALLS = frozenset(("_", "gettext", "pgettext"))


def _locale_of(name: str) -> tuple[str, str] | None:
    """("zh_Hans_CN", "patient/home.html") for a per-language name, else None."""
    if not name.startswith(_MARK):
        return None
    locale, _, plain = name[1:].partition("/")
    return locale, plain


def _for_this_render(name: str, parent: str | None) -> str:
    """The per-language name: a template loaded by another (extends, import, include) takes
    its parent's language; one a view renders, the request's."""
    if name.startswith(_MARK):
        return name
    if parent is not None:
        return f"{parent[: parent.index('/') + 1]}{name}" if parent.startswith(_MARK) else name
    if not has_request_context():
        return name
    locale, _ = render_catalogue()
    return f"{_MARK}{locale}/{name}"


class _PlainNameLoader(BaseLoader):
    """Finds a per-language name's source under its plain name (the app's own loader)."""

    def __init__(self, inner: BaseLoader) -> None:
        self.inner = inner

    def get_source(self, environment: Any, template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        found = _locale_of(template)
        return self.inner.get_source(environment, found[1] if found else template)

    def list_templates(self) -> list[str]:
        return self.inner.list_templates()


class _LiteralMessages(NodeTransformer):
    """Replaces message calls on literal text with their translation (see the module's doc)."""

    def __init__(self, translations: NullTranslations, autoescape: bool) -> None:
        self.translations = translations
        self.autoescape = autoescape

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        # Jinja joins constant operands of "~" as plain text while compiling, where at render time
        # a translation's Markup would escape the other side: messages joined with "~" stay calls.
        node.nodes = [self.generic_visit(child) if _is_message_call(child) else self.visit(child)
                      for child in node.nodes]  # fmt: skip
        return node

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        self.generic_visit(node)
        text = self._translated(node)
        if text is None:
            return node
        if not node.kwargs:
            # As the runtime callables: a message without variables is %-formatted only if it has a "%".
            try:
                return self._safe(text if "%" not in text else text % {})
            except (KeyError, ValueError, TypeError):
                return node  # fails at render time, as it always did
        pairs = [nodes.Pair(nodes.Const(kw.key), kw.value) for kw in node.kwargs]
        return nodes.Mod(self._safe(text), nodes.Dict(pairs))

    def _safe(self, text: str) -> nodes.Const:
        """The text as the runtime callables return it: ``Markup`` where the template autoescapes
        (decided at compile time: the template has no ``{% autoescape %}`` block, see _parse)."""
        return nodes.Const(Markup(text) if self.autoescape else text)  # noqa: S704 - a catalogue entry

    def _translated(self, node: nodes.Call) -> str | None:
        if not _is_message_call(node):
            return None
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            return None
        args = node.args
        if not all(isinstance(a, nodes.Const) and isinstance(a.value, str) for a in args):
            return None
        texts = [a.value for a in args]  # type: ignore[attr-defined]
        if node.node.name == "pgettext":  # type: ignore[attr-defined]
            # Jinja's pgettext also formats with the context as "context": plain text only.
            if len(texts) != 2 or node.kwargs:
                return None
            text = self.translations.upgettext(*texts)
            return text if "%" not in text else None
        return self.translations.ugettext(texts[0]) if len(texts) == 1 else None


def _is_message_call(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name in _MESSAGE_CALLS


def _keeps_runtime_calls(tree: nodes.Template) -> bool:
    """A template that assigns ``_`` (a loop variable, a macro argument) or switches autoescaping
    in a block keeps runtime calls."""
    if any(tree.find_all((nodes.EvalContextModifier, nodes.ScopedEvalContextModifier))):
        return True
    return any(n.name in _MESSAGE_CALLS and n.ctx != "load" for n in tree.find_all(nodes.Name))


class CatalogueEnvironment(FlaskEnvironment):
    """Flask's environment, loading templates per language in a request (module doc)."""

    def __init__(self, app: Any, **options: Any) -> None:
        super().__init__(app, **options)
        self.loader = _PlainNameLoader(self.loader)  # type: ignore[arg-type]

    def _localized(self, name: str, parent: str | None) -> str:
        return _for_this_render(self.join_path(name, parent) if parent is not None else name, parent)

    def get_template(self, name: str | Template, parent: str | None = None,
                     globals: Any = None) -> Template:  # fmt: skip
        if isinstance(name, str):
            name, parent = self._localized(name, parent), None
        return super().get_template(name, parent, globals)

    def select_template(self, names: Iterable[str | Template] | Undefined, parent: str | None = None,
                        globals: Any = None) -> Template:  # fmt: skip
        if not isinstance(names, Undefined):
            names = [self._localized(n, parent) if isinstance(n, str) else n for n in names]
            parent = None
        return super().select_template(names, parent, globals)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        found = _locale_of(name or "")
        if found is None or not has_request_context():
            return tree
        locale, translations = render_catalogue()
        if locale != found[0] or _keeps_runtime_calls(tree):
            return tree  # translated at render time
        autoescape = self.autoescape(name) if callable(self.autoescape) else self.autoescape
        tree = _LiteralMessages(translations, bool(autoescape)).visit(tree)
        tree.set_environment(self)
        return tree


def use_catalogue_environment(app: Flask) -> None:
    """Call right after creating the app, before anything touches ``app.jinja_env``."""
    app.jinja_environment = CatalogueEnvironment
