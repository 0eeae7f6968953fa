"""The error page after a failed database statement: still the portal's page, in the reader's language."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import text

from portal.extensions import db_session


@pytest.fixture
def app_with_a_failing_statement(app: Flask) -> Flask:
    def fail_in_the_database() -> str:
        db_session().execute(text("SELECT 1 / 0"))  # PostgreSQL refuses it and aborts the transaction
        return "never"

    app.add_url_rule("/test-database-failure", "fail_in_the_database", fail_in_the_database)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the error page, not the traceback
    return app


@pytest.mark.postgres
def test_after_a_failed_statement_the_page_is_drawn_in_the_participants_language(
    app_with_a_failing_statement, client, make_participant, sign_in
):
    # The page reads the participant (their language) from the database after the failure:
    # without a rollback first, PostgreSQL refuses that too and only the plain fallback is left.
    sign_in(make_participant(locale="en"))
    response = client.get("/test-database-failure")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong on our side" in page and "<main" in page
    assert "系统出现问题" not in page  # not the bilingual last-resort page
