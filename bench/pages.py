"""The pages the benchmark loads and the query-count test checks, listed in ONE place.

A page names candidate Flask endpoints; the first that exists in the app is used, and a page
with none is reported as "not built yet" (never faked). Signed-in sessions are minted with the
app's own secret: inside a request context of the real app, ``login_user`` runs exactly as the
sign-in views run it (Flask-Login's "strong" protection ties the session to the client's
address and User-Agent, so every load generator sends ``USER_AGENT`` from 127.0.0.1), and the
session is signed with the app's session serializer. This skips the SMS-code round trip, which
the benchmark does not measure, and gives as many different participants as we like.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask, session
from flask_login import login_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from portal.models import Participant, StaffUser, Visit

USER_AGENT = "portal-bench/1.0"
COOKIE = "session"

Params = Callable[[Session, int], dict[str, object]]


def _next_visit(db: Session, participant_id: int) -> dict[str, object]:
    visit_id = db.scalar(
        select(Visit.id).where(Visit.participant_id == participant_id)
        .order_by(Visit.status.in_(("scheduled", "confirmed")).desc(), Visit.target_date).limit(1)
    )  # fmt: skip
    return {"visit_id": visit_id}


def _no_params(_db: Session, _user_id: int) -> dict[str, object]:
    return {}


@dataclass(frozen=True)
class Page:
    name: str
    audience: str  # "patient" | "staff"
    endpoints: tuple[str, ...]
    params: Params = _no_params

    def endpoint(self, app: Flask) -> str | None:
        return next((e for e in self.endpoints if e in app.view_functions), None)


PAGES: tuple[Page, ...] = (
    Page("patient home", "patient", ("patient.home",)),
    # The whole visit timeline is on the home page; "visits" is the page of one visit (the next one).
    Page("patient visits", "patient", ("patient.visit",), _next_visit),
    Page("patient results (charts)", "patient", ("patient.results",)),
    Page("patient messages", "patient", ("patient.messages", "patient.inbox")),
    Page("staff roster", "staff", ("staff.roster_view", "staff.roster")),
    Page("staff worklist", "staff", ("staff.worklist",)),
    Page("staff inbox", "staff", ("staff.inbox",)),
)


def mint_session(app: Flask, user: Participant | StaffUser) -> str:
    """A signed session cookie value for ``user``, as the sign-in views would leave it."""
    # A fresh app context: Flask-WTF caches the token in ``g``, which a request context pushed
    # inside the caller's app context would share, so every user after the first would get none.
    with app.app_context(), app.test_request_context(
        "/", headers={"User-Agent": USER_AGENT}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    ):
        login_user(user, fresh=True)
        # The sign-in form's CSRF token stays in a real session; without it every page of the
        # run would mint one and re-send the cookie, which no browser session does.
        generate_csrf()
        if isinstance(user, Participant):
            session["keep"] = True  # no idle sign-out in the middle of a run
            session["seen"] = int(time.time())
        else:
            session["staff_seen"] = time.time()
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        return str(serializer.dumps(dict(session)))


def participants_for_load(db: Session, count: int) -> list[Participant]:
    """Active participants spread over the whole cohort (every site, both arms, every stage)."""
    total = db.scalar(select(Participant.id).order_by(Participant.id.desc()).limit(1)) or 0
    step = max(1, total // max(count * 2, 1))
    return list(db.scalars(
        select(Participant).where(Participant.status == "active", Participant.id % step == 0)
        .order_by(Participant.id).limit(count)
    ))  # fmt: skip


def staff_for_load(db: Session) -> list[StaffUser]:
    return list(db.scalars(select(StaffUser).where(StaffUser.role == "coordinator").order_by(StaffUser.id)))


@dataclass
class Target:
    """One signed-in user and the path of one page for them."""

    cookie: str
    path: str


def targets(app: Flask, db: Session, page: Page, participants: list[Participant],
            staff: list[StaffUser]) -> list[Target]:  # fmt: skip
    endpoint = page.endpoint(app)
    if endpoint is None:
        return []
    users: list[Participant] | list[StaffUser] = participants if page.audience == "patient" else staff
    found = []
    with app.test_request_context():
        from flask import url_for

        for user in users:
            params = page.params(db, user.id)
            if any(v is None for v in params.values()):
                continue
            found.append(Target(mint_session(app, user), url_for(endpoint, **params)))
    return found


@contextmanager
def count_statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the block runs."""
    seen: list[str] = []

    def listener(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


@dataclass
class PageCount:
    page: str
    built: bool
    statements: list[int]  # one figure per signed-in user asked
    status_codes: list[int]

    @property
    def steady(self) -> int | None:
        return max(self.statements) if self.statements else None


def statements_per_page(app: Flask, participants: list[Participant], staff: list[StaffUser],
                        pages: tuple[Page, ...] = PAGES) -> list[PageCount]:  # fmt: skip
    """SQL statements each page issues per request, for several different users (warm app)."""
    engine: Engine = app.extensions["engine"]
    results = []
    with Session(engine) as db:
        for page in pages:
            found = targets(app, db, page, participants, staff)
            if not found:
                results.append(PageCount(page.name, page.endpoint(app) is not None, [], []))
                continue
            client = app.test_client()
            client.set_cookie(COOKIE, found[0].cookie)
            client.get(found[0].path, headers={"User-Agent": USER_AGENT})  # warm caches once
            counts, codes = [], []
            for target in found:
                client = app.test_client()
                client.set_cookie(COOKIE, target.cookie)
                with count_statements(engine) as seen:
                    response = client.get(target.path, headers={"User-Agent": USER_AGENT})
                counts.append(len(seen))
                codes.append(response.status_code)
            results.append(PageCount(page.name, True, counts, codes))
    return results
