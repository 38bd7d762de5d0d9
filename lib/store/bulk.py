"""Bulk writes of whole frames: INSERT (COPY on PostgreSQL) and upsert by natural key."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
from sqlalchemy import FromClause, Table
from sqlalchemy.orm import Session

BULK_CHUNK_ROWS = 200_000


def _table_name(table: FromClause) -> str:
    """The name of a model's table (`Model.__table__`)."""
    if not isinstance(table, Table):
        raise TypeError(f"bulk writes need a table, not {table!r}")
    return table.name


def _column_values(series: pd.Series, dialect: str) -> list:
    """Python values for one column, in the form the driver stores for SQLAlchemy's types."""
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.to_numpy(dtype="datetime64[us]")
        missing = np.isnat(values)
        if dialect == "sqlite":
            text = np.datetime_as_string(values, unit="us").astype(object)
            text = np.char.replace(text.astype(str), "T", " ").astype(object)
        else:
            text = series.dt.to_pydatetime().astype(object)
        text[missing] = None
        return text.tolist()
    if series.dtype == object and len(series) and hasattr(series.iloc[0], "isoformat"):
        if dialect == "sqlite":
            return [None if v is None or v is pd.NaT else v.isoformat() for v in series]
        return [None if v is pd.NaT else v for v in series.tolist()]
    if pd.api.types.is_bool_dtype(series):
        return series.astype(int).tolist() if dialect == "sqlite" else series.tolist()
    if pd.api.types.is_float_dtype(series):
        values = series.astype(object)
        values[series.isna()] = None
        return values.tolist()
    if pd.api.types.is_integer_dtype(series):
        return series.astype(int).tolist()
    values = series.astype(object)
    values[series.isna()] = None
    return values.tolist()


def _driver_rows(session: Session, frame: pd.DataFrame):
    """(connection, dialect name, columns, quoted column list, row tuples as the driver takes)."""
    columns = list(frame.columns)
    conn = session.connection()
    dialect = conn.dialect.name
    rows = list(zip(*(_column_values(frame[c], dialect) for c in columns), strict=True))
    return conn, dialect, columns, ", ".join(f'"{c}"' for c in columns), rows


def bulk_upsert(
    session: Session,
    table: FromClause,
    frame: pd.DataFrame,
    keys: list[str],
    *,
    replace: bool = True,
) -> int:
    """INSERT rows, and on a natural-key conflict update them (replace) or keep the stored row.

    A stored row whose values are all unchanged keeps its load_id: the engine recomputes only
    what loads changed, and a weekly export repeating earlier rows changes nothing."""
    if frame.empty:
        return 0
    if len(frame) > BULK_CHUNK_ROWS:  # bounded memory: Python row tuples cost ~10x the frame
        return sum(
            bulk_upsert(session, table, frame.iloc[i : i + BULK_CHUNK_ROWS], keys, replace=replace)
            for i in range(0, len(frame), BULK_CHUNK_ROWS)
        )
    name = _table_name(table)
    conn, dialect, columns, quoted, rows = _driver_rows(session, frame)
    key_list = ", ".join(f'"{k}"' for k in keys)
    updates = [c for c in columns if c not in keys]
    if replace and updates:
        action = "DO UPDATE SET " + ", ".join(f'"{c}" = excluded."{c}"' for c in updates)
        compared = [c for c in updates if c != "load_id"]
        if "load_id" in updates and compared:
            differs = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
            action += " WHERE " + " OR ".join(
                f'"{name}"."{c}" {differs} excluded."{c}"' for c in compared
            )
    else:
        action = "DO NOTHING"
    if dialect == "sqlite":
        marks = ", ".join("?" for _ in columns)
        sql = f'INSERT INTO "{name}" ({quoted}) VALUES ({marks}) ON CONFLICT ({key_list}) {action}'
        conn.exec_driver_sql(sql, rows)
        return len(rows)
    temp = f"tmp_{uuid.uuid4().hex[:10]}"
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cursor:
        cursor.execute(f'CREATE TEMP TABLE {temp} (LIKE "{name}" INCLUDING DEFAULTS)')
        with cursor.copy(f"COPY {temp} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f'INSERT INTO "{name}" ({quoted}) SELECT {quoted} FROM {temp} '
            f"ON CONFLICT ({key_list}) {action}"
        )
        cursor.execute(f"DROP TABLE {temp}")
    return len(rows)


def bulk_insert(session: Session, table: FromClause, frame: pd.DataFrame) -> int:
    """INSERT rows known to be new (COPY on PostgreSQL): for rows whose keys were just deleted."""
    if frame.empty:
        return 0
    if len(frame) > BULK_CHUNK_ROWS:
        return sum(
            bulk_insert(session, table, frame.iloc[i : i + BULK_CHUNK_ROWS])
            for i in range(0, len(frame), BULK_CHUNK_ROWS)
        )
    name = _table_name(table)
    conn, dialect, columns, quoted, rows = _driver_rows(session, frame)
    if dialect == "sqlite":
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(f'INSERT INTO "{name}" ({quoted}) VALUES ({marks})', rows)
        return len(rows)
    with conn.connection.dbapi_connection.cursor() as cursor:
        with cursor.copy(f'COPY "{name}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
    return len(rows)
