"""quarantined rows name the student they are about (subject access requests include them)

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-01 02:35:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantined_rows") as batch_op:
        batch_op.add_column(sa.Column("student_id", sa.String(length=20), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_quarantined_rows_student_id"), ["student_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("quarantined_rows") as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantined_rows_student_id"))
        batch_op.drop_column("student_id")
