"""A synthetic cohort at every stage, written with set-based bulk inserts.

The per-participant domain path (``enrol_participant`` → schedule → audit) is right for one
person and far too slow for 10,000: here every table is filled with multi-row INSERTs in chunks
of 1,000 participants, with ids assigned in Python so related rows can point at each other
without a round trip. The study itself (sites, arms, visit definitions, reminder rules) is loaded
through the real ``apply_protocol``; three extra sites are copied from the first to make five.

    python -m bench.cohort --participants 10000 --database-url postgresql+psycopg://…
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, func, insert, select, text
from sqlalchemy.orm import Session

from portal import migrate
from portal.analytes import BY_CODE
from portal.audit import SYSTEM
from portal.config import load_settings
from portal.db import make_engine
from portal.models import (
    Arm,
    AuditEvent,
    ConsentDocument,
    ConsentRecord,
    ConsentVersion,
    OutboxMessage,
    Participant,
    ReminderPlanEntry,
    RescheduleRequest,
    ResultPanel,
    ResultValue,
    Site,
    StaffUser,
    Study,
    Visit,
    VisitDefinition,
    VisitDefinitionArm,
    staff_sites,
)
from portal.passwords import hash_password
from portal.protocol import load_protocol
from portal.studies import apply_protocol

CHUNK = 1000
SITES = 5
STAFF_PASSWORD = "bench-password-not-for-production-1"  # noqa: S105 - synthetic accounts on a throw-away database
# Share of participants per stage; "opted_out" are active participants who stopped SMS.
STAGES = (("just_enrolled", 0.10), ("infusions", 0.15), ("follow_up", 0.30), ("long_term", 0.30),
          ("withdrawn", 0.07), ("opted_out", 0.08))  # fmt: skip
DAY0_AGO = {"just_enrolled": (0, 6), "infusions": (20, 70), "follow_up": (90, 330), "long_term": (400, 2000),
            "withdrawn": (60, 900), "opted_out": (30, 900)}  # fmt: skip
BASE_VALUES = {"ALT": 68, "AST": 82, "TBIL": 52, "ALB": 29, "PTA": 55, "INR": 1.6, "CREA": 88, "NA": 134,
               "PLT": 68, "CHE": 2900, "AFP": 6.5}  # fmt: skip


@dataclass
class StudyShape:
    study_id: int
    site_ids: list[int]
    arm_ids: dict[str, int]
    definitions: list[tuple[int, str, int, int, int]]  # id, kind, offset, before, after
    arm_links: dict[tuple[int, int], bool]  # (definition, arm) → infusion
    consent_versions: dict[str, int]  # locale → version id
    tz: ZoneInfo


@dataclass
class Ids:
    """Next free id per table, read once; bulk rows carry explicit ids."""

    next: dict[str, int] = field(default_factory=dict)

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


@dataclass
class CohortReport:
    participants: int
    rows: dict[str, int]
    seconds: float
    database_url: str


def progress(done: int, total: int, started: float, label: str = "participants") -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    rate = done / max(time.perf_counter() - started, 1e-6)
    sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label} ({rate:,.0f}/s)")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


# --- study ------------------------------------------------------------------------------------


def _load_study(session: Session, today: date) -> StudyShape:
    study, _ = apply_protocol(session, load_protocol(), SYSTEM, today=today)
    session.flush()
    sites = list(study.sites)
    for n in range(len(sites) + 1, SITES + 1):
        model = sites[0]
        extra = Site(study_id=study.id, code=f"S{n}", name_zh=f"第{n}研究中心", name_en=f"Centre {n}",
                     sms_name_zh=f"中心{n}", sms_name_en=f"Centre {n}", city_zh=model.city_zh, city_en=model.city_en,
                     address_zh=model.address_zh, address_en=model.address_en, phone=model.phone,
                     hours_zh=model.hours_zh, hours_en=model.hours_en, timezone=model.timezone)  # fmt: skip
        session.add(extra)
        sites.append(extra)
    document = ConsentDocument(study_id=study.id, code="ICF", title_zh="知情同意书", title_en="Consent form")
    session.add(document)
    session.flush()
    versions = {}
    for locale in ("zh_Hans_CN", "en"):
        version = ConsentVersion(document_id=document.id, label="v1.0", locale=locale, effective_date=date(2025, 1, 1),
                                 file_path=f"bench-{locale}.pdf", file_sha256=f"{'0' if locale == 'en' else '1'}" * 64,
                                 file_size=1, published_at=datetime(2025, 1, 1, tzinfo=UTC))  # fmt: skip
        session.add(version)
        session.flush()
        versions[locale] = version.id
    defs = session.scalars(select(VisitDefinition).where(VisitDefinition.study_id == study.id)
                           .order_by(VisitDefinition.sequence)).all()  # fmt: skip
    links = session.execute(select(VisitDefinitionArm.definition_id, VisitDefinitionArm.arm_id,
                                   VisitDefinitionArm.infusion)).all()  # fmt: skip
    arms = {a.code: a.id for a in session.scalars(select(Arm).where(Arm.study_id == study.id))}
    return StudyShape(
        study_id=study.id, site_ids=[s.id for s in sites], arm_ids=arms,
        definitions=[(d.id, d.kind, d.day_offset, d.window_before, d.window_after) for d in defs],
        arm_links={(d, a): bool(inf) for d, a, inf in links}, consent_versions=versions,
        tz=ZoneInfo(sites[0].timezone),
    )  # fmt: skip


def _staff(session: Session, shape: StudyShape) -> None:
    password = hash_password(STAFF_PASSWORD)
    admin = StaffUser(email="admin@bench.invalid", full_name="Bench Admin", role="admin", password_hash=password,
                      preferred_locale="en")  # fmt: skip
    session.add(admin)
    for n, site_id in enumerate(shape.site_ids, start=1):
        coordinator = StaffUser(email=f"coordinator{n}@bench.invalid", full_name=f"Coordinator {n}",
                                role="coordinator", password_hash=password, preferred_locale="zh_Hans_CN")  # fmt: skip
        session.add(coordinator)
        session.flush()
        session.execute(insert(staff_sites).values(staff_id=coordinator.id, site_id=site_id))


# --- one chunk of participants ------------------------------------------------------------------


@dataclass
class Rows:
    by_table: dict[Table, list[dict[str, object]]] = field(default_factory=dict)

    def add(self, table: Table, row: dict[str, object]) -> None:
        self.by_table.setdefault(table, []).append(row)


def _stage(rng: random.Random) -> str:
    pick = rng.random()
    for name, share in STAGES:
        if pick < share:
            return name
        pick -= share
    return STAGES[-1][0]


def _local_utc(day: date, tz: ZoneInfo, at: dtime = dtime(8, 0)) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _participant_rows(rows: Rows, ids: Ids, shape: StudyShape, n: int, today: date, now: datetime,
                      rng: random.Random) -> None:  # fmt: skip
    pid = ids.take("participants")
    stage = _stage(rng)
    arm_code = "ucmsc" if n % 2 else "control"
    arm_id = shape.arm_ids[arm_code]
    site_id = shape.site_ids[n % len(shape.site_ids)]
    low, high = DAY0_AGO[stage]
    day0 = today - timedelta(days=rng.randint(low, high))
    locale = "en" if n % 7 == 0 else "zh_Hans_CN"
    withdrawn_on = day0 + timedelta(days=rng.randint(30, 50)) if stage == "withdrawn" else None
    opted_out = stage == "opted_out"
    created = _local_utc(day0 - timedelta(days=3), shape.tz)
    rows.add(Participant.__table__, {
        "id": pid, "study_id": shape.study_id, "site_id": site_id, "arm_id": arm_id,
        "study_code": f"B{site_id}-{n:05d}", "full_name": f"参与者{n:05d}", "phone_e164": f"+86138{n:08d}",
        "preferred_locale": locale, "day0": day0, "status": "withdrawn" if withdrawn_on else "active",
        "status_reason": "personal reasons" if withdrawn_on else "", "status_date": withdrawn_on,
        "sms_opt_out": opted_out, "sms_opt_out_at": now - timedelta(days=9) if opted_out else None,
        "sms_opt_out_channel": "sms" if opted_out else None, "created_at": created, "updated_at": created,
    })  # fmt: skip
    rows.add(ConsentRecord.__table__, {"id": ids.take("consent_records"), "participant_id": pid,
             "version_id": shape.consent_versions[locale], "signed_on": day0 - timedelta(days=3),
             "recorded_at": created})  # fmt: skip
    _audit(rows, ids, pid, site_id, "participant.enrol", created)
    _message(rows, ids, pid, n, "sign_in_code", "您的登录验证码已发送。", now - timedelta(days=rng.randint(1, 60)))
    if stage == "opted_out":
        _message(rows, ids, pid, n, "inbound", "退订", now - timedelta(days=9), direction="in")
    elif n % 50 == 0:
        _message(rows, ids, pid, n, "inbound", "请问下次来需要空腹吗？", now - timedelta(hours=rng.randint(1, 72)),
                 direction="in", handled=False)  # fmt: skip
    _visit_rows(rows, ids, shape, pid, n, site_id, arm_id, day0, withdrawn_on, today, now, rng)


def _audit(rows: Rows, ids: Ids, pid: int, site_id: int, action: str, at: datetime) -> None:
    rows.add(AuditEvent.__table__, {"id": ids.take("audit_events"), "occurred_at": at, "actor_type": "system",
             "actor_id": None, "actor_role": "bench", "site_id": site_id, "participant_id": pid, "action": action,
             "object_type": "participant", "object_id": str(pid)})  # fmt: skip


def _message(rows: Rows, ids: Ids, pid: int, n: int, kind: str, body: str, at: datetime, *, direction: str = "out",
             handled: bool = True) -> int:  # fmt: skip
    mid = ids.take("outbox_messages")
    inbound = direction == "in"
    rows.add(OutboxMessage.__table__, {
        "id": mid, "direction": direction, "participant_id": pid, "to_number": "+10000000000" if inbound else
        f"+86138{n:08d}", "from_number": f"+86138{n:08d}" if inbound else "+10000000000", "kind": kind, "body": body,
        "due_at": at, "status": "received" if inbound else "delivered", "attempts": 0 if inbound else 1,
        "provider_id": f"SMbench{mid:010d}", "segments": 1, "created_at": at, "sent_at": None if inbound else at,
        "delivered_at": None if inbound else at + timedelta(seconds=5), "status_updated_at": at,
        "handled_at": at if inbound and handled else None,
    })  # fmt: skip
    return mid


def _visit_rows(rows: Rows, ids: Ids, shape: StudyShape, pid: int, n: int, site_id: int, arm_id: int, day0: date,
                withdrawn_on: date | None, today: date, now: datetime, rng: random.Random) -> None:  # fmt: skip
    booked = False
    completed = 0
    for def_id, _kind, offset, before, after in shape.definitions:
        if (def_id, arm_id) not in shape.arm_links:
            continue
        vid = ids.take("visits")
        target = day0 + timedelta(days=offset)
        status, actual, scheduled_at = "planned", None, None
        if withdrawn_on is not None and target >= withdrawn_on:
            status = "cancelled"
        elif target + timedelta(days=after) < today:
            status = "missed" if rng.random() < 0.06 else "completed"
            actual = target if status == "completed" else None
            scheduled_at = _local_utc(target, shape.tz)
        elif not booked:
            booked = True
            status = "confirmed" if rng.random() < 0.3 else "scheduled"
            scheduled_at = _local_utc(max(target, today + timedelta(days=1)), shape.tz)
            target = max(target, min(today + timedelta(days=1), target + timedelta(days=after)))
        rows.add(Visit.__table__, {
            "id": vid, "participant_id": pid, "site_id": site_id, "definition_id": def_id,
            "is_infusion": shape.arm_links[(def_id, arm_id)],
            "target_date": target, "window_start": min(target, day0 + timedelta(days=offset - before)),
            "window_end": max(target, day0 + timedelta(days=offset + after)), "scheduled_at": scheduled_at,
            "actual_date": actual, "status": status, "updated_at": now,
        })  # fmt: skip
        if status == "completed":
            completed += 1
            _completed_visit(rows, ids, pid, n, site_id, vid, target, completed, now, rng)
        # one participant in 41 asks for another date: 41 is prime, so they fall at every site
        # and in both arms (n also picks the site and the arm; with 40 they were all at one site)
        if status in ("scheduled", "confirmed") and n % 41 == 0:
            rows.add(RescheduleRequest.__table__, {"id": ids.take("reschedule_requests"), "participant_id": pid,
                     "site_id": site_id, "visit_id": vid, "proposed_date_1": target + timedelta(days=2),
                     "status": "pending", "created_at": now - timedelta(hours=3)})  # fmt: skip


def _completed_visit(rows: Rows, ids: Ids, pid: int, n: int, site_id: int, vid: int, on: date, number: int,
                     now: datetime, rng: random.Random) -> None:  # fmt: skip
    at = datetime.combine(on - timedelta(days=1), dtime(10, 0), tzinfo=UTC)
    mid = _message(rows, ids, pid, n, "reminder", "明天08:00请到研究中心复诊。回复1确认。", at)
    rows.add(ReminderPlanEntry.__table__, {"id": ids.take("reminder_plan_entries"), "visit_id": vid,
             "rule_code": "day_before", "message_id": mid, "planned_for": at, "status": "sent", "reason": "",
             "updated_at": at})  # fmt: skip
    panel_id = ids.take("result_panels")
    released = datetime.combine(on + timedelta(days=3), dtime(9, 0), tzinfo=UTC)
    rows.add(ResultPanel.__table__, {"id": panel_id, "participant_id": pid, "visit_id": vid, "collected_on": on,
             "ascites_grade": 2 if number < 2 else 1, "encephalopathy_grade": 1, "on_dialysis": False,
             "meld": round(rng.uniform(12, 22), 1), "entered_at": released, "released_at": released
             if released < now else None})  # fmt: skip
    better = min(number, 6) * 0.04
    for code, value in BASE_VALUES.items():
        analyte = BY_CODE[code]
        sign = 1 if code in ("ALB", "PTA", "NA", "PLT", "CHE") else -1
        rows.add(ResultValue.__table__, {"id": ids.take("result_values"), "panel_id": panel_id, "analyte": code,
                 "value": round(value * (1 + sign * better * 0.5 + rng.uniform(-0.04, 0.04)), analyte.decimals),
                 "unit": analyte.unit, "ref_low": analyte.ref_low, "ref_high": analyte.ref_high})  # fmt: skip
    _audit(rows, ids, pid, site_id, "visit.complete", released - timedelta(days=3))


# --- writing -----------------------------------------------------------------------------------

TABLES = (Participant.__table__, ConsentRecord.__table__, Visit.__table__, OutboxMessage.__table__,
          ReminderPlanEntry.__table__, RescheduleRequest.__table__, ResultPanel.__table__, ResultValue.__table__,
          AuditEvent.__table__)  # fmt: skip


def _next_ids(session: Session) -> Ids:
    ids = Ids()
    for table in TABLES:
        ids.next[table.name] = (session.scalar(select(func.max(table.c.id))) or 0) + 1
    return ids


def _write(session: Session, rows: Rows) -> dict[str, int]:
    written: dict[str, int] = {}
    for table in TABLES:  # parents before children
        batch = rows.by_table.get(table, [])
        if batch:
            session.execute(insert(table), batch)
            written[table.name] = len(batch)
    return written


def _reset_sequences(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        sql = f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table.name}))"  # noqa: S608, E501 - our own table names
        session.execute(text(sql))


def _chunks(total: int) -> Iterator[range]:
    for start in range(0, total, CHUNK):
        yield range(start + 1, min(start + CHUNK, total) + 1)


def generate(engine: Engine, participants: int, *, seed: int = 1, now: datetime | None = None,
             quiet: bool = False) -> CohortReport:  # fmt: skip
    """Migrate ``engine``'s empty database to head and fill it with the cohort."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    migrate.upgrade(engine)
    rng = random.Random(seed)
    totals: dict[str, int] = {}
    with Session(engine) as session:
        if session.scalar(select(func.count()).select_from(Study)):
            raise SystemExit("the database already holds a study: the cohort needs an empty database")
        shape = _load_study(session, now.astimezone(ZoneInfo("Asia/Shanghai")).date())
        _staff(session, shape)
        session.commit()
        today = now.astimezone(shape.tz).date()
        ids = _next_ids(session)
        for chunk in _chunks(participants):
            rows = Rows()
            for n in chunk:
                _participant_rows(rows, ids, shape, n, today, now, rng)
            for name, count in _write(session, rows).items():
                totals[name] = totals.get(name, 0) + count
            session.commit()
            if not quiet:
                progress(chunk[-1], participants, started)
        _reset_sequences(session)
        session.commit()
    if engine.dialect.name == "postgresql":
        # As autovacuum leaves a live database: planner statistics, and visibility maps so that
        # index-only scans (counts) need not visit the table.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    url = engine.url.render_as_string(hide_password=True)
    return CohortReport(participants, totals, time.perf_counter() - started, url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cohort", description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--database-url", required=True, help="an EMPTY database (it is migrated to head)")
    args = parser.parse_args(argv)
    engine = make_engine(load_settings(environ={}, database_url=args.database_url, secret_key="x" * 40))
    report = generate(engine, args.participants)
    engine.dispose()
    print(f"{report.participants} participants in {report.seconds:.1f}s: "
          + ", ".join(f"{k}={v}" for k, v in report.rows.items()))  # fmt: skip


if __name__ == "__main__":
    main()
