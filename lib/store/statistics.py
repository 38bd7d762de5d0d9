"""Planner statistics refreshed after a big load, so the first page views after it plan well."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# A load this big moves the row counts enough that stale statistics mislead the planner (on
# 40,000 students, Home's worklist query took 1.83 s before ANALYZE and 0.54 s after);
# autovacuum would analyze too, but up to a minute later and in its own order.
BIG_LOAD_ROWS = 50_000
# The tables that loads and computes fill in bulk, by their store names.
BULK_TABLES = (
    "students",
    "daily_activity",
    "weekly_activity",
    "weekly_measures",
    "weekly_measures_other",
    "flags",
)


def refresh_after_load(session: Session, rows_loaded: int, *, at_least: int | None = None) -> bool:
    """ANALYZE the bulk tables on PostgreSQL after a load of at least `at_least` (BIG_LOAD_ROWS) rows (SQLite's
    planner keeps no statistics unless asked and plans these queries by their indexes); True when
    it ran. Commits first: ANALYZE sees only committed rows."""
    if (
        rows_loaded < (BIG_LOAD_ROWS if at_least is None else at_least)
        or session.get_bind().dialect.name != "postgresql"
    ):
        return False
    session.commit()
    session.execute(text(f"ANALYZE {', '.join(BULK_TABLES)}"))
    session.commit()
    return True
