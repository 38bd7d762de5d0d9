"""SQL for whole days since 1970-01-01 of a date or date-time column, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Integer, String, cast, literal_column, type_coerce
from sqlalchemy.sql.elements import ColumnElement


def epoch_day_sql(column: str, dialect: str) -> str:
    """SQL text for the days since 1970-01-01 of a date or date-time column (static, no values)."""
    if dialect == "sqlite":
        return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"
    return f"(CAST({column} AS DATE) - DATE '1970-01-01')"


def epoch_day(column, dialect: str) -> ColumnElement[int]:
    """`epoch_day_sql` of an ORM column, as an integer column expression."""
    return literal_column(epoch_day_sql(f"{column.table.name}.{column.key}", dialect), Integer)


def iso_day(column, dialect: str) -> ColumnElement[str]:
    """A date column as its ISO text (YYYY-MM-DD): as stored on SQLite, cast on PostgreSQL."""
    if dialect == "sqlite":
        return type_coerce(column, String)
    return cast(column, String)
