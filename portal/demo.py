"""Demo data: two sites, twenty participants at every stage, staff, consents, released results.

Dates are relative to today (site-local), so the demo always has something due this week.
Running it twice changes nothing.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import schedule
from .analytes import BY_CODE
from .audit import Actor
from .models import (
    ConsentDocument,
    ConsentRecord,
    ConsentVersion,
    Participant,
    ResultPanel,
    ResultValue,
    Site,
    StaffUser,
    Study,
    Visit,
)
from .participants import EnrolmentData, enrol_participant, set_sms_opt_out
from .protocol import load_protocol
from .results_entry import release_panel, rescore
from .staff_accounts import upsert_staff
from .studies import apply_protocol

DEMO_ACTOR = Actor(type="system", role="demo")
DEMO_PASSWORD = "demo-Passw0rd-2026!"  # noqa: S105 - printed for the demo; never a fallback secret
DEMO_STAFF = (
    ("admin@demo.example", "演示管理员 Demo Admin", "admin", ()),
    ("coord.bj@demo.example", "王护士 Nurse Wang (BJ)", "coordinator", ("BJ",)),
    ("coord.sh@demo.example", "李护士 Nurse Li (SH)", "coordinator", ("SH",)),
    ("inv.bj@demo.example", "张医生 Dr Zhang (BJ)", "investigator", ("BJ",)),
    ("inv.sh@demo.example", "陈医生 Dr Chen (SH)", "investigator", ("SH",)),
)


@dataclass(frozen=True)
class DemoPerson:
    name: str
    site: str
    arm: str
    day0_offset: int  # days from today; negative = enrolled in the past
    locale: str = "zh_Hans_CN"
    special: str = ""  # withdrawn | opted_out | missed


DEMO_PEOPLE = (
    DemoPerson("王建国", "BJ", "ucmsc", 2),
    DemoPerson("李秀英", "BJ", "control", -1),
    DemoPerson("张伟", "BJ", "ucmsc", -27),
    DemoPerson("David Chen 陈大卫", "BJ", "ucmsc", -50, locale="en"),
    DemoPerson("刘洋", "BJ", "control", -80),
    DemoPerson("陈静", "BJ", "ucmsc", -160, special="missed"),
    DemoPerson("杨明", "BJ", "control", -330),
    DemoPerson("赵丽华", "BJ", "ucmsc", -700),
    DemoPerson("黄志强", "BJ", "control", -120, special="withdrawn"),
    DemoPerson("周敏", "BJ", "ucmsc", -245, special="opted_out"),
    DemoPerson("吴海燕", "SH", "control", 3),
    DemoPerson("徐国平", "SH", "ucmsc", -2),
    DemoPerson("孙玉兰", "SH", "ucmsc", -29),
    DemoPerson("Mary Wong 黄美玲", "SH", "control", -55, locale="en"),
    DemoPerson("马晓东", "SH", "ucmsc", -83),
    DemoPerson("朱桂芳", "SH", "control", -165),
    DemoPerson("胡建华", "SH", "ucmsc", -334),
    DemoPerson("郭淑珍", "SH", "control", -905),
    DemoPerson("林志明", "SH", "ucmsc", -60, special="withdrawn"),
    DemoPerson("何丽", "SH", "control", -100, special="opted_out"),
)


def demo_phone(index: int) -> str:
    return f"+86139000000{index:02d}"


def seed_demo(session: Session, now: datetime, consent_dir: Path) -> list[str]:
    """Load the default protocol and the demo cohort; returns what it did, line by line."""
    spec = load_protocol()
    study, _ = apply_protocol(session, spec, DEMO_ACTOR, today=now.date())
    lines = [f"protocol {study.code} {study.protocol_version} loaded"]
    existing_staff = set(session.scalars(select(StaffUser.email)))
    for email, name, role, sites in DEMO_STAFF:
        if email in existing_staff:
            lines.append(f"staff {email} ({role}) already there")
            continue
        upsert_staff(session, email, name, role, sites, DEMO_PASSWORD, DEMO_ACTOR)
        lines.append(f"staff {email} ({role}) created")
    versions = _seed_consents(session, study, consent_dir)
    if session.scalar(select(Participant.id).where(Participant.study_id == study.id).limit(1)):
        lines.append("demo participants already present: nothing added")
        return lines + _sign_in_help(session, study)
    sites = {s.code: s for s in session.scalars(select(Site).where(Site.study_id == study.id))}
    rng = random.Random(302)  # noqa: S311 - demo values, not secrets
    for index, person in enumerate(DEMO_PEOPLE, start=1):
        _seed_person(session, study, sites[person.site], person, index, now, versions, rng)
    lines.append(f"{len(DEMO_PEOPLE)} demo participants enrolled with visits, consents and results")
    lines += _seed_requests_and_messages(session, study, now)
    return lines + _sign_in_help(session, study)


# (study code, what they ask): one date-change request, one portal message, one SMS reply per site.
DEMO_REQUESTS = ("BJ-0003", "SH-0004")
DEMO_PORTAL_MESSAGES = (
    ("BJ-0005", "medicines", "请问输注前可以照常吃我的降压药吗？"),
    ("SH-0004", "visit", "Can my daughter come with me to the next visit?"),
)
DEMO_SMS_REPLIES = (("BJ-0007", "下周二上午我要去外地，能不能改到下午？"), ("SH-0005", "收到，谢谢医生"))


def _seed_requests_and_messages(session: Session, study: Study, now: datetime) -> list[str]:
    from .inbound import handle_inbound
    from .patient_requests import request_new_date
    from .portal_messages import send_portal_message

    people = {
        p.study_code: p for p in session.scalars(select(Participant).where(Participant.study_id == study.id))
    }
    for code in DEMO_REQUESTS:
        participant = people[code]
        visit = session.scalars(
            select(Visit)
            .where(Visit.participant_id == participant.id, Visit.status == "scheduled")
            .order_by(Visit.target_date)
        ).first()
        if visit is None:
            continue
        today = _today(participant.site, now)
        dates = [d for d in (visit.window_end, visit.window_end - timedelta(days=1)) if d > today]
        if dates:
            actor = Actor(type="participant", id=participant.id, role="demo")
            zh = participant.preferred_locale.startswith("zh")
            note = "家里有事，想晚两天来。" if zh else "Family matter: could I come two days later?"
            request_new_date(session, participant, visit, dates, note, actor, today, now)
    for code, topic, body in DEMO_PORTAL_MESSAGES:
        participant = people[code]
        send_portal_message(session, participant, body, topic, Actor(type="participant", id=participant.id), now)
    for number, (code, body) in enumerate(DEMO_SMS_REPLIES, start=1):
        participant = people[code]
        handle_inbound(session, sender=participant.phone_e164, to="+10000000000", body=body,
                       provider_sid=f"SMdemo{number:026d}", now=now, actor=DEMO_ACTOR)  # fmt: skip
    released = _release_latest_panels(session, study, now)
    return [
        "date-change requests, portal messages and SMS replies added for the worklist and inbox",
        f"results just released for {released} participant(s): their neutral SMS is due now",
    ]


def _release_latest_panels(session: Session, study: Study, now: datetime) -> int:
    """One unreleased panel per site released by that site's investigator, as on a real morning."""
    released = 0
    for site in session.scalars(select(Site).where(Site.study_id == study.id)):
        investigator = next(
            (s for s in session.scalars(select(StaffUser).where(StaffUser.role == "investigator")) if site in s.sites),
            None,
        )
        panel = session.scalars(
            select(ResultPanel)
            .join(Participant)
            .where(Participant.site_id == site.id, Participant.status == "active", ~Participant.sms_opt_out,
                   ResultPanel.released_at.is_(None))
            .order_by(ResultPanel.id)
        ).first()  # fmt: skip
        if investigator is None or panel is None:
            continue
        actor = Actor(type="staff", id=investigator.id, role="investigator")
        release_panel(session, panel, investigator, actor, notify=True, now=now)
        released += 1
    return released


