"""No participant reaches another's data by changing an id; signed-out visitors go to sign-in."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import select

from portal.models import ConsentAcknowledgement, ConsentVersion, RescheduleRequest, Visit

from .conftest import visits_of

GET_ROUTES = [
    "/visits/{visit}",
    "/visits/{visit}/reschedule",
    "/visits/{visit}/calendar.ics",
    "/consents/{consent}",
    "/consents/{consent}/file",
    "/results/{panel}",
]
POST_ROUTES = [
    "/visits/{visit}/confirm",
    "/visits/{visit}/reschedule",
    "/consents/{consent}/acknowledge",
]
SIGNED_IN_PAGES = ["/", "/results", "/consents", "/contact", "/calendar", "/closed"]


@pytest.fixture(autouse=True)
def _clock(frozen_now):
    return frozen_now


@pytest.fixture
def two(db, make_participant, study, consent_setup, add_panel, book, sign_in):
    """Alice (signed in) and Bob, each with a booked visit, a result panel and a signed consent."""
    alice, bob = make_participant(name="Alice Wang"), make_participant(name="Bob Li")
    ids = {}
    for who in (alice, bob):
        visit = book(visits_of(db, who)[1], at=time(9, 0))
        panel = add_panel(who, visit, {"ALT": (55, "U/L", 7, 40)})
        ids[who.id] = {"visit": visit.id, "panel": panel.id}
    versions = consent_setup(alice, study.id, code="ICF-A")
    consent_setup(bob, study.id, code="ICF-B")
    bob_versions = set(db.scalars(select(ConsentVersion.id))) - {v.id for v in versions.values()}
    ids[bob.id]["consent"] = min(bob_versions)
    ids[alice.id]["consent"] = versions["v1_zh"].id
    sign_in(alice)
    return alice, bob, ids


@pytest.mark.parametrize("route", GET_ROUTES)
def test_another_participants_ids_are_not_found(client, two, route):
    alice, bob, ids = two
    own = client.get(route.format(**ids[alice.id]))
    assert own.status_code == 200
    response = client.get(route.format(**ids[bob.id]))
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert bob.full_name not in body and bob.study_code not in body


@pytest.mark.parametrize("route", POST_ROUTES)
def test_another_participants_ids_cannot_be_changed(client, db, two, route):
    _alice, bob, ids = two
    response = client.post(route.format(**ids[bob.id]), data={"date_1": "2026-12-27"})
    assert response.status_code == 404
    db.expire_all()
    assert db.get(Visit, ids[bob.id]["visit"]).status == "scheduled"
    assert db.scalar(select(RescheduleRequest)) is None
    assert db.scalar(select(ConsentAcknowledgement)) is None


@pytest.mark.parametrize("route", ["/visits/999999", "/results/999999", "/consents/999999"])
def test_made_up_ids_are_not_found(client, two, route):
    assert client.get(route).status_code == 404


def test_alice_never_sees_bobs_data_on_her_pages(client, two):
    _alice, bob, ids = two
    for url in SIGNED_IN_PAGES[:5]:
        body = client.get(url).get_data(as_text=True)
        assert bob.full_name not in body and bob.study_code not in body
        assert f"/visits/{ids[bob.id]['visit']}" not in body and f"/results/{ids[bob.id]['panel']}" not in body


@pytest.mark.parametrize("route", GET_ROUTES + SIGNED_IN_PAGES)
def test_signed_out_visitors_are_sent_to_sign_in(app, two, route):
    alice, _bob, ids = two
    anonymous = app.test_client()
    response = anonymous.get(route.format(**ids[alice.id]))
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


@pytest.mark.parametrize("route", [*POST_ROUTES, "/calendar/new", "/calendar/revoke", "/contact/sms"])
def test_signed_out_posts_change_nothing(app, db, two, route):
    alice, _bob, ids = two
    response = app.test_client().post(route.format(**ids[alice.id]), data={"date_1": "2026-12-27"})
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert db.scalar(select(RescheduleRequest)) is None


def test_calendar_feed_works_only_with_its_current_token(app, client, two):
    _alice, _bob, _ids = two

    def token_from(html: str) -> str:
        return html.split("/calendar/feed/")[1].split(".ics")[0]

    first = token_from(client.post("/calendar/new").get_data(as_text=True))
    anonymous = app.test_client()
    feed = anonymous.get(f"/calendar/feed/{first}.ics")
    assert feed.status_code == 200 and "DTSTART;TZID=Asia/Shanghai:20261229T090000" in feed.get_data(as_text=True)
    assert feed.headers.getlist("Cache-Control") == ["private, no-store"]  # its own, not the pages' default
    second = token_from(client.post("/calendar/new").get_data(as_text=True))
    assert anonymous.get(f"/calendar/feed/{first}.ics").status_code == 404
    assert anonymous.get(f"/calendar/feed/{second}.ics").status_code == 200
    client.post("/calendar/revoke")
    assert anonymous.get(f"/calendar/feed/{second}.ics").status_code == 404
    assert anonymous.get("/calendar/feed/guess.ics").status_code == 404
    assert anonymous.get(f"/calendar/feed/{'x' * 43}.ics").status_code == 404
