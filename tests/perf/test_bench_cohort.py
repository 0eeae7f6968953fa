"""The bench's cohort spreads what staff pages show over every site: each coordinator's worklist
is measured with the same kind of work (pending date-change requests fell at one site before)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from bench.cohort import generate
from portal.config import load_settings
from portal.db import make_engine
from portal.models import Participant, RescheduleRequest, Site


def test_pending_requests_fall_at_every_site(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cohort.sqlite3'}"
    settings = load_settings(environ={}, database_url=url, secret_key="cohort-" + "0123456789" * 4,
                             instance_path=tmp_path, testing=True)  # fmt: skip
    engine = make_engine(settings)
    generate(engine, 600, now=datetime(2027, 3, 1, 2, 0, tzinfo=UTC), quiet=True)
    with Session(engine) as db:
        sites_with_requests = db.scalar(
            select(func.count(distinct(Participant.site_id)))
            .join(RescheduleRequest, RescheduleRequest.participant_id == Participant.id)
            .where(RescheduleRequest.status == "pending")
        )  # fmt: skip
        assert sites_with_requests == db.scalar(select(func.count()).select_from(Site))
    engine.dispose()
