"""Template function calls without Jinja's generic dispatch for plain functions.

Jinja compiles every ``{{ f(x) }}`` to ``context.call(f, x)``, which asks each callee whether it
wants the context, the evaluation context or the environment passed in: two attribute probes on
the callee and one on a ``__call__`` wrapper made for the purpose, through three Python-level
calls. A participant's home page makes ~130 such calls (dates, links, translations) and that
asking was ~6 % of the page's CPU. Plain functions and methods carry their ``pass_*`` mark on
themselves, so for them one probe answers it; anything else (macros, callable objects, functions
that want the context) goes through Jinja's own ``call`` unchanged.
"""

from __future__ import annotations

from types import BuiltinFunctionType, FunctionType, MethodType
from typing import Any

from flask import Flask
from jinja2.runtime import Context
from jinja2.utils import _PassArg

_PLAIN = frozenset((FunctionType, BuiltinFunctionType, MethodType))


class QuickCallContext(Context):
    # Jinja's own parameter names: a template may pass "self" or "obj" as keyword arguments.
    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if type(__obj) not in _PLAIN:
            return super().call(__obj, *args, **kwargs)
        pass_arg = getattr(__obj, "jinja_pass_arg", None)
        if pass_arg is _PassArg.eval_context:
            args = (__self.eval_ctx, *args)
        elif pass_arg is not None:  # the context (with loop and block variables) or the environment
            return super().call(__obj, *args, **kwargs)
        if kwargs:
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:  # as Jinja answers it
            return __self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception"
            )


def install(app: Flask) -> None:
    app.jinja_env.context_class = QuickCallContext
