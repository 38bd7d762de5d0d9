"""Plausible ranges every loaded value must fall in (same on SQLite and PostgreSQL), in one place.

Dates: what happened (activity, scans, submissions) lies in the academic years the store covers
(the calendar's, else from EARLIEST_DATE) and not after today + a margin; what is scheduled
(timetable, due dates, calendar, exemptions) may lie further ahead, up to SCHEDULE_MARGIN_DAYS.
Numbers are finite, non-negative and bounded; text fits the model's column; a line of a file is at
most MAX_LINE_BYTES long. Environment variables override the defaults (DASHBOARD_EARLIEST_DATE,
DASHBOARD_FUTURE_MARGIN_DAYS, DASHBOARD_SCHEDULE_MARGIN_DAYS).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Date, DateTime, Float, Integer, String, func, select
from sqlalchemy.orm import Session

from lib.ingest.errors import RowProblem
from lib.store.models import (
    Attendance,
    CalendarPeriod,
    DailyActivity,
    Enrolment,
    EventExpectedStudent,
    Exemption,
    MoodleUser,
    Student,
    Submission,
    TimetableEvent,
)

EARLIEST_DATE = date(2020, 9, 1)  # SPEC §1: history from September 2020
FUTURE_MARGIN_DAYS = 31  # activity dated after today + this is refused (clock skew, time zones)
SCHEDULE_MARGIN_DAYS = 550  # timetables, due dates and calendars are published ahead
EARLIEST_START_DATE = date(1950, 1, 1)  # a student's start date (part-time, returning students)
MAX_LINE_BYTES = 1 << 20  # one line of any file: 1 MiB (a Moodle description is a few hundred)
MAX_QUANTITY = 100_000.0  # per row: events, views, scans of one student on one day
MAX_MINUTES = 100_000.0  # per row: view or attendance minutes (a media viewed for weeks)
MAX_INTEGER = 2**31 - 1  # INTEGER columns on PostgreSQL
MAX_PROBLEMS = 100_000  # bad rows kept per file; beyond that the file is rejected whole
QUOTE_CHARS = 60  # a bad value is quoted in messages up to this many characters
RAW_CHARS = 1000  # and kept in the quarantine report up to this many


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """repr() of a value for a message, cut to `limit` characters (never echoes a 5 MB value)."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"… ({len(text):,} characters)"


def clip_raw(value: str | None) -> str | None:
    """A bad value as kept in the quarantine report: cut to RAW_CHARS characters."""
    if value is None or len(value) <= RAW_CHARS:
        return value
    return value[:RAW_CHARS] + f"… ({len(value):,} characters)"


def _env_date(name: str, default: date) -> date:
    text = os.environ.get(name, "").strip()
    return date.fromisoformat(text) if text else default


