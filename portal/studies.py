"""Writing a validated protocol into the database, and reading a study back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .audit import Actor
from .models import (
    Arm,
    Participant,
    ReminderRule,
    Site,
    Study,
    Visit,
    VisitDefinition,
    VisitDefinitionArm,
)
from .models.visits import OPEN_VISIT_STATUSES
from .protocol import ProtocolError, ProtocolSpec, VisitSpec
from .schedule import build_schedule, templates_for_arm


@dataclass
class ApplyReport:
    created: bool = False
    changes: list[str] = field(default_factory=list)
    moved_visits: int = 0
    added_visits: int = 0

    def lines(self) -> list[str]:
        if self.changes == ["protocol unchanged"]:
            return ["study unchanged: the protocol file is the one already loaded"]
        head = "created study" if self.created else "updated study"
        return [head, *self.changes, f"visits moved: {self.moved_visits}", f"visits added: {self.added_visits}"]


def apply_protocol(session: Session, spec: ProtocolSpec, actor: Actor, today: date) -> tuple[Study, ApplyReport]:
    """Create or update the study from its protocol; idempotent.

    Visits that already happened (completed, missed, cancelled, or booked with a time) never
    move; only unbooked future visits follow a changed offset or window.
    """
    report = ApplyReport()
    study = session.scalar(select(Study).where(Study.code == spec.study["code"]))
    if study is None:
        study = Study(code=spec.study["code"])
        session.add(study)
        report.created = True
    if study.protocol_checksum == spec.checksum:
        report.changes.append("protocol unchanged")
        return study, report
    _update_study(study, spec)
    session.flush()
    arms = _sync_arms(session, study, spec, report)
    _sync_sites(session, study, spec, report)
    definitions = _sync_visit_definitions(session, study, spec, arms, report)
    _sync_rules(session, study, spec, report)
    session.flush()
    if not report.created:
        _realign_visits(session, study, definitions, report, today)
    audit.record(
        session, actor, "protocol.load", object_type="study", object_id=study.id,
        after={"version": study.protocol_version, "checksum": spec.checksum},
        reason="; ".join(report.lines()),
    )  # fmt: skip
    return study, report


def _update_study(study: Study, spec: ProtocolSpec) -> None:
    s = spec.study
    study.title_zh, study.title_en = s["title_zh"], s["title_en"]
    study.sponsor_zh, study.sponsor_en = s.get("sponsor_zh", ""), s.get("sponsor_en", "")
    study.protocol_version = s["protocol_version"]
    study.protocol_checksum = spec.checksum
    study.study_id_pattern = s["study_id_pattern"]
    study.content = spec.content


StudyItem = TypeVar("StudyItem", Arm, Site, VisitDefinition, ReminderRule)


def _by_code(session: Session, model: type[StudyItem], study: Study) -> dict[str, StudyItem]:
    """The study's existing rows of one kind, by their protocol code."""
    return {row.code: row for row in session.scalars(select(model).where(model.study_id == study.id))}


def _row_for(
    session: Session, existing: dict[str, StudyItem], model: type[StudyItem], study: Study, code: str,
    noun: str, report: ApplyReport,
) -> StudyItem:  # fmt: skip
    """The existing row for ``code``, or a new one added (and reported)."""
    row = existing.get(code)
    if row is None:
        row = model(study_id=study.id, code=code)
        session.add(row)
        existing[code] = row
        report.changes.append(f"{noun} {code} added")
    return row


def _sync_arms(session: Session, study: Study, spec: ProtocolSpec, report: ApplyReport) -> dict[str, Arm]:
    existing = _by_code(session, Arm, study)
    for arm_spec in spec.arms:
        arm = _row_for(session, existing, Arm, study, arm_spec.code, "arm", report)
        arm.name_zh, arm.name_en = arm_spec.name_zh, arm_spec.name_en
    session.flush()
    return existing


def _sync_sites(session: Session, study: Study, spec: ProtocolSpec, report: ApplyReport) -> None:
    existing = _by_code(session, Site, study)
    for site_spec in spec.sites:
        site = _row_for(session, existing, Site, study, site_spec.code, "site", report)
        for key, value in site_spec.values.items():
            if hasattr(Site, key):
                setattr(site, key, value)


