"""Weeks (Monday starts) of the term calendar: which are teaching weeks, and which are exempt."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

NON_TEACHING = ("vacation", "reading_week", "exam")


def monday(day: date) -> date:
    """The Monday starting the week of `day`."""
    return day - timedelta(days=day.weekday())


def week_range(first: date, last: date) -> np.ndarray:
    """Mondays from the week of `first` to the week of `last` (datetime64[D])."""
    start = np.datetime64(monday(first), "D")
    stop = np.datetime64(monday(last), "D")
    return np.arange(start, stop + 7, 7, dtype="datetime64[D]")


def _covered(weekdays: np.ndarray, periods: pd.DataFrame) -> np.ndarray:
    """(weeks, 5) booleans: weekday covered by any of these periods."""
    out = np.zeros(weekdays.shape, bool)
    if periods.empty:
        return out
    starts = pd.to_datetime(periods["start"]).to_numpy("datetime64[D]")
    ends = pd.to_datetime(periods["end"]).to_numpy("datetime64[D]")
    for s, e in zip(starts, ends, strict=True):  # one pass per calendar period, not per student
        out |= (weekdays >= s) & (weekdays <= e)
    return out


def teaching_weeks(weeks: np.ndarray, calendar: pd.DataFrame) -> np.ndarray:
    """A week teaches when at least 3 of its weekdays are term days outside vacation/reading/exam.

    Without any calendar every week counts as teaching (the calendar is data, not code)."""
    if calendar.empty:
        return np.ones(len(weeks), bool)
    weekdays = weeks[:, None] + np.arange(5)
    term = _covered(weekdays, calendar[calendar["kind"] == "term"])
    off = _covered(weekdays, calendar[calendar["kind"].isin(NON_TEACHING)])
    return (term & ~off).sum(axis=1) >= 3


def exempt_matrix(
    student_index: pd.Index, weeks: np.ndarray, exemptions: pd.DataFrame
) -> np.ndarray:
    """(students, weeks) booleans: an exemption covers any weekday of that student's week."""
    out = np.zeros((len(student_index), len(weeks)), bool)
    if exemptions.empty:
        return out
    rows = student_index.get_indexer(exemptions["student_id"].astype(str))
    keep = rows >= 0
    starts = pd.to_datetime(exemptions["start"]).to_numpy("datetime64[D]")[keep]
    ends = pd.to_datetime(exemptions["end"]).to_numpy("datetime64[D]")[keep]
    rows = rows[keep]
    # week w is covered when its Monday..Friday overlaps [start, end]
    first = np.searchsorted(weeks + 4, starts, side="left")
    last = np.searchsorted(weeks, ends, side="right") - 1
    lengths = np.maximum(last - first + 1, 0)
    r = np.repeat(rows, lengths)
    w = np.repeat(first, lengths) + (
        np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    )
    ok = (w >= 0) & (w < len(weeks))
    out[r[ok], w[ok]] = True
    return out
