"""Records at one site for the route tests: a participant, visits, a request, a reply, a panel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import SYSTEM
from portal.models import Enquiry, OutboxMessage, Participant, RescheduleRequest, StaffUser, Visit, VisitDefinition
from portal.patient_requests import request_new_date
from portal.results_entry import Grades, enter_panel
from portal.schedule import complete_visit

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SiteObjects:
    participant_id: int
    visit_id: int
    request_id: int
    message_id: int
    panel_id: int
    enquiry_id: int


def visit_by_code(db: Session, participant: Participant, code: str) -> Visit:
    return db.scalars(
        select(Visit).join(VisitDefinition).where(Visit.participant_id == participant.id, VisitDefinition.code == code)
    ).one()


def ask_for_another_date(db: Session, participant: Participant, now: datetime) -> RescheduleRequest:
    """The participant asks to move their second planned visit to its window's first day."""
    visit = db.scalars(select(Visit).where(Visit.participant_id == participant.id, Visit.status == "planned")
                       .order_by(Visit.target_date).offset(1).limit(1)).one()  # fmt: skip
    return request_new_date(db, participant, visit, [visit.window_start], "", SYSTEM, now.date(), now)


def build_site_objects(db: Session, participant: Participant, staff: StaffUser) -> SiteObjects:
    baseline = visit_by_code(db, participant, "BL")
    complete_visit(db, baseline, baseline.target_date, SYSTEM, now=NOW)
    panel = enter_panel(db, baseline, baseline.target_date,
                        {"TBIL": 51.3, "CREA": 132.6, "INR": 2.0, "NA": 130, "ALB": 30, "ALT": 50},
                        Grades(2, 1, False), staff, SYSTEM)  # fmt: skip
    w4 = visit_by_code(db, participant, "W4")
    request = RescheduleRequest(participant_id=participant.id, site_id=participant.site_id, visit_id=w4.id,
                                proposed_date_1=w4.window_start, proposed_date_2=w4.window_end, note="")  # fmt: skip
    inbound = OutboxMessage(direction="in", participant_id=participant.id, to_number="+8610000000",
                            from_number=participant.phone_e164, kind="inbound", body="能改到下周吗",
                            status="received")  # fmt: skip
    enquiry = Enquiry(study_id=participant.study_id, site_id=participant.site_id, full_name="王",
                      phone_e164="+8613800138000", preferred_locale="zh_Hans_CN", consent_to_contact=True)  # fmt: skip
    db.add_all([request, inbound, enquiry])
    db.commit()
    return SiteObjects(participant.id, w4.id, request.id, inbound.id, panel.id, enquiry.id)


def day(d: str) -> date:
    return date.fromisoformat(d)
