"""The participant portal: ``create_app`` builds it from one Settings object."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import TYPE_CHECKING

from flask import Flask, g, request, session
from flask_babel import get_locale
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import SUPPORTED_LOCALES, Settings, load_settings
from .db import make_engine, make_session_factory
from .extensions import babel, close_db_session, csrf, db_session, login_manager
from .i18n import TRANSLATIONS_DIR, normalize_locale
from .models import StaffUser

if TYPE_CHECKING:
    from .patient_chrome import SignedInParticipant


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__, instance_path=str(settings.instance_path), instance_relative_config=False)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        PORTAL_SETTINGS=settings,
        TESTING=settings.testing,
        BABEL_DEFAULT_LOCALE=settings.default_locale,
        BABEL_DEFAULT_TIMEZONE=settings.default_timezone,
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS_DIR),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        REMEMBER_COOKIE_SECURE=settings.is_production,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=12 * 1024 * 1024,
    )
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]

    engine = make_engine(settings, ping="idle")
    app.extensions["engine"] = engine
    app.extensions["session_factory"] = make_session_factory(engine)
    app.teardown_appcontext(close_db_session)

    _init_extensions(app)
    _register_blueprints(app)
    _register_request_hooks(app)
    _init_operations(app, settings)

    from .errors import install as install_error_pages

    install_error_pages(app)
    from .cli import register_cli

    register_cli(app)
    return app


def _init_operations(app: Flask, settings: Settings) -> None:
    """Health and metrics endpoints, security headers, compression, fingerprinted static files."""
    from .ops import init_ops
    from .security import init_security
    from .static_assets import init_static

    init_ops(app)
    init_security(app, settings)
    init_static(app, watch=not settings.is_production)


def _init_extensions(app: Flask) -> None:
    from .template_catalogue import use_catalogue_environment

    use_catalogue_environment(app)  # before babel.init_app, the first to touch app.jinja_env
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=_select_timezone)
    from .template_i18n import install as install_template_gettext

    install_template_gettext(app)
    from .template_output import install as install_template_output

    install_template_output(app)
    from .template_calls import install as install_template_calls

    install_template_calls(app)
    from .id_urls import install as install_nav_urls

    install_nav_urls(app)
    csrf.init_app(app)
    from .csrf_tokens import install as install_csrf_tokens

    install_csrf_tokens(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_user)


def _register_blueprints(app: Flask) -> None:
    from .patient import bp as patient_bp
    from .public import bp as public_bp
    from .staff import bp as staff_bp
    from .webhooks import bp as webhooks_bp

    app.register_blueprint(patient_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(staff_bp, url_prefix="/staff")
    app.register_blueprint(webhooks_bp, url_prefix="/webhooks")
    csrf.exempt(webhooks_bp)  # provider webhooks verify the provider's signature instead


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        g.request_id = request.headers.get("X-Request-Id", "")[:40] or uuid.uuid4().hex

    @app.context_processor
    def template_globals() -> dict[str, object]:
        return {"current_locale": str(get_locale()), "supported_locales": SUPPORTED_LOCALES}


def _load_user(user_id: str) -> SignedInParticipant | StaffUser | None:
    prefix, _, raw_id = user_id.partition(":")
    if not raw_id.isdigit():
        return None
    # One statement per request: every page reads the participant's site (time zone, header),
    # study and page chrome (badges, re-consent banner), and every staff page the staff member's
    # sites (scoping), so they come in the same statement.
    if prefix == "p":
        from .patient_chrome import load_with_chrome  # here: domain modules import the package

        found = load_with_chrome(db_session(), int(raw_id))
        if found is None:
            return None
        g.patient_chrome = found[1]
        return found[0]
    if prefix == "s":
        return db_session().scalars(_staff_by_id(), {"id": int(raw_id)}).unique().first()
    return None


@lru_cache(maxsize=1)
def _staff_by_id() -> Select[tuple[StaffUser]]:
    """Built once: this runs on every staff request, and building a statement costs more than running it."""
    return select(StaffUser).where(StaffUser.id == bindparam("id")).options(joinedload(StaffUser.sites))


def _select_locale() -> str:
    """Saved choice of the signed-in person → this session's choice → browser → default."""
    settings = _settings()
    from flask_login import current_user

    if getattr(current_user, "is_authenticated", False):
        return normalize_locale(current_user.preferred_locale, settings.default_locale)
    if session.get("locale") in SUPPORTED_LOCALES:
        return str(session["locale"])
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    return normalize_locale(best, settings.default_locale)


def _select_timezone() -> str:
    from flask_login import current_user

    site = getattr(current_user, "site", None) if getattr(current_user, "is_authenticated", False) else None
    return site.timezone if site is not None else _settings().default_timezone


def _settings() -> Settings:
    from flask import current_app

    return current_app.config["PORTAL_SETTINGS"]
