"""Week numbers and the weekly aggregates the engine reads (the store computes the same in SQL).

A week number counts Monday-start weeks from the Unix epoch: (days since 1970-01-01 + 3) // 7.
Frames (one row per group; the store's GROUP BY queries return exactly these columns):
- rate activity (attendance, online): student_id, source, module_code, week, quantity
- count activity (every other source): student_id, source, week, quantity, positive (sum of
  positive quantities), active_days (distinct days with quantity > 0), minutes, last_day (epoch day
  of the last day with quantity > 0, NaN when none)
- expected: student_id, module_code, week, online, sessions
- submissions: student_id, week, due, on_time, missing
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.sources import ATTENDANCE, ONLINE

RATE_SOURCES = (ATTENDANCE, ONLINE)
EPOCH = np.datetime64("1970-01-01", "D")
RATE_COLUMNS = ["student_id", "source", "module_code", "week", "quantity"]
COUNT_COLUMNS = [
    "student_id",
    "source",
    "week",
    "quantity",
    "positive",
    "active_days",
    "minutes",
    "last_day",
]
EXPECTED_COLUMNS = ["student_id", "module_code", "week", "online", "sessions"]
SUBMISSION_COLUMNS = ["student_id", "week", "due", "on_time", "missing"]


def epoch_days(days) -> np.ndarray:
    """Days since 1970-01-01 of dates, date-times or strings (int64)."""
    return (pd.to_datetime(pd.Series(days)).to_numpy("datetime64[D]") - EPOCH).astype(np.int64)


def week_number(epoch_day) -> np.ndarray:
    """Monday-start week number of epoch days."""
    return (np.asarray(epoch_day, np.int64) + 3) // 7


def week_monday(number) -> np.ndarray:
    """The Monday (datetime64[D]) starting each week number."""
    return EPOCH + (np.asarray(number, np.int64) * 7 - 3).astype("timedelta64[D]")


def weekly_activity(daily: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rate, count) weekly frames from daily rows: student_id, source, day, module_code,
    quantity, minutes."""
    day = epoch_days(daily["day"])
    quantity = daily["quantity"].astype(float).to_numpy()
    pos = quantity > 0
    frame = pd.DataFrame(
        {
            "student_id": daily["student_id"].astype(str).to_numpy(),
            "source": daily["source"].astype(str).to_numpy(),
            "module_code": daily["module_code"].fillna("").astype(str).to_numpy(),
            "week": week_number(day),
            "quantity": quantity,
            "positive": np.where(pos, quantity, 0.0),
            "pday": np.where(pos, day, np.nan),
            "minutes": pd.to_numeric(daily["minutes"], errors="coerce").to_numpy(float),
        }
    )
    is_rate = frame["source"].isin(RATE_SOURCES)
    rate = (
        frame[is_rate]
        .groupby(["student_id", "source", "module_code", "week"], as_index=False)["quantity"]
        .sum()
    )
    count = (
        frame[~is_rate]
        .groupby(["student_id", "source", "week"], as_index=False)
        .agg(
            quantity=("quantity", "sum"),
            positive=("positive", "sum"),
            active_days=("pday", "nunique"),
            minutes=("minutes", "sum"),
            last_day=("pday", "max"),
        )
    )
    return rate[RATE_COLUMNS], count[COUNT_COLUMNS]


def weekly_expected(daily: pd.DataFrame) -> pd.DataFrame:
    """Expected sessions per student, module, week and mode from one row per expected session
    (student_id, module_code, day, online)."""
    frame = pd.DataFrame(
        {
            "student_id": daily["student_id"].astype(str).to_numpy(),
            "module_code": daily["module_code"].astype(str).to_numpy(),
            "week": week_number(epoch_days(daily["day"])),
            "online": daily["online"].astype(bool).to_numpy(),
        }
    )
    out = frame.groupby(EXPECTED_COLUMNS[:-1], as_index=False).size()
    return out.rename(columns={"size": "sessions"})[EXPECTED_COLUMNS]


def weekly_submissions(rows: pd.DataFrame) -> pd.DataFrame:
    """Submissions due, on time and missing per student and week (student_id, due_at, status)."""
    status = rows["status"].astype(str)
    frame = pd.DataFrame(
        {
            "student_id": rows["student_id"].astype(str).to_numpy(),
            "week": week_number(epoch_days(rows["due_at"])),
            "due": 1,
            "on_time": (status == "on_time").astype(int).to_numpy(),
            "missing": (status == "missing").astype(int).to_numpy(),
        }
    )
    return frame.groupby(["student_id", "week"], as_index=False).sum()[SUBMISSION_COLUMNS]
