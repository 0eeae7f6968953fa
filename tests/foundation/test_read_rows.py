"""Pages read plain rows through the session's connection (portal.db.read_rows): what the same
request changed and has not flushed yet must show, as it would through Session.execute."""

from datetime import date

from sqlalchemy import select

from portal import visit_view
from portal.models import Visit


def test_a_visit_changed_earlier_in_the_request_shows_as_changed(db, make_participant):
    participant = make_participant(day0=date(2026, 11, 2))
    visit = db.scalars(select(Visit).where(Visit.participant_id == participant.id).order_by(Visit.target_date)).first()
    assert visit is not None and visit.status == "planned"
    visit.status = "missed"  # not flushed
    shown = {item.id: item.status for item in visit_view.load_visits(db, participant, "en", date(2026, 11, 20))}
    assert shown[visit.id] == "missed"
