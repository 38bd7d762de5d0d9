"""Read the store into the engine's weekly frames (SQL GROUP BY per week), for every week or a
window of weeks (a weekly load is computed from the new weeks' rows alone)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Integer, case, cast, distinct, extract, func, literal_column, select, true
from sqlalchemy.orm import Session

from lib.engagement.measures import Inputs, build_inputs
from lib.engagement.weekly import (
    COUNT_COLUMNS,
    EXPECTED_COLUMNS,
    RATE_COLUMNS,
    RATE_SOURCES,
    SUBMISSION_COLUMNS,
)
from lib.ingest.limits import clip_periods, stored_days
from lib.store.lookups import expected_students_frame, timetable_frame
from lib.store.models import (
    CalendarPeriod,
    DailyActivity,
    Enrolment,
    EventExpectedStudent,
    Exemption,
    Student,
    Submission,
    TimetableEvent,
)
from lib.store.statuses import LEFT_STATUSES

Window = tuple[date, date] | None  # first and last day read (None: everything)


def query_frame(session: Session, statement, columns: list[str]) -> pd.DataFrame:
    """Rows of a Core select as a frame, built column by column (much faster than from Row objects)."""
    rows = session.connection().execute(statement).fetchall()
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame({c: list(v) for c, v in zip(columns, zip(*rows, strict=True), strict=True)})


def _raw_frame(session: Session, statement, columns: list[str]) -> pd.DataFrame:
    """Rows of a Core select as a frame, fetched through the driver's cursor (parameters bound by
    the driver) and built from plain tuples: several times faster than Row objects for big reads."""
    conn = session.connection()
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    if compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup)
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None  # a connection checked out of the pool
    cursor = dbapi.cursor()
    try:
        cursor.execute(str(compiled), params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return pd.DataFrame.from_records(rows, columns=columns, nrows=len(rows))


def _epoch_day_sql(column: str, dialect: str) -> str:
    """SQL for the days since 1970-01-01 of a date or date-time column (static text, no values)."""
    if dialect == "sqlite":
        return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"
    return f"(CAST({column} AS DATE) - DATE '1970-01-01')"


def _week_sql(column: str, dialect: str):
    """The Monday-start week number of a column (lib.engagement.weekly.week_number) in SQL."""
    return literal_column(f"(({_epoch_day_sql(column, dialect)} + 3) / 7)", Integer)


def _days(column, window: Window):
    """The WHERE clause of a window on a date column (True without a window)."""
    if window is None:
        return true()
    return column.between(window[0], window[1])


def _moments(column, window: Window):
    """The WHERE clause of a window of days on a date-time column."""
    if window is None:
        return true()
    end = datetime.combine(window[1] + timedelta(days=1), time())
    return (column >= datetime.combine(window[0], time())) & (column < end)


def _weekly_activity(
    session: Session, dialect: str, window: Window = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily activity summed per (student, source, module, week) for attendance/online and per
    (student, source, week) with active days and last active day for every other source."""
    a = DailyActivity
    in_window = _days(a.day, window)
    week = _week_sql("daily_activity.day", dialect).label("week")
    positive = a.quantity > 0
    pday = case((positive, literal_column(_epoch_day_sql("daily_activity.day", dialect))))
    rate = _raw_frame(
        session,
        select(a.student_id, a.source, a.module_code, week, func.sum(a.quantity))
        .where(a.source.in_(RATE_SOURCES) & in_window)
        .group_by(a.student_id, a.source, a.module_code, week),
        RATE_COLUMNS,
    )
    count = _raw_frame(
        session,
        select(
            a.student_id,
            a.source,
            week,
            func.sum(a.quantity),
            func.sum(case((positive, a.quantity), else_=0.0)),
            func.count(distinct(pday)),
            func.sum(a.minutes),
            func.max(pday),
        )
        .where(a.source.not_in(RATE_SOURCES) & in_window)
        .group_by(a.student_id, a.source, week),
        COUNT_COLUMNS,
    )
    return rate, count


def _weekly_expected(session: Session, dialect: str, window: Window = None) -> pd.DataFrame:
    """Expected sessions per (student, module, week, online): an event's explicit list, else the
    cohort enrolled on its module in the event's academic year (as expected_students_frame). The
    cohort side is counted per module week in SQL and spread over the enrolments in pandas (a join
    in SQL would carry one row per student and session)."""
    te, ees, en = TimetableEvent, EventExpectedStudent, Enrolment
    week = _week_sql("timetable_events.start_at", dialect).label("week")
    explicit = _raw_frame(
        session,
        select(ees.student_id, te.module_code, week, te.online, func.count())
        .join(te, te.event_id == ees.event_id)
        .where(_moments(te.start_at, window))
        .group_by(ees.student_id, te.module_code, week, te.online),
        EXPECTED_COLUMNS,
    )
    year = extract("year", te.start_at) - case((extract("month", te.start_at) < 9, 1), else_=0)
    year = cast(year, Integer).label("academic_year")
    sessions = _raw_frame(
        session,
        select(te.module_code, year, week, te.online, func.count())
        .where(te.explicit_list.is_not(True) & _moments(te.start_at, window))
        .group_by(te.module_code, year, week, te.online),
        ["module_code", "academic_year", "week", "online", "sessions"],
    )
    enrolled = _raw_frame(
        session,
        select(en.student_id, en.module_code, en.academic_year),
        ["student_id", "module_code", "academic_year"],
    )
    sessions["academic_year"] = sessions["academic_year"].astype(np.int64)
    enrolled["academic_year"] = enrolled["academic_year"].astype(np.int64)
    cohort = enrolled.merge(sessions, on=["module_code", "academic_year"])[EXPECTED_COLUMNS]
    return pd.concat([explicit, cohort], ignore_index=True)


