"""Flask extensions and the request-scoped database session."""

from __future__ import annotations

from flask import current_app, g
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session, sessionmaker

from .db import end_request_transaction

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()


def db_session() -> Session:
    """The session for this request, opened on first use and closed at teardown."""
    if "db" not in g:
        factory: sessionmaker[Session] = current_app.extensions["session_factory"]
        g.db = factory()
    return g.db


def close_db_session(exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        end_request_transaction(session, failed=exc is not None)
