"""Read the store into the engine's weekly frames (SQL GROUP BY per week), for every week or a
window of weeks (a weekly load is computed from the new weeks' rows alone)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Integer, case, cast, exists, extract, func, or_, select
from sqlalchemy.orm import Session

from lib.compute.sql import Window, days, moments, raw_frame, week_sql
from lib.compute.totals import weekly_totals
from lib.engagement.codes import factor, recode
from lib.engagement.measures import Inputs, build_inputs
from lib.engagement.weekly import EXPECTED_COLUMNS, SUBMISSION_COLUMNS
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


def query_frame(session: Session, statement, columns: list[str]) -> pd.DataFrame:
    """Rows of a Core select as a frame, built column by column (much faster than from Row objects)."""
    rows = session.connection().execute(statement).fetchall()
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame({c: list(v) for c, v in zip(columns, zip(*rows, strict=True), strict=True)})


def enrolled_frame(session: Session) -> pd.DataFrame:
    """Every enrolment: student_id, module_code, academic_year."""
    en = Enrolment
    return raw_frame(
        session,
        select(en.student_id, en.module_code, en.academic_year),
        ["student_id", "module_code", "academic_year"],
    )


def enrolments_key(session: Session) -> str:
    """What the stored enrolments are, in one cheap aggregate: any load, purge or erasure that
    adds, removes or replaces a row changes the count, the ids or the loads' ids (a row's id may
    be taken again after a delete, its load id not)."""
    en = Enrolment
    row = session.execute(
        select(
            func.count(),
            func.max(en.id),
            func.sum(en.id),
            func.max(en.load_id),
            func.sum(en.load_id),
            func.sum(en.academic_year),
            func.sum(func.length(en.module_code)),
        )
    ).one()
    return ":".join("" if value is None else str(int(value)) for value in row)


def _weekly_expected(
    session: Session, dialect: str, window: Window = None, enrolled: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Expected sessions per (student, module, week, online): an event's explicit list, else the
    cohort enrolled on its module in the event's academic year (as expected_students_frame). The
    cohort side is counted per module week in SQL and spread over the enrolments in pandas (a join
    in SQL would carry one row per student and session). `enrolled`: the enrolments (as
    `enrolled_frame`) when the caller has them."""
    te, ees = TimetableEvent, EventExpectedStudent
    week = week_sql("timetable_events.start_at", dialect).label("week")
    explicit = raw_frame(
        session,
        select(ees.student_id, te.module_code, week, te.online, func.count())
        .join(te, te.event_id == ees.event_id)
        .where(moments(te.start_at, window))
        .group_by(ees.student_id, te.module_code, week, te.online),
        EXPECTED_COLUMNS,
    )
    year = extract("year", te.start_at) - case((extract("month", te.start_at) < 9, 1), else_=0)
    year = cast(year, Integer).label("academic_year")
    sessions = raw_frame(
        session,
        select(te.module_code, year, week, te.online, func.count())
        .where(te.explicit_list.is_not(True) & moments(te.start_at, window))
        .group_by(te.module_code, year, week, te.online),
        ["module_code", "academic_year", "week", "online", "sessions"],
    )
    # a shallow copy: the columns recoded below are the copy's, the caller's frame is kept
    enrolled = (enrolled_frame(session) if enrolled is None else enrolled).copy(deep=False)
    sessions["academic_year"] = sessions["academic_year"].astype(np.int64)
    enrolled["academic_year"] = enrolled["academic_year"].astype(np.int64)
    # one row per enrolment and session week (millions at university scale): texts as categories
    # (sorted: they order as the texts do), numbers as numbers, never Python objects
    for column, frames in (
        ("student_id", (explicit, enrolled)),
        ("module_code", (explicit, sessions, enrolled)),
    ):
        _as_sorted_categories(frames, column)
    numbers = {"week": np.int64, "online": bool, "sessions": np.int64}
    for frame in (explicit, sessions, enrolled):
        for column, dtype in numbers.items():
            if column in frame:
                frame[column] = frame[column].astype(dtype)
    expected = pd.concat([explicit, _cohort(enrolled, sessions)], ignore_index=True)
    return expected[EXPECTED_COLUMNS]


def _as_sorted_categories(frames: tuple[pd.DataFrame, ...], column: str) -> None:
    """A text column of these frames as one categorical, its categories sorted: each frame's
    column hashed once (`factor`: its distinct texts as one object array, not iterated out of
    arrow one by one), only the distinct texts sorted and looked up."""
    factored = [factor(frame[column]) for frame in frames]
    distinct = {text for _, values in factored for text in values}
    vocabulary = pd.Index(sorted(distinct), dtype=object)
    dtype = pd.CategoricalDtype(vocabulary)
    for frame, (codes, values) in zip(frames, factored, strict=True):
        frame[column] = pd.Categorical.from_codes(recode(codes, values, vocabulary), dtype=dtype)