def _today(site: Site, now: datetime) -> date:
    return now.astimezone(ZoneInfo(site.timezone)).date()


def _seed_person(
    session: Session,
    study: Study,
    site: Site,
    person: DemoPerson,
    index: int,
    now: datetime,
    versions: dict[str, list[ConsentVersion]],
    rng: random.Random,
) -> None:
    today = _today(site, now)
    same_site = sum(1 for p in DEMO_PEOPLE[:index] if p.site == person.site)
    data = EnrolmentData(
        study_code=f"{person.site}-{same_site:04d}",
        full_name=person.name,
        phone=demo_phone(index),
        site_code=person.site,
        arm_code=person.arm,
        day0=today + timedelta(days=person.day0_offset),
        preferred_locale=person.locale,
    )
    participant = enrol_participant(session, study, data, DEMO_ACTOR, now=now)
    _sign_consents(session, participant, versions, rng, today)
    visits = session.scalars(
        select(Visit).where(Visit.participant_id == participant.id).order_by(Visit.target_date)
    ).all()
    _play_visits(session, participant, list(visits), person, today, now, rng)
    if person.special == "withdrawn":
        schedule.end_participation(
            session, participant, "withdrawn", today - timedelta(days=10),
            "Moved to another city; follow-up by phone only", DEMO_ACTOR, now=now,
        )  # fmt: skip
    elif person.special == "opted_out":
        set_sms_opt_out(session, participant, True, "sms", DEMO_ACTOR, now - timedelta(days=20))


