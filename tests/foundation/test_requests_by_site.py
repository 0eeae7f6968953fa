"""Date-change requests carry their participant's site (migration 0003): the worklist finds a
site's pending requests from an index, and the database keeps the copy equal to the original."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from portal import migrate
from portal.models import RescheduleRequest, Site, Visit
from tests.staff.objects import ask_for_another_date

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def _ask(db, participant) -> RescheduleRequest:
    request = ask_for_another_date(db, participant, NOW)
    db.commit()
    return request


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_upgrading_to_0003_fills_each_request_with_its_participants_site(backend, app, db, make_participant):
    assert app.extensions["engine"].dialect.name == backend
    requests = {_ask(db, make_participant(site=code)).id: code for code in ("BJ", "SH")}
    sites = {site.id: site.code for site in db.scalars(select(Site))}
    db.close()
    engine = app.extensions["engine"]
    migrate.downgrade(engine, "0002")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, site_id FROM reschedule_requests")).all()
    assert {rid: sites[site_id] for rid, site_id in rows} == requests


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_request_cannot_name_another_site_than_its_participants(backend, app, db, make_participant):
    request = _ask(db, make_participant(site="BJ"))
    other = db.scalar(select(Site.id).where(Site.code == "SH"))
    request.site_id = other
    with pytest.raises(IntegrityError):
        db.commit()


@pytest.mark.postgres
def test_a_request_from_the_previous_release_gets_its_participants_site(app, db, make_participant):
    """While hosts roll to this release, the previous one inserts requests without a site."""
    person = make_participant(site="SH")
    visit_id = db.scalar(select(Visit.id).where(Visit.participant_id == person.id).limit(1))
    with app.extensions["engine"].begin() as conn:
        request_id = conn.execute(text(
            "INSERT INTO reschedule_requests (participant_id, visit_id, proposed_date_1, note, status, created_at,"
            " response_message) VALUES (:p, :v, :d, '', 'pending', :now, '') RETURNING id"),
            {"p": person.id, "v": visit_id, "d": NOW.date(), "now": NOW}).scalar_one()  # fmt: skip
    assert db.get(RescheduleRequest, request_id).site_id == person.site_id
