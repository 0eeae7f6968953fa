"""worklist: open visits by site and due day, from one index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The expression is portal.sql_dates.due_bound(window_end, scheduled_at, target_date), written
# out as each database compiles it: a query uses the index only when its expression matches.
POSTGRESQL = (
    "CREATE INDEX ix_visits_site_status_due ON visits (site_id, status, "
    "(LEAST(window_end, CASE WHEN scheduled_at IS NULL THEN target_date ELSE CAST(scheduled_at AS DATE) - 1 END))) "
    "INCLUDE (id, participant_id, definition_id, is_infusion, target_date, window_start, window_end, scheduled_at)"
)
SQLITE = (
    "CREATE INDEX ix_visits_site_status_due ON visits (site_id, status, "
    "(min(window_end, CASE WHEN scheduled_at IS NULL THEN target_date ELSE date(scheduled_at, '-1 day') END)))"
)


def upgrade() -> None:
    op.execute(POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE)


def downgrade() -> None:
    op.drop_index("ix_visits_site_status_due", table_name="visits")
