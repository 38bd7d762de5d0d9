"""SQL helpers of the compute readers: fast cursor reads, week numbers and day windows in SQL."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import Integer, literal_column, true
from sqlalchemy.orm import Session

from lib.store.cursor import fetch_rows
from lib.store.dates import epoch_day_sql

Window = tuple[date, date] | None  # first and last day read (None: everything)


def raw_frame(session: Session, statement, columns: list[str]) -> pd.DataFrame:
    """Rows of a Core select as a frame, fetched through the driver's cursor (parameters bound by
    the driver) and built from plain tuples: several times faster than Row objects for big reads."""
    rows = fetch_rows(session, statement)
    return pd.DataFrame.from_records(rows, columns=columns, nrows=len(rows))


def week_sql(column: str, dialect: str):
    """The Monday-start week number of a column (lib.engagement.weekly.week_number) in SQL."""
    return literal_column(f"(({epoch_day_sql(column, dialect)} + 3) / 7)", Integer)


def days(column, window: Window):
    """The WHERE clause of a window on a date column (True without a window)."""
    if window is None:
        return true()
    return column.between(window[0], window[1])


def moments(column, window: Window):
    """The WHERE clause of a window of days on a date-time column."""
    if window is None:
        return true()
    end = datetime.combine(window[1] + timedelta(days=1), time())
    return (column >= datetime.combine(window[0], time())) & (column < end)