def _cohort(enrolled: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Each enrolment's rows of its module's sessions in its academic year (the inner join of the
    two on module and year: millions of rows at university scale), built week by week by index
    arithmetic, in the order the engine sorts them by: week, student, online, module."""
    pairs = _module_years(sessions).unique()
    pair_s = pairs.get_indexer(_module_years(sessions))
    pair_e = pairs.get_indexer(_module_years(enrolled))
    student = enrolled["student_id"].cat.codes.to_numpy()
    order = np.lexsort((enrolled["module_code"].cat.codes.to_numpy(), student))
    order = order[pair_e[order] >= 0]
    slots = np.full(len(pairs), -1)
    rows, picked = [], []
    week, online = sessions["week"].to_numpy(), sessions["online"].to_numpy()
    for w in np.unique(week):
        mine, found = [], []
        for mode in (False, True):
            block = np.flatnonzero((week == w) & (online == mode))
            slots[:] = -1
            slots[pair_s[block]] = block
            hit = slots[pair_e[order]]
            mine.append(order[hit >= 0])
            found.append(hit[hit >= 0])
        e, s = np.concatenate(mine), np.concatenate(found)
        by = np.argsort(student[e], kind="stable")
        rows.append(e[by])
        picked.append(s[by])
    rows_e = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    rows_s = np.concatenate(picked) if picked else np.zeros(0, np.int64)
    out = {"student_id": _take(enrolled["student_id"], rows_e)}
    for column in ("module_code", "week", "online", "sessions"):
        out[column] = _take(sessions[column], rows_s)
    return pd.DataFrame(out)


def _module_years(frame: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays(
        [frame["module_code"].cat.codes.to_numpy(), frame["academic_year"].to_numpy()]
    )


def _take(column: pd.Series, rows: np.ndarray):
    """Rows of a column by position (a categorical one by its codes)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return pd.Categorical.from_codes(column.cat.codes.to_numpy()[rows], dtype=column.dtype)
    return column.to_numpy()[rows]


def _weekly_submissions(session: Session, dialect: str, window: Window = None) -> pd.DataFrame:
    """Submissions due, on time and missing per (student, week due)."""
    sub = Submission
    week = week_sql("submissions.due_at", dialect).label("week")
    return raw_frame(
        session,
        select(
            sub.student_id,
            week,
            func.count(),
            func.sum(case((sub.status == "on_time", 1), else_=0)),
            func.sum(case((sub.status == "missing", 1), else_=0)),
        )
        .where(moments(sub.due_at, window))
        .group_by(sub.student_id, week),
        SUBMISSION_COLUMNS,
    )


def computed_students(session: Session) -> pd.Index:
    """The students the engine computes, in order: those with any activity, enrolment, expected
    session or submission. A student with none has nothing to measure (no data is not no
    engagement) and is left out, so loading student records alone changes nobody's results."""
    sid = Student.student_id
    # the small tables first: most students are enrolled, so their probe of the daily rows' index
    # (9M rows at 40,000 students: 0.5 s of reads on PostgreSQL) is never made
    models = (Enrolment, Submission, EventExpectedStudent, DailyActivity)
    known = or_(*(exists().where(model.student_id == sid) for model in models))
    return pd.Index(session.scalars(select(sid).where(known).order_by(sid)))


def read_frames(
    session: Session,
    window: Window = None,
    students: pd.Index | None = None,
    enrolled: pd.DataFrame | None = None,
) -> dict:
    """Everything loaded (activity, expected sessions and submissions of the window's days only,
    when given), as the weekly frames `build_inputs` takes (keyword names match): the store
    aggregates days to weeks (GROUP BY), so only weekly rows cross into Python. `students`: the
    computed_students the caller read already; `enrolled`: the enrolments it has (as
    `enrolled_frame`)."""
    dialect = session.get_bind().dialect.name
    window = stored_days(window)  # implausible stored days are never computed on
    students = computed_students(session) if students is None else students
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
        select(func.max(DailyActivity.day)).where(days(DailyActivity.day, stored_days(None)))
    )
    records = student_records(session)
    return {
        "students": students,
        "groups": student_groups(records),
        "spans": student_spans(records),
        "activity": weekly_totals(session, window),
        "expected": _weekly_expected(session, dialect, window, enrolled),
        "submissions": _weekly_submissions(session, dialect, window),
        "calendar": clip_periods(calendar, window),
        "exemptions": clip_periods(exemptions, window),
        "horizon": horizon,
    }


def student_records(session: Session) -> pd.DataFrame:
    """The student records the engine uses, read once: id, start, status, status date, school,
    course and year of study."""
    st = Student
    return raw_frame(
        session,
        select(
            st.student_id,
            st.start_date,
            st.status,
            st.status_date,
            st.school,
            st.course_code,
            st.year_of_study,
        ),
        ["student_id", "start", "status", "status_date", "school", "course", "year"],
    )


def student_spans(records: pd.DataFrame) -> pd.DataFrame:
    """student_id, start, end: when each student started, and left (the status date of a status
    that ends their studies), for the engine not to measure them outside it."""
    left = records["status"].astype(str).str.lower().isin(LEFT_STATUSES)
    frame = records[["student_id", "start"]].copy()
    frame["end"] = records["status_date"].where(left)
    return frame


def student_groups(records: pd.DataFrame) -> pd.DataFrame:
    """student_id, group: each student's school, course and year of study (who normally appear
    together, for the engine's group-level systemic drops), both columns categorical: the labels
    are made once per distinct value, not once per student (120,000 rows at 40,000 students)."""
    if not len(records):
        return pd.DataFrame(columns=["student_id", "group"])
    student, ids = pd.factorize(records["student_id"])
    rows: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    labels: list[str] = []
    for column, label in (("school", "school"), ("course", "course"), ("year", "year")):
        code, values = pd.factorize(records[column])  # missing: -1
        names = [f"{label} {value}" for value in values]
        named = np.array([not n.endswith((" None", " nan", " ")) for n in names] + [False])
        kept = named[code]
        rows.append(student[kept])
        codes.append(code[kept] + len(labels))
        labels += names
    # distinct values can read alike ("1" and 1): one category each
    label_code, categories = pd.factorize(pd.Index(labels, dtype=object))
    return pd.DataFrame(
        {
            "student_id": pd.Categorical.from_codes(np.concatenate(rows), categories=ids),
            "group": pd.Categorical.from_codes(
                label_code[np.concatenate(codes)], categories=categories
            ),
        }
    )


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
