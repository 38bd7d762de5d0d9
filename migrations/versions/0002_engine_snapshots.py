"""engine snapshots (the engine state a weekly load resumes from); load id indexes with the day

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 07:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engine_snapshots",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    # the earliest day changed by recent loads, read from the index alone
    with op.batch_alter_table("daily_activity") as batch_op:
        batch_op.drop_index("ix_daily_activity_load_id")
        batch_op.create_index("ix_daily_activity_load_id_day", ["load_id", "day"], unique=False)
    with op.batch_alter_table("submissions") as batch_op:
        batch_op.drop_index("ix_submissions_load_id")
        batch_op.create_index("ix_submissions_load_id_due_at", ["load_id", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch_op:
        batch_op.drop_index("ix_submissions_load_id_due_at")
        batch_op.create_index("ix_submissions_load_id", ["load_id"], unique=False)
    with op.batch_alter_table("daily_activity") as batch_op:
        batch_op.drop_index("ix_daily_activity_load_id_day")
        batch_op.create_index("ix_daily_activity_load_id", ["load_id"], unique=False)
    op.drop_table("engine_snapshots")
