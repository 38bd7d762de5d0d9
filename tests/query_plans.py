"""SQLite's plans of the statements an action runs: which of them walk a whole table."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session


def table_scans(session: Session, table: str, action: Callable[[], object]) -> list[str]:
    """The plan lines 'SCAN <table>' of the SELECTs on `table` that `action` ran (SQLite)."""
    statements: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if table in statement and statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements, f"no statement read {table}"
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    return [
        f"{detail}: {statement}"
        for statement, parameters in statements
        for *_, detail in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
        if detail.startswith(f"SCAN {table}")
    ]
