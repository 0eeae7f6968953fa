"""URLs built for less than ``url_for`` costs: Flask's ``url_for`` matches the URL map on every
call, and a table of 50 participants needs 50 links, every layout a dozen.

``id_url``: build one endpoint's URL once (per application and mount point) with a stand-in id
and put each row's id in its place.
``nav_url``: an endpoint that takes no values, built once per application and mount point.
Both give the same string ``url_for`` would."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app, request, url_for

_STAND_IN = 987_654_321_123  # an int no row has; int converters accept any non-negative int


def id_url(endpoint: str, key: str) -> Callable[[int], str]:
    """The row-link builder for ``endpoint``, made once per application and mount point."""
    known: dict[tuple[str, str, str], Callable[[int], str]] = current_app.extensions.setdefault("id_urls", {})
    memo = (endpoint, key, request.script_root)
    link = known.get(memo)
    if link is None:
        link = known[memo] = _id_url(endpoint, key)
    return link


def _id_url(endpoint: str, key: str) -> Callable[[int], str]:
    head, found, tail = url_for(endpoint, **{key: _STAND_IN}).partition(str(_STAND_IN))
    if not found:  # the endpoint does not put the id in its path: fall back to url_for
        return lambda value: url_for(endpoint, **{key: value})
    return lambda value: f"{head}{int(value)}{tail}"


def nav_url(endpoint: str) -> str:
    known: dict[tuple[str, str], str] = current_app.extensions.setdefault("nav_urls", {})
    key = (endpoint, request.script_root)
    url = known.get(key)
    if url is None:
        url = known[key] = url_for(endpoint)
    return url


def install(app: Flask) -> None:
    app.add_template_global(nav_url)
