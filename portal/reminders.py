"""Reminder planning: each (visit, reminder rule) gives at most one outbox row.

The unique (visit_id, rule_code) of ``reminder_plan_entries`` is the at-most-once guarantee: an
entry links to at most one live outbox row, and a new row is only ever created after the
previous one was cancelled while still pending (a conditional UPDATE, so a worker that claimed
it meanwhile wins and the entry keeps pointing at what it sends).

Rules come from the protocol file (``ReminderRule`` rows) and are read in the site's wall time
(``Site.timezone``). Only visits with a booked time get reminders: status ``scheduled`` or
``confirmed`` (they have ``scheduled_at``). A visit still ``planned`` — a target date but no
appointment yet — gets none; booking it (``schedule.schedule_visit``) plans them.

Quiet hours: the planning functions take ``quiet_hours``. Callers holding a ``Settings`` (the
worker's plan job) pass ``settings.quiet_hours``; domain code that has none (views going through
``portal.schedule`` / ``portal.participants``) gets ``default_quiet_hours()``, parsed from the
same ``QUIET_HOURS`` environment variable and with the same rules as ``load_settings``. The
worker re-plans upcoming visits every few minutes with its settings, so both agree.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from .config import QuietHours, parse_quiet_hours
from .i18n import to_local
from .models import OutboxMessage, Participant, ReminderPlanEntry, ReminderRule, Visit
from .outbox import queue_sms
from .sms_templates import render_reminder

PLANNABLE_VISIT_STATUSES = ("scheduled", "confirmed")
# A reminder whose time passed less than this long ago still goes out (e.g. planned a minute late).
PAST_GRACE = timedelta(hours=1)
CHUNK = 500
_NO_SYNC = {"synchronize_session": False}


def default_quiet_hours() -> QuietHours:
    """QUIET_HOURS from the environment, as ``portal.config.load_settings`` reads it."""
    return parse_quiet_hours(os.environ.get("QUIET_HOURS", "") or "21:00-08:00")


def next_allowed(moment: datetime, tz: str, quiet: QuietHours) -> datetime:
    """``moment`` itself, or the end of the quiet period it falls in (site-local wall time)."""
    local = to_local(moment, tz)
    if not quiet.contains(local.time()):
        return moment
    day = local.date() if local.time() < quiet.end else local.date() + timedelta(days=1)
    return datetime.combine(day, quiet.end, tzinfo=ZoneInfo(tz)).astimezone(UTC)


@dataclass(frozen=True)
class Decision:
    """What one (visit, rule) should have: a reminder at ``at``, a recorded drop, or nothing."""

    kind: str  # "plan" | "drop" (record why) | "none" (not applicable: cancel anything pending)
    reason: str = ""
    at: datetime | None = None
    body: str = ""


def _rule_applies(rule: ReminderRule, visit: Visit) -> bool:
    if rule.visit_kinds and visit.definition.kind not in rule.visit_kinds:
        return False
    return not (rule.infusion_only and not visit.is_infusion)


def decide(rule: ReminderRule, visit: Visit, now: datetime, quiet: QuietHours) -> Decision:
    participant = visit.participant
    if not rule.active or not _rule_applies(rule, visit):
        return Decision("none", "not_applicable")
    if visit.status not in PLANNABLE_VISIT_STATUSES or visit.scheduled_at is None:
        return Decision("none", f"visit_{visit.status}")
    if not participant.can_receive_sms:
        reason = "opted_out" if participant.status == "active" else f"participant_{participant.status}"
        return Decision("none", reason)
    site = participant.site
    visit_local = to_local(visit.scheduled_at, site.timezone)
    at_time = _parse_hhmm(rule.local_time) if rule.local_time else visit_local.time()
    day: date = visit_local.date() - timedelta(days=rule.days_before)
    wanted = datetime.combine(day, at_time, tzinfo=ZoneInfo(site.timezone)).astimezone(UTC)
    at = next_allowed(wanted, site.timezone, quiet)
    if at >= visit.scheduled_at:
        return Decision("drop", "quiet_hours_after_visit" if at != wanted else "after_visit", at)
    locale = participant.preferred_locale
    body = render_reminder(rule.template, locale=locale, site_name=site.localized("sms_name", locale),
                           visit_local=visit_local.replace(tzinfo=None), fasting=visit.definition.fasting)  # fmt: skip
    if at < now - PAST_GRACE:
        return Decision("drop", "too_late", at, body)
    return Decision("plan", at=at, body=body)


def _parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _still_worth_sending(decision: Decision, entry: ReminderPlanEntry | None) -> bool:
    """A reminder that fell due during an outage, unchanged since, before its visit: keep it."""
    if decision.reason != "too_late" or entry is None or entry.message is None:
        return False
    return entry.message.status == "pending" and entry.planned_for == decision.at


def _supersede(decisions: dict[str, Decision], sent_times: Iterable[datetime], now: datetime) -> None:
    """After an outage several reminders of one visit may be due at once: only the latest goes."""
    due = [d.at for d in decisions.values() if d.kind == "plan" and d.at is not None and d.at <= now]
    latest = max([*due, *(t for t in sent_times if t <= now)], default=None)
    for code, d in list(decisions.items()):
        if d.kind == "plan" and d.at is not None and d.at <= now and d.at < (latest or d.at):
            decisions[code] = Decision("drop", "superseded", d.at)


# --- applying decisions ----------------------------------------------------------------------


def _consumed(entry: ReminderPlanEntry | None) -> bool:
    """Whether this entry's message is on its way or gone: then nothing may replace it."""
    message = entry.message if entry is not None else None
    return message is not None and message.status not in ("pending", "cancelled")


