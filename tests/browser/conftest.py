"""Real-browser fixtures, shared by every browser test (patient and staff).

- ``live_server``: the app on a loopback port in a background thread, over its own migrated
  SQLite database with the default protocol and a small seeded cohort (``live_server.seed``).
  It exposes ``url``, ``app``, ``settings``, ``session()`` (a new SQLAlchemy session) and
  ``last_sms_code(participant_id)`` (the sign-in code, read from the outbox row's body).
- ``browser``: Debian's Chromium (/usr/bin/chromium) through Playwright, once per session.
- ``browser_page``: a fresh phone-sized (390×844) page; ``browser_page_for(locale)`` for another
  language. ``screenshot(page, name)`` writes tests/screenshots/<name>.png (git-ignored).
- ``axe_check(page)``: axe-core's serious and critical violations on the page (a list).

Under CI=true a missing Chromium fails the run; elsewhere these tests skip with the reason.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import BaseWSGIServer, make_server

from portal import create_app, migrate
from portal.audit import SYSTEM
from portal.config import Settings, load_settings
from portal.db import make_engine

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE_VIEWPORT = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_SECRET = "browser-test-secret-key-that-is-long-enough-0123"
CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)


def _chromium_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


@dataclass
class LiveServer:
    url: str
    app: Any
    settings: Settings
    session_factory: sessionmaker[Session]
    seed: dict[str, Any] = field(default_factory=dict)

    def session(self) -> Session:
        return self.session_factory()

    def last_sms_code(self, participant_id: int) -> str:
        from portal.models import OutboxMessage

        with self.session() as s:
            body = s.scalar(
                select(OutboxMessage.body)
                .where(OutboxMessage.participant_id == participant_id, OutboxMessage.kind == "sign_in_code")
                .order_by(OutboxMessage.id.desc())
            )
        match = CODE_RE.search(body or "")
        assert match, "no sign-in SMS in the outbox"
        return match.group(1)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    instance = tmp_path_factory.mktemp("live")
    settings = load_settings(
        environ={}, database_url=f"sqlite:///{instance / 'portal.sqlite3'}", secret_key=TEST_SECRET,
        instance_path=instance, testing=True,
    )  # fmt: skip
    engine = make_engine(settings)
    migrate.upgrade(engine)
    engine.dispose()
    app = create_app(settings)
    app.config["SIGN_IN_MIN_SECONDS"] = 0
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    live = LiveServer(
        url=f"http://127.0.0.1:{server.server_port}", app=app, settings=settings,
        session_factory=app.extensions["session_factory"],
    )  # fmt: skip
    with live.session() as session:
        live.seed = seed_cohort(session, settings)
        session.commit()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield live
    server.shutdown()
    thread.join(timeout=5)
    app.extensions["engine"].dispose()


def seed_cohort(session: Session, settings: Settings) -> dict[str, Any]:
    """Participants in both arms and languages with booked visits, released results and consents.

    Keys: "zh" (UC-MSC arm, Chinese), "en" (control arm, English), and "zh_extra"/"en_extra" for
    tests that need a participant nobody else signs in as (sign-in codes are rate limited);
    "withdrawn" has left the study (sees the closed page with the site's phone).
    """
    from portal.models import Study
    from portal.participants import EnrolmentData, enrol_participant
    from portal.protocol import load_protocol
    from portal.studies import apply_protocol

    now = datetime.now(UTC)
    today = now.date()
    study, _ = apply_protocol(session, load_protocol(), SYSTEM, today=today)
    session.flush()
    study = session.scalar(select(Study))
    people = {}
    for key, arm, locale, phone, offset in (
        ("zh", "ucmsc", "zh_Hans_CN", "+8613900000101", -40),
        ("en", "control", "en", "+8613900000102", -40),
        ("zh_extra", "ucmsc", "zh_Hans_CN", "+8613900000103", -40),
        ("en_extra", "control", "en", "+8613900000104", -40),
        ("withdrawn", "control", "zh_Hans_CN", "+8613900000105", -40),
    ):
        p = enrol_participant(session, study, EnrolmentData(
            study_code=f"BJ-{phone[-4:]}", full_name=f"浏览器测试{key}", phone=phone, site_code="BJ", arm_code=arm,
            day0=today + timedelta(days=offset), preferred_locale=locale,
        ), SYSTEM, now=now)  # fmt: skip
        _history(session, p, today, now)
        people[key] = p
    _consents(session, study.id, list(people.values()), settings.instance_path, now)
    from portal.schedule import end_participation

    end_participation(session, people["withdrawn"], "withdrawn", today, "moved away", SYSTEM, now=now)
    session.flush()
    return {k: {"id": p.id, "phone": p.phone_e164} for k, p in people.items()}


def _history(session: Session, participant: Any, today: date, now: datetime) -> None:
    """Baseline and week 4 done with released results (a two-point trend); week 8 booked ahead."""
    from portal.models import ResultPanel, ResultValue, Visit
    from portal.schedule import complete_visit, schedule_visit

    visits = list(session.scalars(select(Visit).where(Visit.participant_id == participant.id)
                                  .order_by(Visit.target_date)))  # fmt: skip
    for visit, alt, alb in ((visits[0], 62.0, 33.5), (visits[1], 48.0, 36.0)):
        complete_visit(session, visit, visit.target_date, SYSTEM, now=now)
        panel = ResultPanel(participant_id=participant.id, visit_id=visit.id, collected_on=visit.target_date,
                            meld=14, child_pugh_class="B", child_pugh_score=8, released_at=now)  # fmt: skip
        panel.values = [
            ResultValue(analyte="ALT", value=alt, unit="U/L", ref_low=7, ref_high=40),
            ResultValue(analyte="ALB", value=alb, unit="g/L", ref_low=40, ref_high=55),
            ResultValue(analyte="NA", value=139, unit="mmol/L", ref_low=137, ref_high=147),
        ]
        session.add(panel)
    upcoming = visits[2]
    day = min(max(today + timedelta(days=1), upcoming.window_start), upcoming.window_end)
    schedule_visit(session, upcoming, day, time(8, 30), SYSTEM, now=now)
    session.flush()


def _consents(session: Session, study_id: int, people: list[Any], instance: Path, now: datetime) -> None:
    import hashlib

    from portal.models import ConsentDocument, ConsentRecord, ConsentVersion

    doc = ConsentDocument(study_id=study_id, code="ICF", title_zh="知情同意书", title_en="Informed consent form")
    session.add(doc)
    session.flush()
    folder = instance / "consents" / "ICF"
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for label, locale, day, reconsent in (("1.0", "zh_Hans_CN", date(2026, 1, 1), False),
                                          ("1.0", "en", date(2026, 1, 1), False)):  # fmt: skip
        pdf = _tiny_pdf(f"Consent {label} {locale}")
        rel = f"ICF/{label}-{locale}.pdf"
        (instance / "consents" / rel).write_bytes(pdf)
        version = ConsentVersion(document_id=doc.id, label=label, locale=locale, effective_date=day, file_path=rel,
                                 file_sha256=hashlib.sha256(pdf).hexdigest(), file_size=len(pdf),
                                 requires_reconsent=reconsent, published_at=now)  # fmt: skip
        session.add(version)
        made[locale] = version
    session.flush()
    for p in people:
        session.add(ConsentRecord(participant_id=p.id, version_id=made[p.preferred_locale].id,
                                  signed_on=p.day0))  # fmt: skip


def _tiny_pdf(text: str) -> bytes:
    from io import BytesIO

    from reportlab.pdfgen import canvas

    buffer = BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.drawString(72, 720, text)
    pdf.save()
    return buffer.getvalue()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = _chromium_missing()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires the browser tests: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def browser_page_for(browser: Any) -> Iterator[Callable[[str], Any]]:
    contexts: list[Any] = []

    def open_page(locale: str = "zh-CN") -> Any:
        context = browser.new_context(viewport=PHONE_VIEWPORT, locale=locale, accept_downloads=True,
                                      device_scale_factor=1, is_mobile=True, has_touch=True)  # fmt: skip
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def browser_page(browser_page_for: Callable[[str], Any]) -> Any:
    return browser_page_for("zh-CN")


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def axe_check() -> Callable[[Any], list[dict[str, Any]]]:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(page: Any) -> list[dict[str, Any]]:
        results = axe.run(page)
        return [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")
        ]

    return check