def _env_days(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    return int(text) if text else default


def academic_year_start(day: date) -> date:
    return date(day.year if day.month >= 9 else day.year - 1, 9, 1)


@dataclass(frozen=True)
class Window:
    """First and last plausible day of what happened, and the last of what is scheduled."""

    first: date
    last: date
    last_scheduled: date
    source: str  # how `first` was found, for messages

    @property
    def first_year(self) -> int:
        return academic_year_start(self.first).year

    @property
    def last_year(self) -> int:
        return academic_year_start(self.last_scheduled).year


def default_window(today: date | None = None) -> Window:
    """The window without a calendar: EARLIEST_DATE .. today + margins."""
    today = today or date.today()
    return Window(
        _env_date("DASHBOARD_EARLIEST_DATE", EARLIEST_DATE),
        today + timedelta(days=_env_days("DASHBOARD_FUTURE_MARGIN_DAYS", FUTURE_MARGIN_DAYS)),
        today + timedelta(days=_env_days("DASHBOARD_SCHEDULE_MARGIN_DAYS", SCHEDULE_MARGIN_DAYS)),
        "the earliest date the store accepts",
    )


def store_window(session: Session, today: date | None = None) -> Window:
    """The plausible window of the store: from the first academic year of its calendar when one is
    loaded (else the default earliest date) to today + margins."""
    window = default_window(today)
    first = session.scalar(select(func.min(CalendarPeriod.start)))
    if first is None:
        return window
    if isinstance(first, str):
        first = date.fromisoformat(first[:10])
    start = academic_year_start(first)
    if start <= window.first or start > window.last:
        return window
    return Window(
        start, window.last, window.last_scheduled, "the first academic year of the calendar"
    )


def stored_days(window: tuple[date, date] | None) -> tuple[date, date]:
    """The days compute reads from the store: the given window cut to the plausible one. Rows the
    checks would refuse today (a 9999-12-31 stored before them) are left out, never computed on
    (no OverflowError, no 20 GB week range)."""
    plausible = default_window()
    first, last = plausible.first, plausible.last_scheduled
    if window is None:
        return first, last
    return max(window[0], first), min(window[1], last)


def clip_periods(frame: pd.DataFrame, days: tuple[date, date]) -> pd.DataFrame:
    """Dated periods (start, end) cut to `days`; periods wholly outside are dropped."""
    if frame.empty:
        return frame
    start = pd.to_datetime(frame["start"], errors="coerce")
    end = pd.to_datetime(frame["end"], errors="coerce")
    first, last = pd.Timestamp(days[0]), pd.Timestamp(days[1])
    keep = (start <= last) & (end >= first)
    out = frame[keep.to_numpy()].copy()
    out["start"] = start[keep].clip(lower=first).dt.date.to_numpy()
    out["end"] = end[keep].clip(upper=last).dt.date.to_numpy()
    return out


# --- the check of parsed frames ------------------------------------------------------------------

FRAME_MODELS = {
    "activity": DailyActivity,
    "attendance": Attendance,
    "submissions": Submission,
    "students": Student,
    "enrolments": Enrolment,
    "calendar": CalendarPeriod,
    "timetable_events": TimetableEvent,
    "event_expected": EventExpectedStudent,
    "moodle_users": MoodleUser,
    "exemptions": Exemption,
}
# date columns of scheduled things (may lie ahead up to the schedule margin)
SCHEDULED = {"due_at", "start_at", "end_at", "start", "end"}
# numbers bounded tighter than an INTEGER column
BOUNDS = {
    "quantity": (0.0, MAX_QUANTITY),
    "minutes": (0.0, MAX_MINUTES),
    "year_of_study": (1, 8),
    "moodle_id": (1, MAX_INTEGER),
}
ROW = "_row"
FILE_COLUMNS = "file_columns"  # frame.attrs key: frame column -> the file column it came from


def name_columns(frame: pd.DataFrame, **names: str) -> pd.DataFrame:
    """Tell check_frame which file column each frame column came from (for messages)."""
    frame.attrs[FILE_COLUMNS] = names
    return frame


def _problems(
    frame: pd.DataFrame, mask: np.ndarray, column: str, problem: str, values: pd.Series | None
) -> list[RowProblem]:
    rows = frame[ROW].to_numpy()[mask] if ROW in frame.columns else np.zeros(mask.sum(), int)
    shown = values.to_numpy()[mask] if values is not None else [None] * len(rows)
    out = []
    for row, value in zip(rows[:MAX_PROBLEMS], shown[:MAX_PROBLEMS], strict=False):
        text = problem if value is None else f"{problem} (value {quote(value)})"
        out.append(
            RowProblem(int(row), column, text, clip_raw(None if value is None else str(value)))
        )
    return out


def _date_bounds(column: str, frame_name: str, window: Window) -> tuple[date, date, str, str]:
    if frame_name == "students":  # start_date
        return EARLIEST_START_DATE, window.last_scheduled, "a plausible start date", ""
    if column in SCHEDULED:
        first = min(window.first, default_window().first)
        return first, window.last_scheduled, "the schedule window", ""
    if window.source.startswith("the first academic year of the calendar"):
        return window.first, window.last, "the store's window", "; load that year's calendar first"
    return window.first, window.last, "the store's window", ""


def _lengths(values: pd.Series) -> np.ndarray:
    """Characters of each text value (0 for anything else), vectorised for string columns."""
    if pd.api.types.is_string_dtype(values) and values.dtype != object:
        return values.str.len().fillna(0).to_numpy(dtype=np.int64)
    return values.map(lambda v: len(v) if isinstance(v, str) else 0).to_numpy(dtype=np.int64)


def check_frame(
    frame_name: str, frame: pd.DataFrame, window: Window, names: dict[str, str] | None = None
) -> list[RowProblem]:
    """Row problems of every value of a parsed frame that does not fit its column or the window.

    names: frame column -> the file's column it came from (messages name the file's column)."""
    model = FRAME_MODELS.get(frame_name)
    if model is None or frame.empty:
        return []
    problems: list[RowProblem] = []
    table = model.__table__
    names = names or frame.attrs.get(FILE_COLUMNS, {})
    for stored in frame.columns:
        if stored == ROW or stored not in table.columns:
            continue
        column = names.get(stored, stored)
        kind = table.columns[stored].type
        values = frame[stored]
        present = values.notna().to_numpy()
        if isinstance(kind, String) and kind.length:
            too_long = present & (_lengths(values) > kind.length)
            if too_long.any():
                problems += _problems(
                    frame,
                    too_long,
                    column,
                    f"is longer than {kind.length} characters",
                    values.astype(object),
                )
        elif isinstance(kind, (Float, Integer)) and not isinstance(kind, (Date, DateTime)):
            if not (pd.api.types.is_numeric_dtype(values) or values.dtype == bool):
                values = pd.to_numeric(values, errors="coerce")
            if values.dtype == bool:
                continue
            number = values.to_numpy(dtype=float)
            low, high = BOUNDS.get(
                column, (0.0, MAX_INTEGER if isinstance(kind, Integer) else 1e15)
            )
            if isinstance(kind, Integer) and stored == "academic_year":
                low, high = window.first_year, window.last_year
            with np.errstate(invalid="ignore"):
                bad_number = present & ~np.isfinite(number)
                out = present & np.isfinite(number) & ((number < low) | (number > high))
            if bad_number.any():
                problems += _problems(frame, bad_number, column, "is not a finite number", values)
            if out.any():
                problems += _problems(
                    frame,
                    out,
                    column,
                    f"is outside the plausible range {low:g} to {high:g}",
                    values,
                )
        elif isinstance(kind, (Date, DateTime)):
            moments = pd.Series(pd.to_datetime(values, errors="coerce"), index=frame.index)
            first, last, what, hint = _date_bounds(stored, frame_name, window)
            known = moments.notna().to_numpy()
            day = moments.dt.normalize()
            outside = known & ((day < pd.Timestamp(first)) | (day > pd.Timestamp(last))).to_numpy()
            unreadable = present & ~known
            if unreadable.any():
                problems += _problems(frame, unreadable, column, "is not a plausible date", values)
            if outside.any():
                problems += _problems(
                    frame,
                    outside,
                    column,
                    f"is outside {what} ({first} to {last}){hint}",
                    moments.dt.strftime("%Y-%m-%d"),
                )
    return problems