def _cancel_pending(session: Session, message: OutboxMessage, now: datetime, reason: str) -> bool:
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == "pending")
        .values(status="cancelled", status_updated_at=now, error_message=reason),
        execution_options=_NO_SYNC,
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(message)  # a worker claimed it a moment ago: it will be sent
        return False
    set_committed_value(message, "status", "cancelled")
    return True


def _update_pending(session: Session, message: OutboxMessage, values: dict[str, object]) -> bool:
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == "pending")
        .values(**values),
        execution_options=_NO_SYNC,
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(message)
        return False
    for key, value in values.items():
        set_committed_value(message, key, value)
    return True


def _apply(
    session: Session,
    visit: Visit,
    code: str,
    decision: Decision,
    entry: ReminderPlanEntry | None,
    now: datetime,
) -> None:
    if _consumed(entry):
        return
    message = entry.message if entry is not None else None
    live = message if message is not None and message.status == "pending" else None
    if decision.kind == "plan":
        _plan(session, visit, code, decision, entry, live, now)
        return
    if live is not None and not _cancel_pending(session, live, now, decision.reason):
        return
    status = "dropped" if decision.kind == "drop" else "cancelled"
    if entry is None:
        if decision.kind == "drop":
            session.add(ReminderPlanEntry(visit_id=visit.id, rule_code=code, planned_for=decision.at,
                                          status=status, reason=decision.reason))  # fmt: skip
        return
    if entry.status != status or entry.reason != decision.reason:
        entry.status, entry.reason = status, decision.reason[:200]
        if decision.at is not None:
            entry.planned_for = decision.at


def _plan(
    session: Session,
    visit: Visit,
    code: str,
    decision: Decision,
    entry: ReminderPlanEntry | None,
    live: OutboxMessage | None,
    now: datetime,
) -> None:
    participant = visit.participant
    assert decision.at is not None  # noqa: S101 - "plan" decisions always carry a time
    wanted = {"due_at": decision.at, "body": decision.body, "expires_at": visit.scheduled_at,
              "to_number": participant.phone_e164, "locale": participant.preferred_locale}  # fmt: skip
    if live is not None:
        if any(getattr(live, k) != v for k, v in wanted.items()) and not _update_pending(session, live, wanted):
            return
    else:
        live = queue_sms(session, to_number=participant.phone_e164, body=decision.body, kind="reminder",
                         locale=participant.preferred_locale, participant_id=participant.id, due_at=decision.at,
                         expires_at=visit.scheduled_at, meta={"visit_id": visit.id, "rule": code})  # fmt: skip
    if entry is None:
        session.add(ReminderPlanEntry(visit_id=visit.id, rule_code=code, message_id=live.id,
                                      planned_for=decision.at, status="planned"))  # fmt: skip
        return
    entry.message_id, entry.message = live.id, live
    entry.planned_for, entry.status, entry.reason = decision.at, "planned", ""


