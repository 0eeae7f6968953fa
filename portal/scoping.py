"""Site scoping for the study team, in the data layer (DESIGN.md invariant 1).

Every staff query goes through these helpers: an object outside the viewer's sites is
indistinguishable from one that does not exist (the views turn ``NotInScope`` into a 404).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from .models import (
    OutboxMessage,
    Participant,
    RescheduleRequest,
    ResultPanel,
    Site,
    StaffUser,
    Visit,
)


class NotInScope(LookupError):
    """Not found, or not in the viewer's sites: the same answer either way."""


def allowed_site_ids(session: Session, staff: StaffUser) -> set[int]:
    """Admins see every site; everyone else their own."""
    if staff.role == "admin":
        return set(session.scalars(select(Site.id)))
    return staff.site_ids


def allowed_sites(session: Session, staff: StaffUser) -> list[Site]:
    """The viewer's sites by code: every site for admins; for others the ones loaded with them."""
    if staff.role == "admin":
        return list(session.scalars(select(Site).order_by(Site.code)))
    return sorted(staff.sites, key=lambda site: site.code)


def participants_query(session: Session, staff: StaffUser) -> Select[Any]:
    return select(Participant).where(Participant.site_id.in_(allowed_site_ids(session, staff)))


def _one(session: Session, query: Select[Any]) -> Any:
    found = session.scalars(query).unique().one_or_none()
    if found is None:
        raise NotInScope
    return found


def get_participant(session: Session, staff: StaffUser, participant_id: int) -> Participant:
    return _one(
        session,
        participants_query(session, staff)
        .where(Participant.id == participant_id)
        .options(joinedload(Participant.site), joinedload(Participant.arm)),
    )


def get_visit(session: Session, staff: StaffUser, visit_id: int) -> Visit:
    return _one(
        session,
        select(Visit)
        .join(Participant, Visit.participant_id == Participant.id)
        .where(Visit.id == visit_id, Participant.site_id.in_(allowed_site_ids(session, staff)))
        .options(joinedload(Visit.participant).joinedload(Participant.site), joinedload(Visit.definition)),
    )


def get_reschedule_request(session: Session, staff: StaffUser, request_id: int) -> RescheduleRequest:
    return _one(
        session,
        select(RescheduleRequest)
        .join(Participant, RescheduleRequest.participant_id == Participant.id)
        .where(RescheduleRequest.id == request_id, Participant.site_id.in_(allowed_site_ids(session, staff)))
        .options(joinedload(RescheduleRequest.visit), joinedload(RescheduleRequest.participant)),
    )


def get_message(session: Session, staff: StaffUser, message_id: int) -> OutboxMessage:
    return _one(
        session,
        select(OutboxMessage)
        .join(Participant, OutboxMessage.participant_id == Participant.id)
        .where(OutboxMessage.id == message_id, Participant.site_id.in_(allowed_site_ids(session, staff))),
    )


def get_panel(session: Session, staff: StaffUser, panel_id: int) -> ResultPanel:
    return _one(
        session,
        select(ResultPanel)
        .join(Participant, ResultPanel.participant_id == Participant.id)
        .where(ResultPanel.id == panel_id, Participant.site_id.in_(allowed_site_ids(session, staff)))
        .options(joinedload(ResultPanel.values), joinedload(ResultPanel.participant), joinedload(ResultPanel.visit)),
    )
