"""mail wing: staff users opt in to the weekly digest e-mail

Revision ID: 0010
Revises: 0004
Create Date: 2026-12-01 02:12:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "staff_users",
        sa.Column("digest", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("digest")
