"""Row links built from one URL, and layout links built once, are exactly what url_for gives."""

from __future__ import annotations

from flask import Flask, url_for

from portal.id_urls import id_url, nav_url


def test_row_links_equal_url_for(app: Flask) -> None:
    with app.test_request_context("/"):
        for endpoint, key in (("staff.participant", "participant_id"), ("staff.visit", "visit_id"),
                              ("staff.request_accept", "request_id"), ("patient.visit", "visit_id")):  # fmt: skip
            link = id_url(endpoint, key)
            for value in (0, 7, 12345, 987_654_321_123):
                assert link(value) == url_for(endpoint, **{key: value})


def test_an_endpoint_without_the_id_in_its_path_still_links(app: Flask) -> None:
    with app.test_request_context("/"):
        link = id_url("staff.roster_view", "page")
        assert link(3) == url_for("staff.roster_view", page=3)


def test_layout_links_equal_url_for_at_every_mount_point(app: Flask) -> None:
    for root in ("", "/portal", "/trial-b", ""):
        with app.test_request_context("/", base_url=f"http://localhost{root}"):
            for endpoint in ("patient.home", "patient.messages", "staff.worklist", "staff.roster_view"):
                assert nav_url(endpoint) == url_for(endpoint)
                assert nav_url(endpoint).startswith(root + "/")


def test_row_links_follow_the_mount_point(app: Flask) -> None:
    for root in ("", "/portal", ""):
        with app.test_request_context("/", base_url=f"http://localhost{root}"):
            assert id_url("patient.visit", "visit_id")(42) == url_for("patient.visit", visit_id=42)
            assert id_url("patient.visit", "visit_id")(42).startswith(root + "/")
