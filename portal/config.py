"""Settings read once from the environment into one typed, frozen object.

Production refuses to start on unsafe values; development fills in safe local defaults
(a SQLite file and a secret generated once under ``instance/``).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"
TWILIO_DEFAULT_API_BASE = "https://api.twilio.com"
SUPPORTED_LOCALES = ("zh_Hans_CN", "en")
MIN_SECRET_LENGTH = 32
_WEAK_SECRETS = {"dev", "secret", "changeme", "change-me", "development", "test", "password"}


class ConfigError(ValueError):
    """A setting is missing or unsafe; the message names the variable in one line."""


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, local: time) -> bool:
        """Whether a site-local wall time falls inside the quiet period (which may wrap midnight)."""
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = ""
    secret_key: str = ""
    default_locale: str = "zh_Hans_CN"
    default_timezone: str = "Asia/Shanghai"
    sms_backend: str = "console"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_base: str = TWILIO_DEFAULT_API_BASE
    twilio_timeout_seconds: float = 10.0
    public_base_url: str = "http://127.0.0.1:5000"
    quiet_hours: QuietHours = field(default_factory=lambda: parse_quiet_hours("21:00-08:00"))
    instance_path: Path = DEFAULT_INSTANCE
    patient_idle_minutes: int = 30
    staff_idle_minutes: int = 15
    trusted_proxies: int = 0
    db_pool_size: int = 5
    # psycopg prepares a statement on a connection after this many runs of it; 0 = never (for a
    # pooler in transaction mode without prepared-statement support, e.g. PgBouncer before 1.21).
    db_prepare_threshold: int = 5
    # Volunteer enquiries not leading to enrolment are deleted this many days after their last activity.
    enquiry_retention_days: int = 180
    metrics_token: str = ""
    # Dispatch: concurrent sends per worker process, and an optional cap on sends per second per
    # worker (0 = off) for providers or sender numbers that limit throughput.
    worker_send_concurrency: int = 32
    sms_rate_limit_per_second: float = 0.0
    testing: bool = False

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.default_timezone)


def parse_quiet_hours(raw: str) -> QuietHours:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", raw)
    if not match:
        raise ConfigError(f"QUIET_HOURS must look like 21:00-08:00, got {raw!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        return QuietHours(time(h1, m1), time(h2, m2))
    except ValueError as exc:
        raise ConfigError(f"QUIET_HOURS has an impossible time: {raw!r}") from exc


def _dev_secret(instance_path: Path) -> str:
    """A random secret generated once and kept in instance/ so sessions survive restarts."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _check_dispatch(settings: Settings) -> None:
    concurrency, rate = settings.worker_send_concurrency, settings.sms_rate_limit_per_second
    if not 1 <= concurrency <= 256:
        raise ConfigError(f"WORKER_SEND_CONCURRENCY must be between 1 and 256, got {concurrency}")
    if not 0 <= rate < float("inf"):
        raise ConfigError(f"SMS_RATE_LIMIT_PER_SECOND must be 0 (off) or a positive number, got {rate}")


def _check_production(settings: Settings) -> None:
    key = settings.secret_key
    if not key or len(key) < MIN_SECRET_LENGTH or key.lower() in _WEAK_SECRETS:
        raise ConfigError(
            f"SECRET_KEY is missing or weak: set a random value of at least {MIN_SECRET_LENGTH} "
            "characters (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    if settings.sms_backend == "twilio":
        if not (settings.twilio_account_sid and settings.twilio_auth_token):
            raise ConfigError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required with SMS_BACKEND=twilio")
        if not (settings.twilio_from_number or settings.twilio_messaging_service_sid):
            raise ConfigError(
                "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID is required with SMS_BACKEND=twilio"
            )
    if not settings.public_base_url.startswith("https://"):
        raise ConfigError("PUBLIC_BASE_URL must start with https:// in production")


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Read settings from ``environ`` (default: os.environ) once; ``overrides`` win (tests)."""
    env = os.environ if environ is None else environ
    instance_path = Path(env.get("PORTAL_INSTANCE_PATH") or DEFAULT_INSTANCE)
    portal_env = env.get("PORTAL_ENV", "development").strip() or "development"
    if portal_env not in ("development", "production"):
        raise ConfigError(f"PORTAL_ENV must be development or production, got {portal_env!r}")
    locale = env.get("DEFAULT_LOCALE", "zh_Hans_CN").strip() or "zh_Hans_CN"
    if locale not in SUPPORTED_LOCALES:
        raise ConfigError(f"DEFAULT_LOCALE must be one of {', '.join(SUPPORTED_LOCALES)}, got {locale!r}")
    timezone = env.get("DEFAULT_TIMEZONE", "Asia/Shanghai").strip() or "Asia/Shanghai"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"DEFAULT_TIMEZONE is not an IANA time zone: {timezone!r}") from exc
    backend = env.get("SMS_BACKEND", "console").strip() or "console"
    if backend not in ("console", "twilio"):
        raise ConfigError(f"SMS_BACKEND must be console or twilio, got {backend!r}")
    secret = env.get("SECRET_KEY", "").strip()
    if not secret and portal_env == "development":
        secret = _dev_secret(instance_path)
    values: dict[str, object] = {
        "env": portal_env,
        "database_url": env.get("DATABASE_URL", "").strip()
        or f"sqlite:///{instance_path / 'portal.sqlite3'}",
        "secret_key": secret,
        "default_locale": locale,
        "default_timezone": timezone,
        "sms_backend": backend,
        "twilio_account_sid": env.get("TWILIO_ACCOUNT_SID", "").strip(),
        "twilio_auth_token": env.get("TWILIO_AUTH_TOKEN", "").strip(),
        "twilio_from_number": env.get("TWILIO_FROM_NUMBER", "").strip(),
        "twilio_messaging_service_sid": env.get("TWILIO_MESSAGING_SERVICE_SID", "").strip(),
        "twilio_api_base": (env.get("TWILIO_API_BASE", "").strip() or TWILIO_DEFAULT_API_BASE).rstrip("/"),
        "twilio_timeout_seconds": float(_int(env, "TWILIO_TIMEOUT_MS", 10_000)) / 1000,
        "public_base_url": (env.get("PUBLIC_BASE_URL", "").strip() or "http://127.0.0.1:5000").rstrip("/"),
        "quiet_hours": parse_quiet_hours(env.get("QUIET_HOURS", "") or "21:00-08:00"),
        "instance_path": instance_path,
        "patient_idle_minutes": _int(env, "PATIENT_IDLE_MINUTES", 30),
        "staff_idle_minutes": _int(env, "STAFF_IDLE_MINUTES", 15),
        "trusted_proxies": _int(env, "TRUSTED_PROXIES", 0),
        "db_pool_size": _int(env, "DB_POOL_SIZE", 5),
        "db_prepare_threshold": _int(env, "DB_PREPARE_THRESHOLD", 5),
        "enquiry_retention_days": _int(env, "ENQUIRY_RETENTION_DAYS", 180),
        "metrics_token": env.get("METRICS_TOKEN", "").strip(),
        "worker_send_concurrency": _int(env, "WORKER_SEND_CONCURRENCY", 32),
        "sms_rate_limit_per_second": _float(env, "SMS_RATE_LIMIT_PER_SECOND", 0.0),
    }
    values.update(overrides)
    settings = Settings(**values)  # type: ignore[arg-type]
    _check_dispatch(settings)
    if settings.is_production:
        _check_production(settings)
    return settings
