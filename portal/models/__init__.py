"""Every model, imported here so that metadata (and Alembic) sees the whole schema."""

from .audit import AuditEvent
from .auth import SignInChallenge
from .base import Base, utcnow
from .consent import ConsentAcknowledgement, ConsentDocument, ConsentRecord, ConsentVersion
from .enquiries import Enquiry, EnquiryNote
from .messages import OutboxMessage, ReminderPlanEntry, WorkerHeartbeat
from .news import NewsItem, NewsReceipt
from .people import Participant, ParticipantLike, SiteLike, StaffRecoveryCode, StaffUser, StudyLike, staff_sites
from .results import ResultCorrection, ResultPanel, ResultValue
from .study import Arm, ReminderRule, Site, Study, VisitDefinition, VisitDefinitionArm
from .visits import RescheduleRequest, Visit

__all__ = [
    "Arm",
    "AuditEvent",
    "Base",
    "ConsentAcknowledgement",
    "ConsentDocument",
    "ConsentRecord",
    "ConsentVersion",
    "Enquiry",
    "EnquiryNote",
    "NewsItem",
    "NewsReceipt",
    "OutboxMessage",
    "Participant",
    "ParticipantLike",
    "ReminderPlanEntry",
    "ReminderRule",
    "RescheduleRequest",
    "ResultCorrection",
    "ResultPanel",
    "ResultValue",
    "SignInChallenge",
    "Site",
    "SiteLike",
    "StaffRecoveryCode",
    "StaffUser",
    "Study",
    "StudyLike",
    "Visit",
    "VisitDefinition",
    "VisitDefinitionArm",
    "WorkerHeartbeat",
    "staff_sites",
    "utcnow",
]
