"""weekly measures: one wide row per student, week and results version (the index and each core
source in columns of their own, presence and cold start as bits, a baseline's spread instead of
its low and high); any other source in weekly_measures_other. Existing rows are converted.

A converted spread is (baseline_high - baseline) / 2: the high read back is the stored one
wherever the subtraction is exact (high below twice the baseline), the low within an ulp.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 12:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# bit i of `measured` and `cold` is SOURCES[i]'s (lib.store.measures.WIDE_SOURCES)
SOURCES = ("index", "attendance", "online", "vle", "submission", "lecture_capture")
EXPECTED = ("attendance", "online", "submission")
_REPLACED = sa.text("v_to IS NOT NULL")
_QUOTED = ", ".join(f"'{s}'" for s in SOURCES)


def _source_columns(source: str) -> list[str]:
    expected = [f"{source}_expected"] if source in EXPECTED else []
    return [f"{source}_value", *expected, f"{source}_baseline", f"{source}_spread"]


def _keys() -> list[sa.Column]:
    return [
        sa.Column("student_id", sa.String(length=20), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
    ]


def _versions() -> list[sa.Column]:
    return [
        sa.Column("v_from", sa.Integer(), server_default="0", nullable=False),
        sa.Column("v_to", sa.Integer(), nullable=True),
    ]


def _indexes(table: str) -> None:
    op.create_index(f"ix_{table}_week_start", table, ["week_start"])
    op.create_index(
        f"ix_{table}_v_to",
        table,
        ["v_to"],
        sqlite_where=_REPLACED,
        postgresql_where=_REPLACED,
    )


def _bits(condition: str) -> str:
    """The sum over a group of the bit of each row's source where `condition` holds."""
    cases = " ".join(f"WHEN '{s}' THEN {1 << i}" for i, s in enumerate(SOURCES))
    return f"SUM(CASE WHEN {condition} THEN (CASE source {cases} ELSE 0 END) ELSE 0 END)"


def _pick(source: str, column: str) -> str:
    if column.endswith("_spread"):
        expression = "(baseline_high - baseline) / 2"
    else:
        expression = column.removeprefix(f"{source}_")
    return f"MAX(CASE WHEN source = '{source}' THEN {expression} END)"


def upgrade() -> None:
    numbers = [c for s in SOURCES for c in _source_columns(s)]
    op.create_table(
        "weekly_measures_wide",
        *_keys(),
        *_versions(),
        sa.Column("teaching", sa.Boolean(), nullable=False),
        sa.Column("measured", sa.Integer(), nullable=False),
        sa.Column("cold", sa.Integer(), nullable=False),
        *(sa.Column(c, sa.Float(), nullable=True) for c in numbers),
        sa.PrimaryKeyConstraint(
            "student_id", "week_start", "v_from", name="weekly_measures_wide_pkey"
        ),
    )
    picks = ", ".join(_pick(s, c) for s in SOURCES for c in _source_columns(s))
    # every row of a student-week and version was written (and replaced) together
    op.execute(
        "INSERT INTO weekly_measures_wide (student_id, week_start, v_from, v_to, teaching, "
        f"measured, cold, {', '.join(numbers)}) "
        "SELECT student_id, week_start, v_from, MAX(v_to), "
        "MAX(CASE WHEN teaching THEN 1 ELSE 0 END) = 1, "
        f"{_bits('1 = 1')}, {_bits('cold_start')}, {picks} "
        f"FROM weekly_measures WHERE source IN ({_QUOTED}) "
        "GROUP BY student_id, week_start, v_from"
    )
    op.create_table(
        "weekly_measures_other",
        *_keys(),
        sa.Column("source", sa.String(length=40), nullable=False),
        *_versions(),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("expected", sa.Float(), nullable=True),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("spread", sa.Float(), nullable=True),
        sa.Column("cold_start", sa.Boolean(), nullable=False),
        sa.Column("teaching", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("student_id", "week_start", "source", "v_from"),
    )
    _indexes("weekly_measures_other")
    op.execute(
        "INSERT INTO weekly_measures_other (student_id, week_start, source, v_from, v_to, value, "
        "expected, baseline, spread, cold_start, teaching) "
        "SELECT student_id, week_start, source, v_from, v_to, value, expected, baseline, "
        "(baseline_high - baseline) / 2, cold_start, teaching "
        f"FROM weekly_measures WHERE source NOT IN ({_QUOTED})"
    )
    _replace("weekly_measures_wide")


def _replace(new: str) -> None:
    """weekly_measures replaced by the table `new`, under its name and index names."""
    op.drop_index("ix_weekly_measures_v_to", table_name="weekly_measures")
    op.drop_index("ix_weekly_measures_week_start", table_name="weekly_measures")
    op.drop_table("weekly_measures")
    op.rename_table(new, "weekly_measures")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE weekly_measures RENAME CONSTRAINT {new}_pkey TO weekly_measures_pkey"
        )
    _indexes("weekly_measures")


LONG = (
    "student_id, week_start, source, v_from, v_to, value, expected, baseline, baseline_low, "
    "baseline_high, cold_start, teaching"
)


def downgrade() -> None:
    op.create_table(
        "weekly_measures_long",
        *_keys(),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("expected", sa.Float(), nullable=True),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("baseline_low", sa.Float(), nullable=True),
        sa.Column("baseline_high", sa.Float(), nullable=True),
        sa.Column("cold_start", sa.Boolean(), nullable=False),
        sa.Column("teaching", sa.Boolean(), nullable=False),
        *_versions(),
        sa.PrimaryKeyConstraint(
            "student_id", "week_start", "source", "v_from", name="weekly_measures_long_pkey"
        ),
    )
    # max(baseline - 2 spread, 0) and baseline + 2 spread, empty when either is
    band = "CASE WHEN {b} - 2 * {s} < 0 THEN 0 ELSE {b} - 2 * {s} END, {b} + 2 * {s}"
    for i, source in enumerate(SOURCES):
        expected = f"{source}_expected" if source in EXPECTED else "NULL"
        b, s = f"{source}_baseline", f"{source}_spread"
        op.execute(
            f"INSERT INTO weekly_measures_long ({LONG}) "
            f"SELECT student_id, week_start, '{source}', v_from, v_to, {source}_value, "
            f"{expected}, {b}, {band.format(b=b, s=s)}, (cold / {1 << i}) % 2 = 1, teaching "
            f"FROM weekly_measures WHERE (measured / {1 << i}) % 2 = 1"
        )
    op.execute(
        f"INSERT INTO weekly_measures_long ({LONG}) "
        "SELECT student_id, week_start, source, v_from, v_to, value, expected, baseline, "
        f"{band.format(b='baseline', s='spread')}, cold_start, teaching "
        "FROM weekly_measures_other"
    )
    op.drop_index("ix_weekly_measures_other_v_to", table_name="weekly_measures_other")
    op.drop_index("ix_weekly_measures_other_week_start", table_name="weekly_measures_other")
    op.drop_table("weekly_measures_other")
    _replace("weekly_measures_long")
