"""What a participant page reads of the signed-in participant: their own row, site and study as
plain values, never the treatment arm; and changes made from those pages are still saved."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import select

from bench.pages import count_statements
from portal.models import Participant, Site

from .conftest import visits_of

PAGES = ["/", "/visit", "/results", "/consents", "/contact", "/calendar", "/messages", "/news"]


@pytest.fixture(autouse=True)
def _clock(frozen_now):
    return frozen_now


@pytest.mark.parametrize("page", PAGES)
def test_participant_pages_never_read_the_treatment_arm(app, client, db, make_participant, book, sign_in, page):
    me = make_participant(arm="ucmsc")
    visit = book(visits_of(db, me)[1], at=time(9, 0))
    sign_in(me)
    path = f"/visits/{visit.id}" if page == "/visit" else page
    with count_statements(app.extensions["engine"]) as seen:
        response = client.get(path)
    assert response.status_code == 200
    assert seen, "the page read nothing?"
    assert not [s for s in seen if "arm_id" in s or " arms" in s]


def test_a_new_site_phone_shows_on_the_next_page(client, db, make_participant, sign_in):
    me = make_participant()
    sign_in(me)
    assert "010-6693 3129" not in client.get("/contact").get_data(as_text=True)
    site = db.scalar(select(Site).where(Site.id == me.site_id))
    site.phone = "010-6693 3129"
    db.commit()
    assert "010-6693 3129" in client.get("/contact").get_data(as_text=True)


def test_settings_changed_on_the_contact_page_are_saved(client, db, make_participant, sign_in):
    me = make_participant(locale="zh_Hans_CN")
    sign_in(me)
    client.post("/contact/sms", data={})
    client.post("/language", data={"locale": "en", "next": "/contact"})
    db.expire_all()
    saved = db.get(Participant, me.id)
    assert (saved.sms_opt_out, saved.preferred_locale) == (True, "en")
    page = client.get("/contact").get_data(as_text=True)
    assert '<html lang="en">' in page and "Reminders by text message are off." in page


def test_the_page_after_making_a_calendar_link_shows_that_there_is_one(client, make_participant, sign_in):
    sign_in(make_participant(locale="en"))
    html = client.post("/calendar/new").get_data(as_text=True)
    assert "webcal://" in html
    assert "Stop my calendar link" in html and "Make a new calendar link" in html
    assert "Make my calendar link" not in html
