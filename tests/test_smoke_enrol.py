from sqlalchemy import select

from portal.models import Visit


def test_enrolled_participant_gets_protocol_visits(db, make_participant):
    participant = make_participant(arm="control")
    visits = db.scalars(select(Visit).where(Visit.participant_id == participant.id)).all()
    assert len(visits) == 17
    assert not any(v.is_infusion for v in visits)
