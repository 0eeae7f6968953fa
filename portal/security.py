"""Production HTTP hardening: security headers, no caching of personal pages, compression.

Why hand-written headers rather than Flask-Talisman: the policy is one fixed set (no inline
script or style anywhere, so no nonces), HTTPS redirects belong to the reverse proxy, and a
dozen lines are easier to audit than a library's option matrix. Compression uses Flask-Compress.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_compress import Compress

from .config import Settings

# No inline script or style: templates link portal.css and static scripts only.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HSTS = "max-age=63072000; includeSubDomains"

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    # The calendar feed URL carries a token: never leak a URL to another site.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
PRODUCTION_ONLY = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Strict-Transport-Security": HSTS,
}

compress = Compress()


def init_security(app: Flask, settings: Settings) -> None:
    headers = dict(ALWAYS)
    if settings.is_production:
        headers.update(PRODUCTION_ONLY)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "deflate"])
    # Low levels: pages are small and per-request CPU is the bottleneck; level 1 already gets
    # most of the saving (brotli's default quality 4 costs ~1 ms a page for a few hundred bytes).
    app.config.setdefault("COMPRESS_LEVEL", 1)
    app.config.setdefault("COMPRESS_BR_LEVEL", 1)
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    # Pages carry no ETag (no-store) and static names are fingerprinted and cached for a year,
    # so re-checking every compressed response for If-None-Match/Range only costs time.
    app.config.setdefault("COMPRESS_EVALUATE_CONDITIONAL_REQUEST", False)
    compress.init_app(app)

    defaults = [(name.lower(), name, value) for name, value in headers.items()]

    @app.after_request
    def _security_headers(response: Response) -> Response:
        # One pass over the response's headers, not one per default (each lookup scans them all).
        present = {name.lower() for name, _value in response.headers}
        response.headers.extend([(name, value) for key, name, value in defaults if key not in present])
        if request.endpoint != "static" and "cache-control" not in present:
            # Pages carry personal data: no shared or on-disk caches (shared phones, proxies).
            response.headers["Cache-Control"] = "no-store"
        return response
