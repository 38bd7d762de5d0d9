"""weekly activity totals kept by compute (one .npz row per week folded from daily activity)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 05:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "weekly_activity",
        sa.Column("week", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("week"),
    )


def downgrade() -> None:
    op.drop_table("weekly_activity")
