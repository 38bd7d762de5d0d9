"""compliance: the date a compliance record takes effect (a withdrawal's date)

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-01 02:35:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (no batch table copy), so the append-only triggers of 0003 stay in place
    op.add_column("compliance_records", sa.Column("effective_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("compliance_records") as batch_op:
        batch_op.drop_column("effective_on")