# --- public entry points ---------------------------------------------------------------------


def replan_visits(
    session: Session,
    visit_ids: Sequence[int],
    now: datetime | None = None,
    quiet_hours: QuietHours | None = None,
) -> None:
    """Re-plan the reminders of these visits at once: cancel stale ones, create due ones.

    Idempotent and set-based (a handful of queries per 500 visits). Flushes, never commits.
    """
    ids = sorted(set(visit_ids))
    if not ids:
        return
    now = now or datetime.now(UTC)
    quiet = quiet_hours or default_quiet_hours()
    session.flush()
    for start in range(0, len(ids), CHUNK):
        _replan_chunk(session, ids[start : start + CHUNK], now, quiet)
    session.flush()


def _replan_chunk(session: Session, ids: list[int], now: datetime, quiet: QuietHours) -> None:
    visits = session.scalars(
        select(Visit)
        .options(joinedload(Visit.participant).joinedload(Participant.site), joinedload(Visit.definition))
        .where(Visit.id.in_(ids))
    ).all()
    study_ids = {v.participant.study_id for v in visits}
    rules: dict[int, list[ReminderRule]] = defaultdict(list)
    for rule in session.scalars(select(ReminderRule).where(ReminderRule.study_id.in_(study_ids))):
        rules[rule.study_id].append(rule)
    entries: dict[tuple[int, str], ReminderPlanEntry] = {
        (e.visit_id, e.rule_code): e
        for e in session.scalars(
            select(ReminderPlanEntry)
            .options(joinedload(ReminderPlanEntry.message))
            .where(ReminderPlanEntry.visit_id.in_(ids))
        )
    }
    for visit in visits:
        study_rules = rules[visit.participant.study_id]
        decisions = {rule.code: decide(rule, visit, now, quiet) for rule in study_rules}
        for (visit_id, code), _entry in entries.items():
            if visit_id == visit.id and code not in decisions:
                decisions[code] = Decision("none", "rule_removed")
        for code, decision in decisions.items():
            if _still_worth_sending(decision, entries.get((visit.id, code))):
                decisions[code] = Decision("plan", at=decision.at, body=decision.body)
        sent = [e.planned_for for (vid, _), e in entries.items()
                if vid == visit.id and _consumed(e) and e.planned_for is not None]  # fmt: skip
        _supersede(decisions, sent, now)
        for code, decision in decisions.items():
            _apply(session, visit, code, decision, entries.get((visit.id, code)), now)


def replan_participants(
    session: Session,
    participant_ids: Sequence[int],
    now: datetime | None = None,
    quiet_hours: QuietHours | None = None,
) -> None:
    """Re-plan every reminder of these participants (opt-out, withdrawal, language change)."""
    ids = sorted(set(participant_ids))
    if not ids:
        return
    session.flush()
    pending_entry = select(ReminderPlanEntry.visit_id).where(ReminderPlanEntry.status == "planned")
    visit_ids = session.scalars(
        select(Visit.id).where(
            Visit.participant_id.in_(ids),
            or_(Visit.status.in_(PLANNABLE_VISIT_STATUSES), Visit.id.in_(pending_entry)),
        )
    ).all()
    replan_visits(session, list(visit_ids), now=now, quiet_hours=quiet_hours)


def upcoming_visit_ids(session: Session, now: datetime, horizon: timedelta) -> list[int]:
    """Booked visits in the next ``horizon`` plus those with a reminder still pending: what the
    worker's plan job re-plans (time passing, quiet hours or protocol rules changed)."""
    pending_entry = select(ReminderPlanEntry.visit_id).where(ReminderPlanEntry.status == "planned")
    return list(
        session.scalars(
            select(Visit.id).where(
                or_(
                    Visit.status.in_(PLANNABLE_VISIT_STATUSES)
                    & (Visit.scheduled_at > now)
                    & (Visit.scheduled_at <= now + horizon),
                    Visit.id.in_(pending_entry),
                )
            )
        ).all()
    )
