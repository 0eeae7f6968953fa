"""Fingerprinted static files: ``url_for('static', filename='portal.css')`` gives
``/static/portal.<hash>.css``, served with a one-year immutable cache; a new deploy changes the
hash, so browsers never keep an old stylesheet. Plain names still work, revalidated each time.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from flask import Flask, Response, send_from_directory

ONE_YEAR = 365 * 24 * 3600
FINGERPRINTED = re.compile(r"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{12})(?P<suffix>\.[A-Za-z0-9]+)$")


class StaticAssets:
    """Digests of the files under one folder. With ``watch`` (development) a digest is recomputed
    when the file's mtime changes; without it (production: files change only with a deploy,
    which restarts the processes) each name is worked out once, not on every ``url_for``."""

    def __init__(self, folder: Path, *, watch: bool = True) -> None:
        self.folder = folder
        self.watch = watch
        self._cache: dict[str, tuple[float, str]] = {}
        self._names: dict[str, str] = {}

    def digest(self, filename: str) -> str | None:
        if not self.watch and filename in self._cache:
            return self._cache[filename][1]
        path = (self.folder / filename).resolve()
        if not path.is_relative_to(self.folder.resolve()) or not path.is_file():
            return None
        mtime = path.stat().st_mtime
        cached = self._cache.get(filename)
        if cached is None or cached[0] != mtime:
            cached = (mtime, hashlib.sha256(path.read_bytes()).hexdigest()[:12])
            self._cache[filename] = cached
        return cached[1]

    def fingerprint(self, filename: str) -> str:
        known = None if self.watch else self._names.get(filename)
        if known is not None:
            return known
        digest = self.digest(filename)
        if digest is None:
            return filename
        stem, dot, suffix = filename.rpartition(".")
        name = f"{stem}.{digest}.{suffix}" if dot else f"{filename}.{digest}"
        self._names[filename] = name
        return name

    def resolve(self, requested: str) -> tuple[str, bool]:
        """(real file name, whether the request named its current fingerprint)."""
        match = FINGERPRINTED.match(requested)
        if match is None:
            return requested, False
        real = match["stem"] + match["suffix"]
        return real, self.digest(real) == match["digest"]


def init_static(app: Flask, *, watch: bool) -> None:
    if app.static_folder is None:
        return
    assets = StaticAssets(Path(app.static_folder), watch=watch)
    app.extensions["static_assets"] = assets

    @app.url_defaults
    def _fingerprint(endpoint: str, values: dict[str, object]) -> None:
        if endpoint == "static" and isinstance(values.get("filename"), str):
            values["filename"] = assets.fingerprint(str(values["filename"]))

    def serve_static(filename: str) -> Response:
        real, current = assets.resolve(filename)
        response = send_from_directory(assets.folder, real, max_age=ONE_YEAR if current else 0)
        if current:
            response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
        return response

    app.view_functions["static"] = serve_static
