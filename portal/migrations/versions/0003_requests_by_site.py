"""date-change requests: the participant's site on each, so a site's worklist reads an index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Upgrades roll host by host (README, "Upgrading without downtime"): until every portal runs this
# release, the previous one still inserts requests without a site. On PostgreSQL (the only
# database several hosts share) a trigger fills it from the participant, before the NOT NULL check.
FILL_SITE = (
    """CREATE FUNCTION reschedule_requests_fill_site() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.site_id IS NULL THEN
           SELECT site_id INTO NEW.site_id FROM participants WHERE id = NEW.participant_id;
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER reschedule_requests_fill_site BEFORE INSERT ON reschedule_requests
       FOR EACH ROW EXECUTE FUNCTION reschedule_requests_fill_site()""",
)
DROP_FILL_SITE = (
    "DROP TRIGGER IF EXISTS reschedule_requests_fill_site ON reschedule_requests",
    "DROP FUNCTION IF EXISTS reschedule_requests_fill_site()",
)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.add_column("reschedule_requests", sa.Column("site_id", sa.Integer(), nullable=True))
    for statement in FILL_SITE if _postgresql() else ():
        op.execute(statement)
    op.execute(
        "UPDATE reschedule_requests SET site_id = "
        "(SELECT participants.site_id FROM participants WHERE participants.id = reschedule_requests.participant_id)"
    )
    # SQLite rebuilds the table; resolve_fks=False keeps it from reflecting the tables it refers to.
    with op.batch_alter_table("reschedule_requests", reflect_kwargs={"resolve_fks": False}) as batch_op:
        batch_op.alter_column("site_id", existing_type=sa.Integer(), nullable=False)
        # the pair's key below replaces the participant's own (as on visits)
        batch_op.drop_constraint(op.f("fk_reschedule_requests_participant_id_participants"), type_="foreignkey")
        batch_op.create_foreign_key(op.f("fk_reschedule_requests_site_id_sites"), "sites", ["site_id"], ["id"])
        batch_op.create_foreign_key("fk_reschedule_requests_participant_site", "participants",
                                    ["participant_id", "site_id"], ["id", "site_id"])  # fmt: skip
        batch_op.create_index("ix_reschedule_requests_site_status_created", ["site_id", "status", "created_at", "id"])


def downgrade() -> None:
    for statement in DROP_FILL_SITE if _postgresql() else ():
        op.execute(statement)
    with op.batch_alter_table("reschedule_requests", reflect_kwargs={"resolve_fks": False}) as batch_op:
        batch_op.drop_index("ix_reschedule_requests_site_status_created")
        batch_op.drop_constraint("fk_reschedule_requests_participant_site", type_="foreignkey")
        batch_op.drop_constraint(op.f("fk_reschedule_requests_site_id_sites"), type_="foreignkey")
        batch_op.create_foreign_key(op.f("fk_reschedule_requests_participant_id_participants"), "participants",
                                    ["participant_id"], ["id"])  # fmt: skip
        batch_op.drop_column("site_id")