def _play_visits(
    session: Session,
    participant: Participant,
    visits: list[Visit],
    person: DemoPerson,
    today: date,
    now: datetime,
    rng: random.Random,
) -> None:
    """Past visits completed (one missed where asked) with results; the next ones booked."""
    site_time = time.fromisoformat(participant.site.default_visit_time)
    past = [v for v in visits if v.window_end < today or v.target_date < today]
    for number, visit in enumerate(past):
        if person.special == "missed" and number == len(past) - 1:
            schedule.set_visit_status(session, visit, "missed", DEMO_ACTOR, now=now)
            continue
        schedule.complete_visit(session, visit, visit.target_date, DEMO_ACTOR, now=now)
        released = number < len(past) - 1 or rng.random() < 0.5
        _add_results(session, participant, visit, number, released, now, rng)
    for visit in visits:
        if visit.is_open and visit.window_end >= today and visit.target_date <= today + timedelta(days=21):
            day = max(visit.target_date, today + timedelta(days=1))
            if day <= visit.window_end:
                schedule.schedule_visit(session, visit, day, site_time, DEMO_ACTOR, now=now)


def _add_results(
    session: Session,
    participant: Participant,
    visit: Visit,
    number: int,
    released: bool,
    now: datetime,
    rng: random.Random,
) -> None:
    """Plausible decompensated-cirrhosis values that improve slowly over the visits."""
    better = min(number, 6) * (0.06 if participant.arm.code == "ucmsc" else 0.03)
    base = {
        "ALT": 68, "AST": 82, "TBIL": 52, "ALB": 29, "PTA": 55, "INR": 1.6,
        "CREA": 88, "NA": 134, "PLT": 68, "CHE": 2900, "AFP": 6.5,
    }  # fmt: skip
    improves_up = {"ALB", "PTA", "NA", "PLT", "CHE"}
    panel = ResultPanel(
        participant_id=participant.id,
        visit_id=visit.id,
        collected_on=visit.actual_date or visit.target_date,
        ascites_grade=2 if number < 2 else 1,
        encephalopathy_grade=1,
        released_at=now - timedelta(days=1) if released else None,
    )
    for code, value in base.items():
        drift = value * better * (1 if code in improves_up else -1) * 0.5
        noise = value * rng.uniform(-0.04, 0.04)
        analyte = BY_CODE[code]
        panel.values.append(
            ResultValue(
                analyte=code,
                value=round(value + drift + noise, analyte.decimals),
                unit=analyte.unit,
                ref_low=analyte.ref_low,
                ref_high=analyte.ref_high,
            )
        )
    rescore(panel)
    session.add(panel)


def _seed_consents(session: Session, study: Study, consent_dir: Path) -> dict[str, list[ConsentVersion]]:
    """Main consent form v1.0 and v1.1 (v1.1 asks for re-consent), each in zh and en."""
    document = session.scalar(select(ConsentDocument).where(ConsentDocument.study_id == study.id))
    if document is None:
        document = ConsentDocument(
            study_id=study.id, code="ICF", title_zh="知情同意书", title_en="Consent form"
        )
        session.add(document)
        session.flush()
    by_label: dict[str, list[ConsentVersion]] = {}
    for label, effective, reconsent in (("v1.0", date(2025, 6, 1), False), ("v1.1", date(2026, 10, 8), True)):
        for locale in ("zh_Hans_CN", "en"):
            version = session.scalar(
                select(ConsentVersion).where(
                    ConsentVersion.document_id == document.id,
                    ConsentVersion.label == label,
                    ConsentVersion.locale == locale,
                )
            )
            if version is None:
                version = _new_version(document, label, locale, effective, reconsent, consent_dir)
                session.add(version)
            by_label.setdefault(label, []).append(version)
    session.flush()
    return by_label


