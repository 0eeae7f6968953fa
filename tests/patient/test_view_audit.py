"""Every participant page that shows their data leaves one audit row saying who saw what
(DESIGN.md invariant 7); a page refused for someone else's id leaves none, and a page whose
row cannot be saved is not shown. On both databases: on PostgreSQL the home and visit pages
write their row with the same statement that reads the visits (audit.read_recording)."""

from __future__ import annotations

import re
from datetime import time

import pytest
from sqlalchemy import select

from portal import audit
from portal.models import AuditEvent

from ..conftest import BOTH_DATABASES
from .conftest import visits_of

PAGES = [
    ("/", "portal.view_home", None),
    ("/visits/{visit}", "portal.view_visit", "visit"),
    ("/visits/{visit}/reschedule", "portal.view_reschedule_form", "visit"),
    ("/visits/{visit}/calendar.ics", "portal.view_visit_ics", "visit"),
    ("/results", "portal.view_results", None),
    ("/results/{panel}", "portal.view_result", "panel"),
    ("/consents", "portal.view_consents", None),
    ("/consents/{consent}", "portal.view_consent_version", "consent"),
    ("/consents/{consent}/file", "portal.view_consent_file", "consent"),
    ("/messages", "portal.view_messages", None),
    ("/news", "portal.view_news", None),
]


@pytest.fixture(autouse=True)
def _clock(frozen_now):
    return frozen_now


@pytest.fixture
def alice(db, make_participant, study, consent_setup, add_panel, book, sign_in):
    """Signed in, with a booked visit, a result panel and a signed consent; ids by name."""
    me = make_participant(name="Alice Wang")
    visit = book(visits_of(db, me)[1], at=time(9, 0))
    panel = add_panel(me, visit, {"ALT": (55, "U/L", 7, 40)})
    versions = consent_setup(me, study.id)
    sign_in(me)
    return me, {"visit": visit.id, "panel": panel.id, "consent": versions["v1_zh"].id}


def _views(db, participant_id):
    db.expire_all()
    return list(db.scalars(
        select(AuditEvent).where(AuditEvent.actor_type == "participant", AuditEvent.actor_id == participant_id,
                                 AuditEvent.action.like("portal.view%")).order_by(AuditEvent.id)
    ))  # fmt: skip


@BOTH_DATABASES
@pytest.mark.parametrize(("path", "action", "object_key"), PAGES)
def test_each_page_view_leaves_one_audit_row(client, db, alice, path, action, object_key, database):
    me, ids = alice
    before = len(_views(db, me.id))
    response = client.get(path.format(**ids), headers={"X-Request-Id": "req-audit-1"})
    assert response.status_code == 200
    new = _views(db, me.id)[before:]
    assert [(e.action, e.participant_id, e.site_id) for e in new] == [(action, me.id, me.site_id)]
    assert new[0].object_id == (str(ids[object_key]) if object_key else "")
    assert (new[0].request_id, new[0].ip_address) == ("req-audit-1", "127.0.0.1")


@BOTH_DATABASES
def test_a_page_refused_for_someone_elses_visit_leaves_no_view_row(client, db, alice, make_participant, database):
    me, _ids = alice
    bob = make_participant(name="Bob Li")
    before = len(_views(db, me.id))
    assert client.get(f"/visits/{visits_of(db, bob)[1].id}").status_code == 404
    assert len(_views(db, me.id)) == before


@BOTH_DATABASES
@pytest.mark.parametrize("path", ["/", "/visits/{visit}", "/results"])
def test_a_page_whose_audit_row_cannot_be_saved_is_not_shown(app, client, db, alice, monkeypatch, path, database):
    me, ids = alice
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as production does: the error page
    shown = client.get(path.format(**ids)).get_data(as_text=True)
    heading = re.search(r"<h1>(.+?)</h1>", shown).group(1)  # the page's own heading
    before = len(_views(db, me.id))
    real_values = audit.PageView.values
    # An actor type the audit table's CHECK constraint refuses: the row cannot be written.
    monkeypatch.setattr(audit.PageView, "values", lambda view: {**real_values(view), "actor_type": "nobody"})
    response = client.get(path.format(**ids))
    assert response.status_code == 500
    assert heading not in response.get_data(as_text=True)
    assert len(_views(db, me.id)) == before