def _weekly_submissions(session: Session, dialect: str, window: Window = None) -> pd.DataFrame:
    """Submissions due, on time and missing per (student, week due)."""
    sub = Submission
    week = _week_sql("submissions.due_at", dialect).label("week")
    return _raw_frame(
        session,
        select(
            sub.student_id,
            week,
            func.count(),
            func.sum(case((sub.status == "on_time", 1), else_=0)),
            func.sum(case((sub.status == "missing", 1), else_=0)),
        )
        .where(_moments(sub.due_at, window))
        .group_by(sub.student_id, week),
        SUBMISSION_COLUMNS,
    )


def read_frames(session: Session, window: Window = None) -> dict:
    """Everything loaded (activity, expected sessions and submissions of the window's days only,
    when given), as the weekly frames `build_inputs` takes (keyword names match): the store
    aggregates days to weeks (GROUP BY), so only weekly rows cross into Python."""
    dialect = session.get_bind().dialect.name
    window = stored_days(window)  # implausible stored days are never computed on
    students = pd.Index(session.scalars(select(Student.student_id).order_by(Student.student_id)))
    calendar = query_frame(
        session,
        select(CalendarPeriod.kind, CalendarPeriod.start, CalendarPeriod.end),
        ["kind", "start", "end"],
    )
    exemptions = query_frame(
        session,
        select(Exemption.student_id, Exemption.start, Exemption.end),
        ["student_id", "start", "end"],
    )
    horizon = session.scalar(
        select(func.max(DailyActivity.day)).where(_days(DailyActivity.day, stored_days(None)))
    )
    return {
        "students": students,
        "groups": student_groups(session),
        "spans": student_spans(session),
        "activity": _weekly_activity(session, dialect, window),
        "expected": _weekly_expected(session, dialect, window),
        "submissions": _weekly_submissions(session, dialect, window),
        "calendar": clip_periods(calendar, window),
        "exemptions": clip_periods(exemptions, window),
        "horizon": horizon,
    }


def rate_activity(session: Session, window: Window) -> pd.DataFrame:
    """The weekly attendance/online rows (with module codes) of a window of days."""
    return _weekly_activity(session, session.get_bind().dialect.name, window)[0]


def student_spans(session: Session) -> pd.DataFrame:
    """student_id, start, end: when each student started, and left (the status date of a status
    that ends their studies), for the engine not to measure them outside it."""
    rows = session.execute(
        select(Student.student_id, Student.start_date, Student.status, Student.status_date)
    ).all()
    frame = pd.DataFrame(rows, columns=["student_id", "start", "status", "status_date"])
    left = frame["status"].astype(str).str.lower().isin(LEFT_STATUSES)
    frame["end"] = frame["status_date"].where(left)
    return frame[["student_id", "start", "end"]]


def student_groups(session: Session) -> pd.DataFrame:
    """student_id, group: each student's school, course and year of study (who normally appear
    together, for the engine's group-level systemic drops)."""
    rows = session.execute(
        select(Student.student_id, Student.school, Student.course_code, Student.year_of_study)
    ).all()
    frame = pd.DataFrame(rows, columns=["student_id", "school", "course", "year"])
    parts = [
        pd.DataFrame(
            {"student_id": frame["student_id"], "group": f"{label} " + frame[c].astype(str)}
        )
        for c, label in (("school", "school"), ("course", "course"), ("year", "year"))
        if len(frame)
    ]
    if not parts:
        return pd.DataFrame(columns=["student_id", "group"])
    out = pd.concat(parts, ignore_index=True)
    return out[~out["group"].str.endswith((" None", " nan", " "))]


def read_daily_frames(session: Session) -> dict:
    """Everything loaded as daily long frames (one row per day / expected session / submission):
    the slow reference form, for benchmarks and the equivalence test of `read_frames`."""
    frames = read_frames(session)
    frames.pop("horizon")
    frames["activity"] = query_frame(
        session,
        select(
            DailyActivity.student_id,
            DailyActivity.source,
            DailyActivity.day,
            DailyActivity.module_code,
            DailyActivity.quantity,
            DailyActivity.minutes,
        ),
        ["student_id", "source", "day", "module_code", "quantity", "minutes"],
    )
    pairs = expected_students_frame(session)
    events = timetable_frame(session)[["event_id", "module_code", "start_at", "online"]]
    expected = pairs.merge(events, on="event_id")
    frames["expected"] = expected.assign(day=pd.to_datetime(expected["start_at"]).dt.normalize())[
        ["student_id", "module_code", "day", "online"]
    ]
    frames["submissions"] = query_frame(
        session,
        select(Submission.student_id, Submission.due_at, Submission.status),
        ["student_id", "due_at", "status"],
    )
    return frames


def read_inputs(session: Session, config: dict) -> Inputs:
    """Everything loaded, as engine inputs."""
    return build_inputs(**read_frames(session), config=config)
