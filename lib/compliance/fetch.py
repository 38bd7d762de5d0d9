"""Bulk reads for compliance: Core selects fetched through the driver's cursor into frames."""

from __future__ import annotations

import io

import pandas as pd
from sqlalchemy.orm import Session

from lib.store.cursor import fetch_rows


def read_frame(session: Session, statement, columns: list[str]) -> pd.DataFrame:
    """Rows of a Core select as a frame with these column names (empty frame when none)."""
    rows = fetch_rows(session, statement)
    return pd.DataFrame.from_records(rows, columns=columns, nrows=len(rows))


def typed_frame(session: Session, statement, columns: list[str]) -> pd.DataFrame:
    """Rows of a Core select as a frame of the columns' Python types (dates as `date`), for the
    small reads where types matter more than speed."""
    rows = session.connection().execute(statement).fetchall()
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame({c: list(v) for c, v in zip(columns, zip(*rows, strict=True), strict=True)})


def copy_frame(
    session: Session, statement, columns: list[str], dtype: dict[str, str]
) -> pd.DataFrame:
    """Rows of a Core select on PostgreSQL, streamed by `COPY ... TO STDOUT` as CSV and parsed by
    pandas' C reader (no Python object per value): for the biggest reads. Empty texts stay ''."""
    conn = session.connection()
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None  # a connection checked out of the pool
    data = bytearray()
    with dbapi.cursor() as cursor:  # type: ignore[attr-defined]
        with cursor.copy(f"COPY ({compiled}) TO STDOUT (FORMAT csv)", compiled.params) as copy:
            for chunk in copy:
                data += chunk
    if not data:
        return pd.DataFrame({c: pd.Series(dtype=dtype.get(c, object)) for c in columns})
    return pd.read_csv(
        io.BytesIO(data), header=None, names=columns, dtype=dtype, keep_default_na=False
    )
