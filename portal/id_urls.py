"""URLs for many rows of one endpoint: a table of 50 participants needs 50 links, and Flask's
``url_for`` matches the URL map each time. Build the URL once with a stand-in id and put each
row's id in its place; the result is the same string ``url_for`` would give."""

from __future__ import annotations

from collections.abc import Callable

from flask import url_for

_STAND_IN = 987_654_321_123  # an int no row has; int converters accept any non-negative int


def id_url(endpoint: str, key: str) -> Callable[[int], str]:
    head, found, tail = url_for(endpoint, **{key: _STAND_IN}).partition(str(_STAND_IN))
    if not found:  # the endpoint does not put the id in its path: fall back to url_for
        return lambda value: url_for(endpoint, **{key: value})
    return lambda value: f"{head}{int(value)}{tail}"
