"""The console's error pages: another site's record reads as not found, inside the console."""

from __future__ import annotations

import time


def test_another_sites_participant_is_a_not_found_page_in_the_console(sign_in, world):
    client = sign_in("coord_bj")
    response = client.get(f"/staff/participants/{world.sh.id}")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Page not found" in page and "/staff/sign-out" in page  # the console's header, signed in
    assert world.sh.study_code not in page


def test_an_unknown_console_address_keeps_the_signed_in_header(sign_in):
    response = sign_in("coord_bj").get("/staff/no-such-page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Page not found" in page and "/staff/sign-out" in page


def test_an_unknown_console_address_ends_a_session_past_its_idle_limit(sign_in, settings):
    client = sign_in("coord_bj")
    with client.session_transaction() as sess:
        sess["staff_seen"] = time.time() - settings.staff_idle_minutes * 60 - 5
    response = client.get("/staff/no-such-page")
    assert response.status_code == 302 and "/staff/sign-in" in response.headers["Location"]
    page = client.get("/staff/no-such-page").get_data(as_text=True)
    assert "/staff/sign-out" not in page  # signed out: no name, navigation or sign-out button
