"""weekly measures carry the results version that wrote (and replaced) them: computes write in short
transactions and switch versions in one tiny one

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 05:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
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
    # no row yet: readers and computes take a missing row as version 0 (a restore needs empty
    # tables); the first compute writes it
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(
            "weekly_measures",
            sa.Column("v_from", sa.Integer(), server_default="0", nullable=False),
        )
        op.add_column("weekly_measures", sa.Column("v_to", sa.Integer(), nullable=True))
        op.drop_constraint("weekly_measures_pkey", "weekly_measures", type_="primary")
        op.create_primary_key("weekly_measures_pkey", "weekly_measures", [*KEY, "v_from"])
        return
    _rebuild_sqlite([*KEY, "v_from"], "v_from, v_to", "0, NULL")


COLUMNS = (
    "student_id, week_start, source, value, expected, baseline, baseline_low, baseline_high, "
    "cold_start, teaching"
)


def _rebuild_sqlite(key: list[str], extra: str, values: str) -> None:
    """SQLite cannot change a primary key in place: a new table, the rows copied, renamed."""
    columns = [
        sa.Column("student_id", sa.String(length=20), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("expected", sa.Float(), nullable=True),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("baseline_low", sa.Float(), nullable=True),
        sa.Column("baseline_high", sa.Float(), nullable=True),
        sa.Column("cold_start", sa.Boolean(), nullable=False),
        sa.Column("teaching", sa.Boolean(), nullable=False),
    ]
    if extra:
        columns += [
            sa.Column("v_from", sa.Integer(), server_default="0", nullable=False),
            sa.Column("v_to", sa.Integer(), nullable=True),
        ]
    op.create_table("weekly_measures_new", *columns, sa.PrimaryKeyConstraint(*key))
    into = f"{COLUMNS}, {extra}" if extra else COLUMNS
    chosen = f"{COLUMNS}, {values}" if extra else COLUMNS
    op.execute(f"INSERT INTO weekly_measures_new ({into}) SELECT {chosen} FROM weekly_measures")
    op.drop_index("ix_weekly_measures_week_start", table_name="weekly_measures")
    op.drop_table("weekly_measures")
    op.rename_table("weekly_measures_new", "weekly_measures")
    op.create_index("ix_weekly_measures_week_start", "weekly_measures", ["week_start"])


def downgrade() -> None:
    # keep the rows readers see (the current version's)
    version = "(SELECT {} FROM result_versions WHERE id = 1)"
    op.execute(
        f"DELETE FROM weekly_measures WHERE v_from > {version.format('current')} "
        f"OR v_from < {version.format('base')} OR v_to <= {version.format('current')}"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("weekly_measures_pkey", "weekly_measures", type_="primary")
        op.create_primary_key("weekly_measures_pkey", "weekly_measures", KEY)
        op.drop_column("weekly_measures", "v_to")
        op.drop_column("weekly_measures", "v_from")
    else:
        _rebuild_sqlite(KEY, "", "")
    op.drop_table("result_versions")
