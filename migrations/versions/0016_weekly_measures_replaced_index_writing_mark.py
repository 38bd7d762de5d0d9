"""weekly measures: a partial index on the version that replaced a row (few rows have one), and the
version a compute is writing until it publishes it, so a compute never reads the whole table to
find the rows replaced or left by a killed compute

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_REPLACED = sa.text("v_to IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_weekly_measures_v_to",
        "weekly_measures",
        ["v_to"],
        sqlite_where=_REPLACED,
        postgresql_where=_REPLACED,
    )
    with op.batch_alter_table("result_versions") as batch_op:
        batch_op.add_column(sa.Column("writing", sa.Integer(), nullable=True))
    # rows a compute killed before this migration left: the next compute clears them
    op.execute("UPDATE result_versions SET writing = (SELECT max(v_from) FROM weekly_measures)")


def downgrade() -> None:
    with op.batch_alter_table("result_versions") as batch_op:
        batch_op.drop_column("writing")
    op.drop_index("ix_weekly_measures_v_to", table_name="weekly_measures")
