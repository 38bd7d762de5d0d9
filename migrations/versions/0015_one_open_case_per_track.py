"""one case per student and track that is not closed (a unique partial index: two staff opening at
once); the owner a case was opened with (`cases --as-of` shows the owner on that day)

Revision ID: 0015
Revises: 0009
Create Date: 2026-12-01 05:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0009"
branch_labels = None
depends_on = None

_OPEN = sa.text("state <> 'closed'")


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("first_owner", sa.String(length=100), nullable=True))
    # cases opened before this migration: the owner now, unless it is the wellbeing queue
    op.execute("UPDATE cases SET first_owner = owner_username WHERE owner_username <> 'wellbeing'")
    op.create_index(
        "uq_cases_one_open_per_track",
        "cases",
        ["student_id", "track"],
        unique=True,
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )


def downgrade() -> None:
    op.drop_index("uq_cases_one_open_per_track", table_name="cases")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("first_owner")
