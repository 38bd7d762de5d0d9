"""weekly activity totals and engine snapshots: stored compressed by the app (zstd,
lib.store.packed), so PostgreSQL keeps them out of line without compressing them again
(STORAGE EXTERNAL; its default would try, and fail, to shrink every value). SQLite has no such
setting. Values stored before read as they are; the next fold or compute writes them packed.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 20:00:00
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_COLUMNS = (("weekly_activity", "data"), ("engine_snapshots", "data"))


def _storage(kind: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in _COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE {kind}")


def upgrade() -> None:
    _storage("EXTERNAL")


def downgrade() -> None:
    _storage("EXTENDED")
