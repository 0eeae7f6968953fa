"""Role × site matrix over EVERY staff route, generated from the URL map.

A new staff route fails ``test_every_staff_route_has_an_expectation`` until it is added to
ROUTES, so nothing can escape the matrix. For each role: routes the role may not use answer 403;
routes about a record of another site answer 404; everything else answers without 403/404/5xx.
"""

from __future__ import annotations

import pytest
from flask import Flask

from portal.audit import SYSTEM
from portal.consent_admin import default_document, publish_version, upload_version
from portal.models import Study

from .conftest import ACCOUNTS
from .objects import build_site_objects

ALL = frozenset({"admin", "coordinator", "investigator"})
EDIT = frozenset({"admin", "coordinator"})
ADMIN = frozenset({"admin"})
INVESTIGATOR = frozenset({"investigator"})
PUBLIC = None  # reachable without signing in (the sign-in steps themselves)

ROUTES: dict[str, frozenset[str] | None] = {
    "staff.sign_in": PUBLIC, "staff.two_factor": PUBLIC, "staff.totp_enrol": PUBLIC, "staff.sign_out": PUBLIC,
    "staff.index": ALL, "staff.account": ALL, "staff.change_password": ALL,
    "staff.worklist": ALL, "staff.visit": ALL, "staff.visit_update": EDIT,
    "staff.request_accept": EDIT, "staff.request_decline": EDIT,
    "staff.roster_view": ALL, "staff.roster_export": ALL, "staff.enrol": EDIT, "staff.import_participants": EDIT,
    "staff.participant": ALL, "staff.participant_edit": EDIT, "staff.participant_end": EDIT,
    "staff.conversation": ALL, "staff.send_message": EDIT, "staff.message_preview": EDIT,
    "staff.bulk": EDIT, "staff.inbox": ALL, "staff.message_handled": EDIT,
    "staff.portal_reply": EDIT, "staff.message_close": EDIT, "staff.news_list": ALL, "staff.news_publish": EDIT,
    "staff.enquiries_queue": ALL, "staff.enquiry": ALL, "staff.enquiry_status": EDIT, "staff.enquiry_note": EDIT,
    "staff.enquiry_enrol": EDIT,
    "staff.results_new": EDIT, "staff.panel": ALL, "staff.panel_correct": EDIT, "staff.panel_release": INVESTIGATOR,
    "staff.consents": ALL, "staff.consent_upload": EDIT,
    "staff.consent_publish": EDIT, "staff.consent_file": ALL, "staff.reconsent": ALL,
    "staff.consent_record": EDIT,
    "staff.staff_list": ADMIN, "staff.staff_reset": ADMIN, "staff.audit_view": ADMIN, "staff.audit_export": ADMIN,
    "staff.staff_deactivate": ADMIN, "staff.staff_reactivate": ADMIN,
}  # fmt: skip
SITE_SCOPED = {"participant_id", "visit_id", "request_id", "message_id", "panel_id", "enquiry_id"}


def staff_rules(app: Flask) -> list[tuple[str, str, tuple[str, ...]]]:
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("staff."):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                rules.append((rule.endpoint, method, tuple(sorted(rule.arguments))))
    return rules


def test_every_staff_route_has_an_expectation(app):
    endpoints = {endpoint for endpoint, _, _ in staff_rules(app)}
    assert endpoints - set(ROUTES) == set(), "add the new staff route to ROUTES with who may use it"
    assert set(ROUTES) - endpoints == set()
    assert all(r.rule.startswith("/staff") for r in app.url_map.iter_rules() if r.endpoint.startswith("staff."))


@pytest.fixture
def objects(app, db, team, world):
    study = db.query(Study).one()
    doc = default_document(db, study)
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    version = upload_version(db, app.config["PORTAL_SETTINGS"].instance_path, doc, label="v2", locale="zh_Hans_CN",
                             effective_date=world.bj.day0, filename="v2.pdf", data=pdf, requires_reconsent=True,
                             staff=team.users["admin"], actor=SYSTEM)  # fmt: skip
    publish_version(db, version, SYSTEM)
    db.commit()
    return {
        "BJ": build_site_objects(db, world.bj, team.users["coord_bj"]),
        "SH": build_site_objects(db, world.sh, team.users["coord_sh"]),
        "version_id": version.id,
        "staff_id": team.users["coord_sh"].id,
    }


def _url(app, endpoint, args, site_objects, objects):
    values = {}
    for arg in args:
        values[arg] = getattr(site_objects, arg) if arg in SITE_SCOPED else objects[arg]
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **values)


def _call(client, method, url):
    return client.get(url) if method == "GET" else client.post(url, data={})


@pytest.mark.parametrize("who", ["admin", "coord_bj", "inv_bj", "coord_sh", "inv_sh"])
def test_role_site_matrix(app, sign_in, objects, who):
    role, sites = ACCOUNTS[who][1], ACCOUNTS[who][2]
    own = sites[0] if sites else "BJ"
    other = {"BJ": "SH", "SH": "BJ"}[own]
    client = sign_in(who)
    failures = []
    for endpoint, method, args in staff_rules(app):
        if ROUTES[endpoint] is PUBLIC:
            continue
        allowed_roles = ROUTES[endpoint]
        scoped = SITE_SCOPED & set(args)
        checks = [(objects[own], "own")]
        if scoped:
            checks.append((objects[other], "other"))
        for site_objects, which in checks:
            url = _url(app, endpoint, args, site_objects, objects)
            status = _call(client, method, url).status_code
            if role not in allowed_roles:
                expected = "403"
                ok = status == 403
            elif which == "other" and role != "admin":
                expected = "404"
                ok = status == 404
            else:
                expected = "allowed"
                ok = status < 500 and status not in (403, 404)
            if not ok:
                failures.append(f"{method} {url} ({endpoint}, {which} site): got {status}, expected {expected}")
    assert failures == []


def test_signed_out_visitors_are_sent_to_sign_in(app, objects):
    client = app.test_client()
    for endpoint, method, args in staff_rules(app):
        if ROUTES[endpoint] is PUBLIC:
            continue
        url = _url(app, endpoint, args, objects["BJ"], objects)
        response = _call(client, method, url)
        assert response.status_code == 302, url
        assert "/staff/sign-in" in response.headers["Location"], url
