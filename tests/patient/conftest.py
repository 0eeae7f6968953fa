"""Fixtures for the patient pages: signing in through the real code flow, demo results and consents."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import SYSTEM
from portal.models import (
    ConsentDocument,
    ConsentRecord,
    ConsentVersion,
    OutboxMessage,
    Participant,
    ResultPanel,
    ResultValue,
    Visit,
)
from portal.schedule import schedule_visit

CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
TODAY = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a week before day 0 (1 December)


@pytest.fixture(autouse=True)
def _fast_sign_in(app: Flask) -> None:
    """No response padding and no CSRF tokens in these tests (one test checks each explicitly)."""
    app.config["SIGN_IN_MIN_SECONDS"] = 0
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """The portal's clock, fixed at TODAY unless a test moves it."""
    import time_machine

    traveller = time_machine.travel(TODAY, tick=False)
    traveller.start()
    yield TODAY
    traveller.stop()


def last_code(db: Session, participant: Participant) -> str:
    db.expire_all()
    body = db.scalar(
        select(OutboxMessage.body)
        .where(OutboxMessage.participant_id == participant.id, OutboxMessage.kind == "sign_in_code")
        .order_by(OutboxMessage.id.desc())
    )
    assert body, "no sign-in SMS was queued"
    match = CODE_RE.search(body)
    assert match
    return match.group(1)


SignIn = Callable[..., FlaskClient]


@pytest.fixture
def sign_in(client: FlaskClient, db: Session) -> SignIn:
    """Sign a participant in through the phone form and the code from their SMS."""

    def do(participant: Participant, keep: bool = False, who: FlaskClient | None = None) -> FlaskClient:
        c = who or client
        response = c.post("/sign-in", data={"phone": participant.phone_e164})
        assert response.status_code == 302, response.get_data(as_text=True)
        form = {"code": last_code(db, participant)}
        if keep:
            form["keep"] = "y"
        response = c.post("/sign-in/code", data=form)
        assert response.status_code == 302 and "/sign-in" not in response.headers["Location"]
        return c

    return do


@pytest.fixture
def book(db: Session) -> Callable[..., Visit]:
    def do(visit: Visit, day: date | None = None, at: time = time(8, 0)) -> Visit:
        schedule_visit(db, visit, day or visit.target_date, at, SYSTEM, now=TODAY)
        db.commit()
        return visit

    return do


def visits_of(db: Session, participant: Participant) -> list[Visit]:
    return list(db.scalars(select(Visit).where(Visit.participant_id == participant.id).order_by(Visit.target_date)))


@pytest.fixture
def add_panel(db: Session) -> Callable[..., ResultPanel]:
    def do(participant: Participant, visit: Visit, values: dict[str, tuple[float, str, float, float]],
           released: bool = True, meld: float | None = None, child_pugh: str | None = None) -> ResultPanel:  # fmt: skip
        panel = ResultPanel(
            participant_id=participant.id, visit_id=visit.id, collected_on=visit.target_date,
            meld=meld, child_pugh_class=child_pugh, child_pugh_score=7 if child_pugh else None,
            released_at=TODAY if released else None,
        )  # fmt: skip
        panel.values = [
            ResultValue(analyte=code, value=v, unit=unit, ref_low=lo, ref_high=hi)
            for code, (v, unit, lo, hi) in values.items()
        ]
        db.add(panel)
        db.commit()
        return panel

    return do


@pytest.fixture
def consent_setup(db: Session, app: Flask) -> Callable[..., dict[str, ConsentVersion]]:
    """A consent document with v1 (zh, en) and, optionally, v2 needing re-consent; files on disk."""
    folder = Path(app.config["PORTAL_SETTINGS"].instance_path) / "consents"

    def version(doc: ConsentDocument, label: str, locale: str, day: date, reconsent: bool) -> ConsentVersion:
        content = f"%PDF-1.4\n% {doc.code} {label} {locale}\n%%EOF\n".encode()
        rel = f"{doc.code}/{label}-{locale}.pdf"
        (folder / doc.code).mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(content)
        v = ConsentVersion(
            document_id=doc.id, label=label, locale=locale, effective_date=day, file_path=rel,
            file_sha256=hashlib.sha256(content).hexdigest(), file_size=len(content),
            requires_reconsent=reconsent, published_at=TODAY,
        )  # fmt: skip
        db.add(v)
        return v

    def do(
        participant: Participant, study_id: int, with_v2: bool = True, code: str = "ICF"
    ) -> dict[str, ConsentVersion]:
        doc = db.scalar(select(ConsentDocument).where(ConsentDocument.code == code))
        made: dict[str, ConsentVersion] = {}
        if doc is None:
            doc = ConsentDocument(study_id=study_id, code=code, title_zh="知情同意书", title_en="Consent form")
            db.add(doc)
            db.flush()
            made["v1_zh"] = version(doc, "1.0", "zh_Hans_CN", date(2026, 1, 1), False)
            made["v1_en"] = version(doc, "1.0", "en", date(2026, 1, 1), False)
            if with_v2:
                made["v2_zh"] = version(doc, "2.0", "zh_Hans_CN", date(2026, 10, 1), True)
                made["v2_en"] = version(doc, "2.0", "en", date(2026, 10, 1), True)
            db.flush()
        else:
            for v in doc.versions:
                made[f"v{v.label[0]}_{'zh' if v.locale.startswith('zh') else 'en'}"] = v
        db.add(ConsentRecord(participant_id=participant.id, version_id=made["v1_zh"].id, signed_on=date(2026, 11, 20)))
        db.commit()
        return made

    return do
