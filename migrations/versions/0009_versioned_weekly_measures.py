"""weekly measures carry the results version that wrote (and replaced) them: computes write in short
transactions and switch versions in one tiny one

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 05:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

KEY = ["student_id", "week_start", "source"]


def upgrade() -> None:
    op.create_table(
        "result_versions",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("current", sa.Integer(), nullable=False),
        sa.Column("base", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO result_versions (id, current, base) VALUES (1, 0, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(
            "weekly_measures",
            sa.Column("v_from", sa.Integer(), server_default="0", nullable=False),
        )
        op.add_column("weekly_measures", sa.Column("v_to", sa.Integer(), nullable=True))
        op.drop_constraint("weekly_measures_pkey", "weekly_measures", type_="primary")
        op.create_primary_key("weekly_measures_pkey", "weekly_measures", [*KEY, "v_from"])
        return
    with op.batch_alter_table("weekly_measures", recreate="always") as batch_op:
        batch_op.add_column(sa.Column("v_from", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("v_to", sa.Integer(), nullable=True))
        batch_op.create_primary_key("pk_weekly_measures", [*KEY, "v_from"])


def downgrade() -> None:
    op.execute("DELETE FROM weekly_measures WHERE v_to IS NOT NULL")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("weekly_measures_pkey", "weekly_measures", type_="primary")
        op.create_primary_key("weekly_measures_pkey", "weekly_measures", KEY)
        op.drop_column("weekly_measures", "v_to")
        op.drop_column("weekly_measures", "v_from")
    else:
        with op.batch_alter_table("weekly_measures", recreate="always") as batch_op:
            batch_op.drop_column("v_to")
            batch_op.drop_column("v_from")
            batch_op.create_primary_key("pk_weekly_measures", KEY)
    op.drop_table("result_versions")
