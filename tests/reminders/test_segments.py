"""Every reminder template, in both languages, with worst-case values fits the segment budget
and carries nothing it must not (DESIGN.md invariant 5)."""

from __future__ import annotations

from datetime import datetime

import pytest

from portal.i18n import translations
from portal.inbound import REPLIES
from portal.models import Site
from portal.sms.segments import count_segments
from portal.sms_templates import FORBIDDEN_WORDS, HINTS, TEMPLATES, render_reminder

LOCALES = ("zh_Hans_CN", "en")
# The longest site names the columns allow: worse than any real site.
LONGEST = {
    "zh_Hans_CN": "院" * Site.__table__.c.sms_name_zh.type.length,
    "en": "W" * Site.__table__.c.sms_name_en.type.length,
}
# Two-digit month and day, the longest weekday names, an afternoon time.
WORST_MOMENT = datetime(2026, 12, 30, 23, 59)


def test_gsm7_and_ucs2_counting() -> None:
    assert count_segments("a" * 160).segments == 1
    assert count_segments("a" * 161).segments == 2
    assert count_segments("a" * 306).segments == 2
    assert count_segments("a" * 307).segments == 3
    assert count_segments("{" * 80).units == 160  # extension characters take two septets
    assert count_segments("{" * 81).segments == 2
    zh = count_segments("您" * 70)
    assert (zh.encoding, zh.segments) == ("UCS-2", 1)
    assert count_segments("您" * 71).segments == 2
    assert count_segments("您" * 134).segments == 2
    assert count_segments("您" * 135).segments == 3
    assert count_segments("a" * 69 + "😀").units == 71  # outside the BMP: two UTF-16 units


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.parametrize("fasting", [True, False])
def test_every_template_fits_two_segments(locale: str, template: str, fasting: bool) -> None:
    body = render_reminder(template, locale=locale, site_name=LONGEST[locale], visit_local=WORST_MOMENT,
                           fasting=fasting)  # fmt: skip
    count = count_segments(body)
    if locale.startswith("zh"):
        assert count.encoding == "UCS-2"
        assert len(body) <= 134, body
    assert count.segments <= 2, (count, body)
    lowered = body.lower()
    assert not [w for w in FORBIDDEN_WORDS if w.lower() in lowered]
    assert "%(" not in body and "%s" not in body


@pytest.mark.parametrize("locale", LOCALES)
def test_real_site_reminders_fit_one_segment_in_chinese(locale: str) -> None:
    """With the protocol's real short site names the Chinese reminders are one 70-char segment."""
    for template in TEMPLATES:
        site = "华东研究中心" if locale != "en" else "East China Centre"
        body = render_reminder(template, locale=locale, site_name=site, visit_local=WORST_MOMENT, fasting=True)
        limit = 1 if locale.startswith("zh") else 2
        assert count_segments(body).segments <= limit, body


def test_chinese_reminder_follows_the_glossary_shape() -> None:
    body = render_reminder("visit_upcoming", locale="zh_Hans_CN", site_name="302医院",
                           visit_local=datetime(2026, 12, 1, 7, 30), fasting=True)  # fmt: skip
    assert body == "【302医院】您预约于12月1日（周二）07:30的研究随访，请空腹前来。回复1确认，TD退订。"
    en = render_reminder("visit_upcoming", locale="en", site_name="302 Hospital",
                         visit_local=datetime(2026, 12, 1, 7, 30), fasting=True)  # fmt: skip
    assert en == (
        "302 Hospital: study visit Tue 1 Dec at 7:30 am. Please come fasting. Reply 1 to confirm, STOP to opt out."
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_every_template_and_reply_is_translated(locale: str) -> None:
    catalogue = translations(locale)
    for msgid in [*TEMPLATES.values(), *HINTS.values(), *REPLIES.values()]:
        text = catalogue.gettext(msgid)
        if locale.startswith("zh"):
            assert text != msgid, f"untranslated: {msgid}"
            assert "【" in text or msgid in HINTS.values()


@pytest.mark.parametrize("locale", LOCALES)
def test_replies_fit_two_segments(locale: str) -> None:
    values = {"site": LONGEST[locale], "phone": "010-6693 3000", "hours": "周一至周五 8:00–17:00",
              "date": "12月30日（周三）", "time": "23:59"}  # fmt: skip
    for msgid in REPLIES.values():
        body = translations(locale).gettext(msgid) % values
        assert count_segments(body).segments <= 3, body
        assert not [w for w in FORBIDDEN_WORDS if w.lower() in body.lower()]