def _sync_visit_definitions(
    session: Session, study: Study, spec: ProtocolSpec, arms: dict[str, Arm], report: ApplyReport
) -> dict[str, VisitDefinition]:
    existing = _by_code(session, VisitDefinition, study)
    removed = set(existing) - {v.code for v in spec.visits}
    if removed:
        used = session.scalars(
            select(VisitDefinition.code).join(Visit).where(VisitDefinition.code.in_(removed)).distinct()
        ).all()
        if used:
            raise ProtocolError([f"visit {code}: removed from the file but participants have it" for code in used])
        for code in removed:
            session.delete(existing.pop(code))
    for sequence, visit_spec in enumerate(spec.visits, start=1):
        definition = _row_for(session, existing, VisitDefinition, study, visit_spec.code, "visit", report)
        _fill_definition(definition, visit_spec, sequence, arms)
    return existing


def _fill_definition(definition: VisitDefinition, spec: VisitSpec, sequence: int, arms: dict[str, Arm]) -> None:
    definition.sequence = sequence
    definition.kind = spec.kind
    definition.name_zh, definition.name_en = spec.name_zh, spec.name_en
    definition.day_offset = spec.day
    definition.window_before, definition.window_after = spec.window_before, spec.window_after
    definition.procedures = list(spec.procedures)
    definition.preparation_zh, definition.preparation_en = spec.preparation_zh, spec.preparation_en
    definition.fasting = spec.fasting
    wanted = {arms[code].id: code in spec.infusion_arms for code in spec.arms}
    for link in list(definition.arm_links):
        if link.arm_id not in wanted:
            definition.arm_links.remove(link)
        else:
            link.infusion = wanted.pop(link.arm_id)
    for arm_id, infusion in wanted.items():
        definition.arm_links.append(VisitDefinitionArm(arm_id=arm_id, infusion=infusion))


def _sync_rules(session: Session, study: Study, spec: ProtocolSpec, report: ApplyReport) -> None:
    existing = _by_code(session, ReminderRule, study)
    for rule_spec in spec.reminder_rules:
        rule = existing.pop(rule_spec.code, None)
        if rule is None:
            rule = ReminderRule(study_id=study.id, code=rule_spec.code)
            session.add(rule)
            report.changes.append(f"reminder rule {rule_spec.code} added")
        rule.days_before = rule_spec.days_before
        rule.local_time = rule_spec.local_time
        rule.template = rule_spec.template
        rule.visit_kinds = list(rule_spec.visit_kinds)
        rule.infusion_only = rule_spec.infusion_only
        rule.active = True
    for rule in existing.values():  # kept for history: plan entries refer to their codes
        rule.active = False
        report.changes.append(f"reminder rule {rule.code} deactivated")


def _realign_visits(
    session: Session, study: Study, definitions: dict[str, VisitDefinition], report: ApplyReport, today: date
) -> None:
    """Move unbooked future visits to changed offsets; add newly defined visits for active participants."""
    participants = session.scalars(
        select(Participant).where(Participant.study_id == study.id, Participant.status == "active")
    ).all()
    visits_by_participant: dict[int, dict[int, Visit]] = {}
    for visit in session.scalars(
        select(Visit).join(Participant).where(Participant.study_id == study.id, Participant.status == "active")
    ):
        visits_by_participant.setdefault(visit.participant_id, {})[visit.definition_id] = visit
    templates_cache: dict[int, list] = {}
    for participant in participants:
        templates = templates_cache.setdefault(
            participant.arm_id, templates_for_arm(session, study.id, participant.arm_id)
        )
        have = visits_by_participant.get(participant.id, {})
        for planned in build_schedule(templates, participant.day0):
            visit = have.get(planned.definition_id or 0)
            if visit is None:
                if planned.window_end >= today:
                    session.add(Visit(
                        participant_id=participant.id, site_id=participant.site_id,
                        definition_id=planned.definition_id,
                        target_date=planned.target_date, window_start=planned.window_start,
                        window_end=planned.window_end, is_infusion=planned.is_infusion,
                    ))  # fmt: skip
                    report.added_visits += 1
                continue
            movable = visit.status == "planned" and visit.scheduled_at is None and visit.target_date > today
            if movable and (visit.target_date, visit.window_start, visit.window_end) != (
                planned.target_date, planned.window_start, planned.window_end,
            ):  # fmt: skip
                visit.target_date = planned.target_date
                visit.window_start, visit.window_end = planned.window_start, planned.window_end
                report.moved_visits += 1
            if visit.status in OPEN_VISIT_STATUSES and visit.target_date > today:
                visit.is_infusion = planned.is_infusion
    session.flush()
