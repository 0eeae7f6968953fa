"""Translations and locale formatting usable outside a request (SMS, worker, CLI).

The web layer uses Flask-Babel over the same catalogues; SMS are rendered here under the
participant's saved language, never the request's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.support import NullTranslations, Translations

from .config import PROJECT_ROOT, SUPPORTED_LOCALES

TRANSLATIONS_DIR = PROJECT_ROOT / "translations"

# Patterns follow ../shared/GLOSSARY.md: "2026年12月1日 星期二" / "Tuesday, 1 December 2026".
_LONG_DATE = {"zh": "y年M月d日 EEEE", "en": "EEEE, d MMMM y"}
_SHORT_DATE = {"zh": "M月d日（EEE）", "en": "EEE d MMM"}
_TIME = {"zh": "HH:mm", "en": "h:mm a"}


def normalize_locale(value: str | None, default: str = "zh_Hans_CN") -> str:
    """Map browser and user spellings (zh-CN, zh_Hans, en-GB…) onto a supported catalogue."""
    if not value:
        return default
    low = value.replace("-", "_").lower()
    if low.startswith("zh"):
        return "zh_Hans_CN"
    if low.startswith("en"):
        return "en"
    return default if default in SUPPORTED_LOCALES else "zh_Hans_CN"


def _lang(locale: str) -> str:
    return "zh" if locale.startswith("zh") else "en"


@lru_cache(maxsize=8)
def translations(locale: str) -> NullTranslations:
    return Translations.load(str(TRANSLATIONS_DIR), [locale], domain="messages")


def to_local(moment: datetime, tz: str | ZoneInfo) -> datetime:
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone)


# Cached: Babel re-parses the locale and pattern on every call, and a page shows dozens of dates.
@lru_cache(maxsize=4096)
def long_date(day: date, locale: str) -> str:
    return format_date(day, _LONG_DATE[_lang(locale)], locale=locale)


@lru_cache(maxsize=4096)
def short_date(day: date, locale: str) -> str:
    return format_date(day, _SHORT_DATE[_lang(locale)], locale=locale)


def clock(moment: time | datetime, locale: str) -> str:
    """The wall-clock time as it reads in ``moment``'s own zone (convert with to_local first)."""
    return _clock(moment.hour, moment.minute, locale)


@lru_cache(maxsize=4096)
def _clock(hour: int, minute: int, locale: str) -> str:
    text = format_time(time(hour, minute), _TIME[_lang(locale)], locale=locale)
    return text if _lang(locale) == "zh" else text.replace("AM", "am").replace("PM", "pm")


def localized(obj: object, field: str, locale: str) -> str:
    """Pick ``field_zh`` or ``field_en`` of a model for the locale."""
    return str(getattr(obj, f"{field}_{_lang(locale)}"))
