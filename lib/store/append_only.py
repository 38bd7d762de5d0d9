"""Append-only history enforced by the database: triggers refusing UPDATE and DELETE (SQLite, PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

# The history tables of the store; a later migration protects a new one with protect(bind, "name").
HISTORY_TABLES = ("access_log", "case_entries", "compliance_records", "withdrawal_review_decisions")

PURGE_SETTING = "dashboard.history_purge"  # PostgreSQL: transaction-local, set by history_purge()
PURGE_FUNCTION = "dashboard_history_purge"  # SQLite: per-connection function, see register_sqlite()
PG_TRIGGER_FUNCTION = "dashboard_refuse_history_change"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {PG_TRIGGER_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' AND coalesce(current_setting('{PURGE_SETTING}', true), '') = 'on' THEN
        IF TG_LEVEL = 'ROW' THEN
            RETURN OLD;
        END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
        MESSAGE = TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' refused';
END
$$
"""


def _checked(table: str) -> str:
    if not _NAME.match(table):
        raise ValueError(f"not a plain table name: {table!r}")
    return table


def protect_sql(table: str, dialect: str) -> list[str]:
    """The statements that make a table append-only on this dialect ("sqlite" or "postgresql").

    UPDATE is always refused; DELETE (and TRUNCATE on PostgreSQL) only outside history_purge()."""
    table = _checked(table)
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END",
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
            f"WHEN NOT {PURGE_FUNCTION}() "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END",
        ]
    if dialect == "postgresql":
        return [
            _PG_FUNCTION,
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {PG_TRIGGER_FUNCTION}()",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {PG_TRIGGER_FUNCTION}()",
        ]
    raise ValueError(f"append-only triggers are written for sqlite and postgresql, not {dialect}")


def unprotect_sql(table: str, dialect: str) -> list[str]:
    """The statements that remove protect_sql()'s triggers (for a downgrade)."""
    table = _checked(table)
    if dialect == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_update",
            f"DROP TRIGGER IF EXISTS {table}_no_delete",
        ]
    if dialect == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        ]
    raise ValueError(f"append-only triggers are written for sqlite and postgresql, not {dialect}")


def protect(bind: Connection, *tables: str) -> None:
    """Make these tables append-only (in a migration: protect(op.get_bind(), "my_history"))."""
    for table in tables:
        for statement in protect_sql(table, bind.dialect.name):
            bind.exec_driver_sql(statement)


def unprotect(bind: Connection, *tables: str) -> None:
    """Remove the append-only triggers of these tables (a downgrade)."""
    for table in tables:
        for statement in unprotect_sql(table, bind.dialect.name):
            bind.exec_driver_sql(statement)


def protected_tables(bind: Connection) -> set[str]:
    """The tables that carry the append-only triggers (both the UPDATE and the DELETE one)."""
    if bind.dialect.name == "sqlite":
        rows = bind.exec_driver_sql(
            "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"
        ).all()
        names = {(t, n) for t, n in rows}
        return {
            t for t, _ in names if (t, f"{t}_no_update") in names and (t, f"{t}_no_delete") in names
        }
    rows = bind.exec_driver_sql(
        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal"
    ).all()
    names = {(t, n) for t, n in rows}
    return {
        t for t, _ in names if (t, f"{t}_append_only") in names and (t, f"{t}_no_truncate") in names
    }


def register_sqlite(dbapi_connection, connection_record) -> None:
    """Give a new SQLite connection the purge switch its DELETE triggers ask (off unless history_purge)."""
    info = connection_record.info
    dbapi_connection.create_function(PURGE_FUNCTION, 0, lambda: bool(info.get(PURGE_SETTING)))


@contextmanager
def history_purge(session: Session) -> Iterator[None]:
    """Allow DELETE (never UPDATE) of history rows in this session's transaction: only for the
    retention purge and a restore, which record what they removed."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT set_config('{PURGE_SETTING}', 'on', true)")
    connection.info[PURGE_SETTING] = True
    try:
        yield
    finally:
        connection.info.pop(PURGE_SETTING, None)
    if connection.dialect.name == "postgresql":
        try:
            connection.exec_driver_sql(f"SELECT set_config('{PURGE_SETTING}', 'off', true)")
        except DBAPIError:  # a failed transaction: it can only roll back, and the setting with it
            pass
