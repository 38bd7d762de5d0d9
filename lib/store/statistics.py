"""Planner statistics refreshed after a big load, so the first page views after it plan well."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# A load this big moves the row counts enough that stale statistics mislead the planner (on
# 40,000 students, Home's worklist query took 1.83 s before ANALYZE and 0.54 s after);
# autovacuum would analyze too, but up to a minute later and in its own order.
BIG_LOAD_ROWS = 50_000
# The tables that loads fill in bulk, and those a compute rewrites, by their store names.
LOADED_TABLES = ("students", "daily_activity", "weekly_activity")
COMPUTED_TABLES = ("weekly_measures", "weekly_measures_other", "flags")


def _analyze(session: Session, rows: int, at_least: int | None, tables: tuple[str, ...]) -> bool:
    """ANALYZE these tables on PostgreSQL when `rows` reach `at_least` (BIG_LOAD_ROWS) (SQLite's
    planner keeps no statistics unless asked and plans these queries by their indexes); True when
    it ran. Commits first: ANALYZE sees only committed rows."""
    if (
        rows < (BIG_LOAD_ROWS if at_least is None else at_least)
        or session.get_bind().dialect.name != "postgresql"
    ):
        return False
    session.commit()
    session.execute(text(f"ANALYZE {', '.join(tables)}"))
    session.commit()
    return True


def refresh_after_load(session: Session, rows_loaded: int, *, at_least: int | None = None) -> bool:
    """After a big load, before its compute: the loaded tables' statistics (with none for the new
    load id, PostgreSQL plans the compute's queries on that load as if it held one row)."""
    return _analyze(session, rows_loaded, at_least, LOADED_TABLES)


def refresh_after_compute(session: Session, rows_written: int | None) -> bool:
    """After a compute that wrote many measure rows: the results tables' statistics (the pages'
    reads)."""
    return _analyze(session, rows_written or 0, None, COMPUTED_TABLES)