def _new_version(
    document: ConsentDocument, label: str, locale: str, effective: date, reconsent: bool, consent_dir: Path
) -> ConsentVersion:
    pdf = demo_consent_pdf(label, locale)
    digest = hashlib.sha256(pdf).hexdigest()
    consent_dir.mkdir(parents=True, exist_ok=True)
    (consent_dir / f"{digest}.pdf").write_bytes(pdf)
    return ConsentVersion(
        document_id=document.id,
        label=label,
        locale=locale,
        effective_date=effective,
        file_path=f"{digest}.pdf",
        file_sha256=digest,
        file_size=len(pdf),
        requires_reconsent=reconsent,
        published_at=datetime.combine(effective, time(9), tzinfo=UTC),
    )


def _sign_consents(
    session: Session, participant: Participant, versions: dict[str, list[ConsentVersion]], rng: random.Random,
    today: date,
) -> None:
    """Everyone signed v1.0 at day 0 (or v1.1 if enrolled after it); some re-signed v1.1. Nobody
    signed later than today: a participant whose first visit is still to come was enrolled, and
    so consented, already."""
    newest = versions["v1.1"][0].effective_date
    enrolled_after = participant.day0 >= newest
    labels = ["v1.1"] if enrolled_after else ["v1.0"] + (["v1.1"] if rng.random() < 0.5 else [])
    for label in labels:
        version = next(v for v in versions[label] if v.locale == participant.preferred_locale)
        signed = participant.day0 if label == "v1.0" or enrolled_after else newest + timedelta(days=14)
        session.add(ConsentRecord(participant_id=participant.id, version_id=version.id, signed_on=min(signed, today)))


def demo_consent_pdf(label: str, locale: str) -> bytes:
    """A short, readable demo consent form (reportlab, with a built-in CJK font for Chinese)."""
    from io import BytesIO

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    zh = locale.startswith("zh")
    font = "STSong-Light" if zh else "Helvetica"
    if zh:
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    lines = _consent_lines(label, zh)
    buffer = BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    pdf.setTitle(lines[0])
    y = A4[1] - 72
    for number, line in enumerate(lines):
        pdf.setFont(font, 16 if number == 0 else 11)
        pdf.drawString(60, y, line)
        y -= 28 if number == 0 else 18
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _consent_lines(label: str, zh: bool) -> list[str]:
    if zh:
        return [
            f"知情同意书（{label}，演示文件）",
            "研究名称：间充质干细胞治疗失代偿期肝硬化（NCT03945487）",
            "申办方：解放军总医院第五医学中心（北京302医院）",
            "参加本研究完全自愿，您可以随时退出，不会影响您的常规治疗。",
            "研究期间您需要按计划回医院随访、抽血和做B超检查。",
            "您的个人信息会被保密，只有研究团队可以查看。",
            "您签署的纸质知情同意书为正式法律文件；本电子版仅供查阅。",
            "如有疑问，请联系您的研究团队。如遇紧急情况，请拨打 120。",
        ]
    return [
        f"Consent form ({label}, demo document)",
        "Study: Mesenchymal Stem Cells Treatment for Decompensated Liver Cirrhosis (NCT03945487)",
        "Sponsor: Beijing 302 Hospital (Fifth Medical Center of the PLA General Hospital)",
        "Taking part is voluntary. You may leave at any time; your usual care will not change.",
        "During the study you will come back for planned visits, blood tests and ultrasound scans.",
        "Your personal information is kept private and seen only by the study team.",
        "The signed paper form is the legal record; this copy is for reading only.",
        "If you have questions, contact your study team. In an emergency call 120.",
    ]


def _sign_in_help(session: Session, study: Study) -> list[str]:
    rows = session.execute(
        select(Participant.study_code, Participant.phone_e164, Participant.preferred_locale, Participant.status)
        .where(Participant.study_id == study.id)
        .order_by(Participant.id)
        .limit(4)
    ).all()
    lines = ["", "Sign in as a participant at http://127.0.0.1:5000/ with one of these phone numbers;"]
    lines.append("the 6-digit code comes by SMS (SMS_BACKEND=console, the default, prints it in this terminal):")
    lines += [f"  {code}  {phone[3:6]} {phone[6:10]} {phone[10:]}  ({locale}, {status})" for code, phone, locale, status
              in rows]  # fmt: skip
    staff = session.scalars(select(StaffUser.email).order_by(StaffUser.id)).all()
    lines.append(f"Study team console: http://127.0.0.1:5000/staff/  password for every demo account: {DEMO_PASSWORD}")
    lines += [f"  {email}" for email in staff]
    return lines
