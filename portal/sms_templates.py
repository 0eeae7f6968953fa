"""The few fixed reminder texts (GLOSSARY.md "SMS shape"), rendered in the participant's language.

Chinese carriers want registered templates, so there are three, varying only by site name,
date, time and a one-line hint. Nothing here may name a diagnosis, drug, arm or result.
"""

from __future__ import annotations

from datetime import datetime

from .i18n import clock, short_date, translations


def N_(message: str) -> str:
    """Mark a msgid for extraction; it is translated when rendered, under the participant's locale."""
    return message


TEMPLATES: dict[str, str] = {
    "visit_upcoming": N_(
        "%(site)s: study visit %(date)s at %(time)s. %(hint)s Reply 1 to confirm, STOP to opt out."
    ),
    "visit_tomorrow": N_(
        "%(site)s: study visit tomorrow, %(date)s at %(time)s. %(hint)s Reply 1 to confirm, STOP to opt out."
    ),
    "visit_today": N_("%(site)s: study visit today at %(time)s. %(hint)s Reply 1 to confirm, STOP to opt out."),
}
HINTS: dict[str, str] = {
    "fasting": N_("Please come fasting."),
    "on_time": N_("Please arrive on time."),
}
FORBIDDEN_WORDS = ("stem cell", "cirrhosis", "干细胞", "肝硬化", "infusion", "输注", "UC-MSC", "control", "对照")


class UnknownTemplateError(KeyError):
    """A reminder rule names a template this code does not have."""


def render_reminder(template: str, *, locale: str, site_name: str, visit_local: datetime, fasting: bool) -> str:
    """The body of one reminder; ``visit_local`` is the visit's site-local wall time."""
    if template not in TEMPLATES:
        raise UnknownTemplateError(template)
    translate = translations(locale).gettext  # not named gettext: the msgids are marked above
    hint = translate(HINTS["fasting" if fasting else "on_time"])
    return translate(TEMPLATES[template]) % {
        "site": site_name,
        "date": short_date(visit_local.date(), locale),
        "time": clock(visit_local, locale),
        "hint": hint,
    }
