"""Template calls through QuickCallContext give what Jinja's own Context gives, for every kind of
callee: plain functions, methods, builtins, functions that want the context (with loop and block
variables), the evaluation context or the environment, callable objects, macros, and a callee
that raises StopIteration."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from jinja2 import Environment, pass_context, pass_environment, pass_eval_context
from jinja2.runtime import Context

from portal.template_calls import QuickCallContext


@pass_context
def who(context: Any, greeting: str = "hi") -> str:
    return f"{greeting} {context.get('name')} {context.get('x', '-')}"


@pass_eval_context
def escaping(eval_ctx: Any) -> str:
    return f"autoescape={eval_ctx.autoescape}"


@pass_environment
def env_name(environment: Environment) -> str:
    return type(environment).__name__


class Greeter:
    @pass_context
    def __call__(self, context: Any) -> str:
        return f"object sees {context.get('name')}"


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def bump(self, by: int = 1) -> int:
        self.n += by
        return self.n


def plain(*args: object, **kwargs: object) -> str:
    return f"{args}{sorted(kwargs.items())}"


def stops() -> str:
    raise StopIteration


SOURCES = [
    "{{ plain(1, 'a', k=2) }}|{{ plain(self=1, obj=2) }}",
    "{% for x in [1, 2] %}{{ plain(x, loop.index) }}{{ who() }}{% endfor %}",
    "{% set x = 'set' %}{{ who('hello') }}{% for x in ['loop'] %}{{ who() }}{% endfor %}",
    "{% macro m(v) %}{% set x = 'block' %}{{ who() }}{{ plain(v) }}{% endmacro %}{{ m(3) }}",
    "{% macro wrap() %}<{{ caller(1) }}>{% endmacro %}{% call(v) wrap() %}{{ plain(v) }}{% endcall %}",
    "{{ escaping() }}{% autoescape false %}{{ escaping() }}{% endautoescape %}|{{ env_name() }}",
    "{{ greeter() }}|{{ counter.bump() }}{{ counter.bump(by=2) }}|{{ words.get('a', '-') }}{{ words.get('z', '-') }}",
    "[{{ stops() }}]|{{ 'a,b'.split(',') }}|{{ range(3)|list }}",
]


def _render(context_class: type[Context], source: str) -> str:
    env = Environment(autoescape=True)
    env.context_class = context_class
    values = {"plain": plain, "who": who, "escaping": escaping, "env_name": env_name, "greeter": Greeter(),
              "counter": Counter(), "words": {"a": "A"}, "stops": stops, "name": "Wang"}  # fmt: skip
    return env.from_string(source).render(values)


@pytest.mark.parametrize("source", SOURCES)
def test_same_page_as_jinjas_own_calls(source: str) -> None:
    assert _render(QuickCallContext, source) == _render(Context, source)


def test_the_portal_renders_with_it(app: Flask) -> None:
    assert app.jinja_env.context_class is QuickCallContext
