"""The console's error pages: another site's record reads as not found, inside the console."""

from __future__ import annotations


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
