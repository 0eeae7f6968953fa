"""The floor: bare Flask + Jinja + two indexed queries rendering one participant's visit list.

It reads the same signed session cookie as the portal (same SECRET_KEY, Flask's own session),
takes the participant id Flask-Login stored there, and runs the two queries any visit list
needs: the participant by primary key and their visits through ix_visits_participant_target.
No blueprints, no i18n, no audit: what a page costs when it does nothing but the essentials.

    gunicorn -c gunicorn.conf.py bench.floor:app
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, abort, render_template, session
from sqlalchemy import create_engine, text

HERE = Path(__file__).parent


def _url(raw: str) -> str:
    return "postgresql+psycopg://" + raw.removeprefix("postgresql://") if raw.startswith("postgresql://") else raw


def create_floor() -> Flask:
    app = Flask(__name__, template_folder=str(HERE / "floor_templates"))
    app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    pool = int(os.environ.get("DB_POOL_SIZE", "") or 5)
    url = _url(os.environ["DATABASE_URL"])
    engine = create_engine(url, pool_size=pool) if url.startswith("postgresql") else create_engine(url)

    @app.get("/")
    def visits() -> str:
        prefix, _, raw = str(session.get("_user_id", "")).partition(":")
        if prefix != "p" or not raw.isdigit():
            abort(403)
        with engine.connect() as conn:
            person = conn.execute(text("SELECT id, study_code, full_name FROM participants WHERE id = :id"),
                                  {"id": int(raw)}).first()  # fmt: skip
            if person is None:
                abort(404)
            rows = conn.execute(
                text("SELECT id, target_date, window_start, window_end, scheduled_at, status FROM visits "
                     "WHERE participant_id = :id ORDER BY target_date"), {"id": person.id}).all()  # fmt: skip
        return render_template("visits.html", person=person, visits=rows)

    return app


app = create_floor()
