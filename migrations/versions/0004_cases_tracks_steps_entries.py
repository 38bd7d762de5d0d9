"""cases wing: case track and derived state columns; entry step, staff, team, idempotency key, load

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 02:10:00

Plain ADD COLUMN / CREATE INDEX only (no batch table copy on SQLite): a copy would drop the
append-only triggers that migration 0003 puts on case_entries.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "cases", sa.Column("track", sa.String(length=10), server_default="welfare", nullable=False)
    )
    op.add_column("cases", sa.Column("next_action", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("next_due", sa.Date(), nullable=True))
    op.add_column("cases", sa.Column("last_entry_at", sa.DateTime(), nullable=True))
    op.add_column("cases", sa.Column("closed_at", sa.DateTime(), nullable=True))
    op.add_column("cases", sa.Column("closed_by", sa.String(length=100), nullable=True))
    op.add_column("cases", sa.Column("close_outcome", sa.String(length=30), nullable=True))
    op.add_column("cases", sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
    op.create_index("ix_cases_next_due", "cases", ["next_due"], unique=False)
    op.create_index("ix_cases_student_id_track", "cases", ["student_id", "track"], unique=False)

    op.add_column("case_entries", sa.Column("step", sa.Integer(), nullable=True))
    op.add_column("case_entries", sa.Column("staff_username", sa.String(length=100), nullable=True))
    op.add_column("case_entries", sa.Column("team", sa.String(length=60), nullable=True))
    op.add_column("case_entries", sa.Column("idempotency_key", sa.String(length=64), nullable=True))
    op.add_column("case_entries", sa.Column("load_id", sa.Integer(), nullable=True))
    op.create_index(
        "ix_case_entries_idempotency_key", "case_entries", ["idempotency_key"], unique=True
    )
    op.create_index("ix_case_entries_load_id", "case_entries", ["load_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_entries_load_id", table_name="case_entries")
    op.drop_index("ix_case_entries_idempotency_key", table_name="case_entries")
    for column in ("load_id", "idempotency_key", "team", "staff_username", "step"):
        op.drop_column("case_entries", column)
    op.drop_index("ix_cases_student_id_track", table_name="cases")
    op.drop_index("ix_cases_next_due", table_name="cases")
    for column in (
        "revision",
        "close_outcome",
        "closed_by",
        "closed_at",
        "last_entry_at",
        "next_due",
        "next_action",
        "track",
    ):
        op.drop_column("cases", column)
