"""Benchmark of the service-level incremental recompute after a one-week load at university scale, as JSON.

Builds a migrated store (a temp SQLite file, or --store URL) in bulk with N synthetic students
(default 40,000) over --weeks weeks from Monday 2025-09-22: students, calendar (terms, reading weeks,
Christmas vacation), ~N/100 modules with 4 enrolments per student, timetabled sessions (2 in person
and 1 online per module and teaching week), daily activity (attendance, online, vle,
lecture_capture, submission) and submissions; about 5% of students drop their engagement at some
week. Every bulk part has its Load row (one per source and week, as weekly exports bring them;
compute's weekly activity totals are folded after each week, as the load pipeline does after each
load; on PostgreSQL the planner statistics are refreshed after the build and after the first
compute, as `python -m lib ingest` does after each big load). It runs `lib.compute.service.compute`
over the first weeks-1 weeks,
then loads week `weeks` as a canonical `events` CSV through the load pipeline `python -m lib ingest`
uses (which folds that week) and times the incremental `compute` that follows (in a child process,
for its own peak memory); the floor beside it is the new week's measure rows inserted bare into the
same table. Then a corrected re-export of one Moodle day two weeks back for 2,000 students is
loaded and computed (the engine resumes from the state kept before that week), and a students file
of 2,000 new students without activity (it writes no measure rows). With --check a full recompute
follows (another child): its time is the reference of the ratio, weekly measures, flags and
data-quality events are compared before and after it (read by children of their own), and the
floor of its writes is every measure row inserted bare into an empty table alike.

    python bench/incremental.py [--students 40000] [--weeks 20] [--store URL] [--check] [--seed 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from harness import run_child
from pandas.api.types import union_categoricals

FIRST_WEEK = date(2025, 9, 22)
ACADEMIC_YEAR = 2025
SCHOOLS = ("Science", "Engineering", "Business", "Arts", "Law", "Medicine", "Education", "Music")
# Load.source of each bulk activity part: the ingest SOURCE word that would have brought it.
LOAD_SOURCE = {
    "attendance": "qr",
    "online": "teams",
    "vle": "moodle-logstore",
    "lecture_capture": "echo360",
    "submission": "submissions",
}
# (weekday, hour, online) of each module's weekly sessions: lecture, seminar, online workshop.
SLOTS = ((0, 10, False), (2, 14, False), (4, 16, True))
SLOT_TYPES = ("lecture", "seminar", "workshop")
ASSIGNMENT_WEEKS = (4, 9, 17)  # week indexes with an assignment due (each module, Friday 16:00)
MEASURE_KEYS = ["student_id", "week_start", "source"]
MEASURE_NUMBERS = ["value", "expected", "baseline", "baseline_low", "baseline_high"]
FLAG_COLUMNS = "student_id, kind, week_start, ended_week, explanation, recovery_explanation"
DQ_COLUMNS = "week_start, source, module_code, share_affected, students_affected, explanation"


# --- the synthetic university ----------------------------------------------------------------------


def week_start(w: int) -> date:
    return FIRST_WEEK + timedelta(weeks=w)


def calendar_frame() -> pd.DataFrame:
    """Autumn and spring terms with a reading week each, and the Christmas vacation between."""
    rows = [
        ("term", week_start(0), week_start(11) + timedelta(days=4), "Autumn term"),
        ("reading_week", week_start(6), week_start(6) + timedelta(days=4), "Reading week"),
        (
            "vacation",
            week_start(11) + timedelta(days=5),
            week_start(15) - timedelta(days=1),
            "Xmas",
        ),
        ("term", week_start(15), week_start(26) + timedelta(days=4), "Spring term"),
        ("reading_week", week_start(21), week_start(21) + timedelta(days=4), "Reading week"),
    ]
    return pd.DataFrame(rows, columns=["kind", "start", "end", "label"])


def is_teaching(w: int) -> bool:
    """Term weeks that are not reading weeks (as the calendar above says)."""
    return (0 <= w <= 11 or 15 <= w <= 26) and w not in (6, 21)


@dataclass
class Cohort:
    """Students, their modules and engagement propensities, and who drops when."""

    seed: int
    ids: np.ndarray  # (N,) student ids
    codes: np.ndarray  # (M,) module codes
    modules: np.ndarray  # (N, 4) module indexes
    attend: np.ndarray  # in-person attendance probability
    online: np.ndarray  # online attendance probability
    vle_days: np.ndarray  # expected active VLE days a teaching week
    vle_events: np.ndarray  # Poisson mean of VLE events an active day
    capture: np.ndarray  # probability of viewing lecture capture on a day
    submit: np.ndarray  # probability of submitting an assignment
    drop_week: np.ndarray  # week index engagement falls from (a large number: never)

    def factor(self, w: int) -> np.ndarray:
        """Engagement multiplier of week w: weekly noise, and a fall to ~10% from the drop week."""
        rng = np.random.default_rng([self.seed, w, 7])
        noise = rng.normal(1.0, 0.12, len(self.ids)).clip(0.5, 1.5)
        return np.where(w >= self.drop_week, 0.1, 1.0) * noise


def make_cohort(students: int, weeks: int, seed: int) -> Cohort:
    rng = np.random.default_rng(seed)
    courses = max(2, students // 400)  # 4 modules a course, ~N/100 modules
    course = rng.integers(0, courses, students)
    elective = (course + 1 + rng.integers(0, courses - 1, students)) % courses
    modules = np.stack([4 * course, 4 * course + 1, 4 * course + 2, 4 * elective + 3], axis=1)
    drops = rng.random(students) < 0.05
    return Cohort(
        seed=seed,
        ids=np.array([f"{25000000 + i}" for i in range(students)]),
        codes=np.array([f"MOD{m:04d}" for m in range(4 * courses)]),
        modules=modules,
        attend=rng.beta(6, 2, students),
        online=rng.beta(4, 2, students),
        vle_days=rng.uniform(2.0, 5.5, students),
        vle_events=rng.lognormal(2.0, 0.5, students),
        capture=rng.beta(2, 8, students),
        submit=rng.beta(12, 1, students),
        drop_week=np.where(drops, rng.integers(4, max(5, weeks), students), 10_000),
    )


def students_frame(c: Cohort) -> pd.DataFrame:
    n = len(c.ids)
    course = c.modules[:, 0] // 4
    year = np.arange(n) % 4 + 1
    return pd.DataFrame(
        {
            "student_id": c.ids,
            "given_name": [f"Given{i}" for i in range(n)],
            "family_name": [f"Family{i}" for i in range(n)],
            "email": [f"s{s}@uni.example.ac.uk" for s in c.ids],
            "personal_email": None,
            "phone": None,
            "course_code": [f"C{k:04d}" for k in course],
            "course_name": [f"Course {k}" for k in course],
            "school": [SCHOOLS[k % len(SCHOOLS)] for k in course],
            "level": np.where(year < 4, "UG", "PGT"),
            "year_of_study": year,
            "mode": "FT",
            "tutor_username": [f"tutor{i // 30:04d}" for i in range(n)],
            "visa_sponsored": np.arange(n) % 7 == 0,
            "residence": np.where(np.arange(n) % 3 == 0, "on_campus", "off_campus"),
            "status": "enrolled",
            "start_date": FIRST_WEEK,
        }
    )


def enrolments_frame(c: Cohort) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "student_id": np.repeat(c.ids, 4),
            "module_code": c.codes[c.modules.ravel()],
            "academic_year": ACADEMIC_YEAR,
        }
    )


def timetable_frame(c: Cohort, weeks: int) -> pd.DataFrame:
    """Every module's sessions of every teaching week (cohort expectation: explicit_list False)."""
    rows = []
    for w in (w for w in range(weeks) if is_teaching(w)):
        monday = datetime.combine(week_start(w), datetime.min.time())
        for m, code in enumerate(c.codes):
            for k, (day, hour, online) in enumerate(SLOTS):
                start = monday + timedelta(days=(day + m) % 5, hours=hour)
                rows.append(
                    (f"{code}-W{w:02d}-{k}", code, SLOT_TYPES[k], f"{code} {SLOT_TYPES[k]}")
                    + (start, start + timedelta(hours=1), "Teams" if online else f"R{m % 50}")
                    + (online, False)
                )
    columns = ["event_id", "module_code", "event_type", "title", "start_at", "end_at", "location"]
    frame = pd.DataFrame(rows, columns=[*columns, "online", "explicit_list"])
    return frame.astype({"start_at": "datetime64[us]", "end_at": "datetime64[us]"})


def _rows(c: Cohort, source: str, si, day, module, quantity, minutes, at) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "student_id": c.ids[si],
            "source": source,
            "day": day.astype("datetime64[ns]"),
            "module_code": module,
            "quantity": np.asarray(quantity, float),
            "minutes": np.asarray(minutes, float),
            "at_minute": at,  # minute of the day, for the events file's occurred_at
        }
    )


def week_activity(c: Cohort, w: int) -> pd.DataFrame:
    """One row per student, source, day and module of week w (the daily_activity shape)."""
    rng = np.random.default_rng([c.seed, w])
    f = c.factor(w)
    monday = np.datetime64(week_start(w), "D")
    n, teaching = len(c.ids), is_teaching(w)
    parts = []
    for day, hour, online in SLOTS if teaching else ():
        prob = (c.online if online else c.attend) * f
        si, mk = np.nonzero(rng.random((n, 4)) < prob[:, None])
        module = c.modules[si, mk]
        days = monday + ((day + module) % 5)
        minutes = rng.integers(30, 61, len(si)) if online else np.full(len(si), np.nan)
        at = hour * 60 + rng.integers(-5, 10, len(si))
        source = "online" if online else "attendance"
        parts.append(_rows(c, source, si, days, c.codes[module], 1, minutes, at))
    scale = 1.0 if teaching else 0.3
    si, d = np.nonzero(rng.random((n, 7)) < (c.vle_days * f * scale / 7)[:, None])
    events = 1 + rng.poisson(c.vle_events[si])
    at = rng.integers(8 * 60, 23 * 60, len(si))
    parts.append(_rows(c, "vle", si, monday + d, "", events, np.nan, at))
    si, d = np.nonzero(rng.random((n, 7)) < (c.capture * f * scale)[:, None])
    module = c.codes[c.modules[si, rng.integers(0, 4, len(si))]]
    minutes = rng.integers(5, 91, len(si))
    at = rng.integers(9 * 60, 23 * 60, len(si))
    parts.append(_rows(c, "lecture_capture", si, monday + d, module, 1, minutes, at))
    return pd.concat(parts, ignore_index=True)


def submissions_frame(c: Cohort, weeks: int) -> pd.DataFrame:
    """Each module's assignments due (Friday 16:00) before the last week: on time, late or missing."""
    rng = np.random.default_rng([c.seed, 99])
    parts = []
    for w in (w for w in ASSIGNMENT_WEEKS if w < weeks - 1):
        due = np.datetime64(week_start(w), "m") + np.timedelta64((4 * 24 + 16) * 60, "m")
        submitted = rng.random((len(c.ids), 4)) < (c.submit * c.factor(w))[:, None]
        late = rng.random(submitted.shape) < 0.12
        offset = np.where(
            late, rng.integers(10, 2800, late.shape), -rng.integers(5, 4000, late.shape)
        )
        at = np.where(submitted, due + offset.astype("timedelta64[m]"), np.datetime64("NaT"))
        status = np.where(submitted, np.where(late, "late", "on_time"), "missing")
        parts.append(
            pd.DataFrame(
                {
                    "student_id": np.repeat(c.ids, 4),
                    "assignment_id": [f"{c.codes[m]}-A{w:02d}" for m in c.modules.ravel()],
                    "module_code": c.codes[c.modules.ravel()],
                    "due_at": np.full(at.size, due).astype("datetime64[us]"),
                    "submitted_at": at.ravel().astype("datetime64[us]"),
                    "status": status.ravel(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def submission_activity(subs: pd.DataFrame) -> pd.DataFrame:
    """Daily `submission` activity as the pipeline derives it (submissions made that day)."""
    made = subs[subs["submitted_at"].notna()]
    daily = pd.DataFrame(
        {
            "student_id": made["student_id"],
            "source": "submission",
            "day": made["submitted_at"].dt.normalize().astype("datetime64[ns]"),
            "module_code": made["module_code"],
            "quantity": 1.0,
        }
    )
    keys = ["student_id", "source", "day", "module_code"]
    daily = daily.groupby(keys, as_index=False)["quantity"].sum()
    return daily.assign(minutes=np.nan)


# --- the store -------------------------------------------------------------------------------------


def fresh_store(url: str) -> None:
    """A PostgreSQL URL gets its database dropped and created again (a SQLite file is new)."""
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def add_load(session, source: str, frame: pd.DataFrame, first: date, last: date) -> int:
    """A Load row for one bulk part, as the pipeline records a loaded file."""
    from lib.store.models import Load

    name = f"bench-{source}.csv"
    students = int(frame["student_id"].nunique()) if "student_id" in frame else 0
    load = Load(
        source=source,
        file_name=name,
        content_hash=hashlib.sha256(f"bench:{name}:{len(frame)}".encode()).hexdigest(),
        loaded_at=datetime.now().replace(microsecond=0),
        loaded_by="bench",
        rows_read=len(frame),
        rows_loaded=len(frame),
        students=students,
        status="loaded",
        first_date=first,
        last_date=last,
    )
    session.add(load)
    session.flush()
    return load.id


def fill_structure(session, c: Cohort, weeks: int) -> None:
    """Students, calendar, modules, enrolments and timetable, each with its Load."""
    from lib.store.bulk import bulk_upsert
    from lib.store.models import CalendarPeriod, Enrolment, Module, Student, TimetableEvent

    first, last = week_start(0), week_start(weeks) - timedelta(days=1)
    students = students_frame(c)
    calendar = calendar_frame()
    enrolments = enrolments_frame(c)
    timetable = timetable_frame(c, weeks)
    modules = pd.DataFrame({"module_code": c.codes, "title": c.codes, "school": None})
    for source, table, frame, keys in (
        ("students", Student, students, ["student_id"]),
        ("calendar", CalendarPeriod, calendar, ["kind", "start", "end"]),
        ("enrolments", Enrolment, enrolments, ["student_id", "module_code", "academic_year"]),
        ("timetable", TimetableEvent, timetable, ["event_id"]),
    ):
        load_id = add_load(session, source, frame, first, last)
        if source == "enrolments":
            bulk_upsert(session, Module.__table__, modules, ["module_code"])
        bulk_upsert(session, table.__table__, frame.assign(load_id=load_id), keys)


def fill_activity(session, c: Cohort, weeks: int) -> tuple[int, float]:
    """Daily activity of weeks 1..weeks-1 (a load per source and week, as the weekly exports
    bring them) and the submissions due then; after each week the weekly activity totals are
    folded as the compute after that week's loads would. Returns activity rows and the seconds
    the folds took."""
    from lib.compute.totals import fold
    from lib.ingest.store import write_activity
    from lib.store.bulk import bulk_upsert
    from lib.store.models import Load, Submission

    subs = submissions_frame(c, weeks)
    if not subs.empty:
        first, last = week_start(0), week_start(weeks - 1) - timedelta(days=1)
        load_id = add_load(session, "submissions", subs, first, last)
        bulk_upsert(
            session,
            Submission.__table__,
            subs.assign(load_id=load_id),
            ["student_id", "assignment_id"],
        )
    rows, fold_seconds = 0, 0.0
    for w in range(weeks - 1):
        frame = week_activity(c, w).drop(columns="at_minute")
        if w == weeks - 2 and not subs.empty:
            frame = pd.concat([frame, submission_activity(subs)], ignore_index=True)
        first, last = week_start(w), week_start(w + 1) - timedelta(days=1)
        for source, part in frame.groupby("source", sort=False):
            part.attrs["daily"] = True
            load_id = add_load(session, LOAD_SOURCE[str(source)], pd.DataFrame(), first, last)
            count = write_activity(session, part, load_id)
            session.get(Load, load_id).rows_read = session.get(Load, load_id).rows_loaded = count
            rows += count
        session.commit()
        started = time.perf_counter()
        fold(session)
        session.commit()
        fold_seconds += time.perf_counter() - started
    return rows, fold_seconds


def build_store(url: str, c: Cohort, weeks: int) -> dict:
    """Migrate and fill the store (all weeks but the last); returns counts and seconds."""
    from lib.store.db import init_db, session_scope
    from lib.store.statistics import refresh_after_load

    started = time.perf_counter()
    fresh_store(url)
    init_db(url)
    with session_scope(url) as session:
        fill_structure(session, c, weeks)
        session.commit()
        rows, fold_seconds = fill_activity(session, c, weeks)
        # statistics as weekly loads leave them (`python -m lib ingest` analyzes after each big
        # load): without any, PostgreSQL plans `load_id > ?` as a scan of 9M rows
        refresh_after_load(session, rows)
    return {
        "daily_activity_rows": rows,
        "build_seconds": time.perf_counter() - started,
        "fold_seconds": fold_seconds,
    }


def write_week_csv(c: Cohort, w: int, path: Path) -> int:
    """Week w's activity as a canonical `events` file (one row per student, source, day, module)."""
    from lib.ingest.parsers.canonical import EVENT_COLUMNS

    frame = week_activity(c, w)
    moment = frame["day"] + pd.to_timedelta(frame["at_minute"], unit="m")
    frame["occurred_at"] = moment.dt.strftime("%Y-%m-%dT%H:%M")
    frame["quantity"] = frame["quantity"].astype(int)
    frame[EVENT_COLUMNS].to_csv(path, index=False)
    return len(frame)


def first_compute(url: str) -> dict:
    from lib.compute.service import compute
    from lib.store.db import session_scope
    from lib.store.statistics import refresh_after_compute

    started, cpu = time.perf_counter(), time.process_time()
    with session_scope(url) as session:
        result = compute(session).as_dict()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    with session_scope(url) as session:  # as the load use case does after its compute
        refresh_after_compute(session, result.get("measures_written"))
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "result": result}


# --- child processes -------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident memory (children start from a small parent)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _count(session, table: str) -> int:
    from sqlalchemy import text

    return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)


def child_incremental(url: str, csv: Path) -> dict:
    """Load the week's events file as `python -m lib ingest events` does, then compute."""
    from lib.compute.service import compute
    from lib.ingest.pipeline import load_files
    from lib.store.db import session_scope
    from lib.store.statistics import refresh_after_load

    started = time.perf_counter()
    with session_scope(url) as session:
        reports = load_files(session, "events", [csv], loaded_by="bench")
        refresh_after_load(session, reports[0].rows_loaded)  # as the load use case does
    load_seconds = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    with session_scope(url) as session:
        result = compute(session).as_dict()
    incremental_seconds = time.perf_counter() - started
    incremental_cpu = time.process_time() - cpu
    floor = week_floor(url)
    correction = correct_two_weeks_back(url, csv.with_name("correction.csv"))
    newcomers = students_only_load(url, csv.with_name("students.csv"))
    with session_scope(url) as session:
        counts = {t: _count(session, t) for t in ("daily_activity", "weekly_measures", "flags")}
    return {
        "load": reports[0].as_json() | {"message": reports[0].message},
        "load_seconds": load_seconds,
        "incremental_seconds": incremental_seconds,
        "incremental_cpu_seconds": incremental_cpu,
        "incremental_result": result,
        **floor,
        **correction,
        **newcomers,
        "counts": counts,
        "peak_rss_mb": peak_rss_mb(),
    }


def week_floor(url: str) -> dict:
    """The physical floor of the incremental's measure writes: the newest week's measure rows
    (one wide row per student) inserted again, bare (one transaction, no pauses), into the same
    populated table under a version no reader sees (-1), then deleted (untimed). Only the insert
    is timed."""
    from sqlalchemy import func, select

    from lib.store.db import session_scope
    from lib.store.measures import copy_types
    from lib.store.models import WeeklyMeasure

    columns = [c.name for c in WeeklyMeasure.__table__.columns if c.name not in ("v_from", "v_to")]
    names = ", ".join(columns)
    with session_scope(url) as session:
        newest = session.scalar(select(func.max(WeeklyMeasure.week_start)))
        raw = session.connection().connection.dbapi_connection
        sqlite = url.startswith("sqlite")
        mark = "?" if sqlite else "%s"
        cursor = raw.cursor()
        cursor.execute(
            f"SELECT {names} FROM weekly_measures WHERE week_start = {mark} AND v_to IS NULL",
            (str(newest) if sqlite else newest,),
        )
        rows = [(*row, -1) for row in cursor.fetchall()]
        session.commit()
        started, cpu = time.perf_counter(), time.process_time()
        if sqlite:
            marks = ", ".join("?" for _ in range(len(columns) + 1))
            cursor.executemany(
                f"INSERT INTO weekly_measures ({names}, v_from) VALUES ({marks})", rows
            )
        else:  # a binary COPY, as the compute writes
            sql = f"COPY weekly_measures ({names}, v_from) FROM STDIN (FORMAT BINARY)"
            with cursor.copy(sql) as copy:
                copy.set_types(copy_types("weekly_measures", [*columns, "v_from"]))
                for row in rows:
                    copy.write_row(row)
        raw.commit()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        cursor.execute(
            f"DELETE FROM weekly_measures WHERE week_start = {mark} AND v_from = -1",
            (str(newest) if sqlite else newest,),
        )
        raw.commit()
        cursor.close()
    return {"week_floor_rows": len(rows), "week_floor_seconds": seconds, "week_floor_cpu": cpu}


def correct_two_weeks_back(url: str, path: Path, students: int = 2000) -> dict:
    """A corrected Moodle day two weeks back for `students` students (a re-export), loaded and
    computed: the engine resumes from the state kept before that week."""
    from sqlalchemy import func, select

    from lib.compute.service import compute
    from lib.ingest.parsers.canonical import EVENT_COLUMNS
    from lib.ingest.pipeline import load_files
    from lib.store.db import session_scope
    from lib.store.models import Student, WeeklyMeasure

    with session_scope(url) as session:
        newest = session.scalar(select(func.max(WeeklyMeasure.week_start)))
        ids = list(session.scalars(select(Student.student_id).order_by(Student.student_id)))
    day = newest - timedelta(days=12)  # the Wednesday two weeks before the newest week
    frame = pd.DataFrame({"student_id": ids[:students]})
    frame = frame.assign(
        source="vle", occurred_at=f"{day}T10:00", quantity=7, minutes="", module_code=""
    )
    frame[EVENT_COLUMNS].to_csv(path, index=False)
    with session_scope(url) as session:
        load_files(session, "events", [path], loaded_by="bench")
    started = time.perf_counter()
    with session_scope(url) as session:
        result = compute(session).as_dict()
    return {
        "correction_rows": len(frame),
        "correction_seconds": time.perf_counter() - started,
        "correction_result": result,
    }


def students_only_load(url: str, path: Path, students: int = 2000) -> dict:
    """A students file of `students` new students (no activity yet), loaded and computed: the
    measure rows stored before and after, and what the compute wrote."""
    from lib.compute.service import compute
    from lib.ingest.pipeline import load_files
    from lib.store.db import session_scope

    cohort = make_cohort(students, 3, seed=2)
    ids = [f"{26000000 + i}" for i in range(students)]
    frame = students_frame(cohort).assign(
        student_id=ids,
        email=[f"s{s}@uni.example.ac.uk" for s in ids],
        visa_sponsored=np.where(students_frame(cohort)["visa_sponsored"], "yes", "no"),
    )
    frame.to_csv(path, index=False)
    with session_scope(url) as session:
        before = _count(session, "weekly_measures")
        report = load_files(session, "students", [path], loaded_by="bench")[0]
    assert report.rows_loaded == students, report.message
    started = time.perf_counter()
    with session_scope(url) as session:
        result = compute(session).as_dict()
    seconds = time.perf_counter() - started
    with session_scope(url) as session:
        after = _count(session, "weekly_measures")
    return {
        "students_only_rows": students,
        "students_only_seconds": seconds,
        "students_only_result": result,
        "students_only_measure_rows_written": result.get("measures_written"),
        "students_only_measure_rows_before_after": [before, after],
    }


def _fetch(session, sql: str, columns: list[str], chunk: int = 200_000) -> pd.DataFrame:
    """Rows of a query as a frame, fetched in chunks (text columns as categories: bounded memory)."""
    cursor = session.connection().connection.dbapi_connection.cursor()
    parts = []
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(chunk):
            part = pd.DataFrame.from_records(rows, columns=columns, nrows=len(rows))
            parts.append(part.astype({c: "category" for c in columns if part[c].dtype == object}))
    finally:
        cursor.close()
    if not parts:
        return pd.DataFrame(columns=columns)
    texts = [c for c in columns if isinstance(parts[0][c].dtype, pd.CategoricalDtype)]
    frame = pd.concat([p.drop(columns=texts) for p in parts], ignore_index=True)
    for c in texts:  # categories of every chunk (a plain concat would make Python strings)
        frame[c] = union_categoricals([p[c] for p in parts])
    return frame[columns]


def results(url: str) -> dict[str, pd.DataFrame]:
    """Weekly measures (those readers see), flags and data-quality events as stored, in a stable
    order."""
    from sqlalchemy import select

    from lib.store.db import session_scope
    from lib.store.measures import OTHER_COLUMNS, WIDE_COLUMNS, long_frame
    from lib.store.models import WeeklyMeasure, WeeklyMeasureOther
    from lib.store.results_version import measures_visible

    stored = []
    with session_scope(url) as session:
        for model, names in ((WeeklyMeasure, WIDE_COLUMNS), (WeeklyMeasureOther, OTHER_COLUMNS)):
            visible = select(*(getattr(model, c) for c in names)).where(measures_visible(model))
            sql = str(visible.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
            stored.append(_fetch(session, sql, names))
        measures = long_frame(*stored)  # one row per source, as readers see them
        flags = _fetch(session, f"SELECT {FLAG_COLUMNS} FROM flags", FLAG_COLUMNS.split(", "))
        dq = _fetch(
            session, f"SELECT {DQ_COLUMNS} FROM data_quality_events", DQ_COLUMNS.split(", ")
        )
    measures["week_start"] = pd.to_datetime(measures["week_start"].astype(str))
    measures = measures.sort_values(MEASURE_KEYS, ignore_index=True)
    flags = flags.astype(str).sort_values(list(flags.columns), ignore_index=True)
    dq["share_affected"] = dq["share_affected"].astype(float).round(9)
    dq = dq.astype(str).sort_values(list(dq.columns), ignore_index=True)
    return {"measures": measures, "flags": flags, "dq": dq}


def child_results(url: str, path: Path) -> dict:
    """results() saved as parquet files beside `path` (read in a child of its own: the check
    child's peak memory is the full recompute's)."""
    frames = results(url)
    for name, frame in frames.items():
        frame.to_parquet(f"{path}.{name}.parquet")
    return {"measure_rows": len(frames["measures"]), "peak_rss_mb": peak_rss_mb()}


def saved_results(path: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(f"{path}.{name}.parquet") for name in ("measures", "flags", "dq")}


def measures_differ(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Rows that differ (numbers within 1e-6); every row when the keys differ."""
    same_keys = len(a) == len(b) and all(
        np.array_equal(a[c].to_numpy(), b[c].to_numpy()) for c in MEASURE_KEYS
    )
    if not same_keys:
        return max(len(a), len(b))
    bad = np.zeros(len(a), bool)
    for column in MEASURE_NUMBERS:
        x, y = a[column].astype(float).to_numpy(), b[column].astype(float).to_numpy()
        bad |= ~np.isclose(x, y, rtol=1e-6, atol=1e-6, equal_nan=True)
    for column in ("cold_start", "teaching"):
        bad |= a[column].astype(bool).to_numpy() != b[column].astype(bool).to_numpy()
    return int(bad.sum())


def rows_differ(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Rows in one frame and not in the other (text columns)."""
    merged = a.merge(b, how="outer", indicator=True)
    return int((merged["_merge"] != "both").sum())


def floor_insert(url: str) -> dict:
    """The physical floor of writing the measures: the stored measure rows (one wide row per
    student-week), fetched, then inserted bare (one transaction, no versions, no pauses) into an
    empty table of the same definition and indexes (a new SQLite file; a temporary table on
    PostgreSQL). Only the insert is timed."""
    from sqlalchemy import create_engine

    from lib.store.db import session_scope
    from lib.store.measures import copy_types
    from lib.store.models import WeeklyMeasure

    columns = [c.name for c in WeeklyMeasure.__table__.columns]
    names = ", ".join(columns)
    with session_scope(url) as session:
        cursor = session.connection().connection.dbapi_connection.cursor()
        cursor.execute(f"SELECT {names} FROM weekly_measures")
        rows = cursor.fetchall()
        cursor.close()
    seconds = cpu = 0.0
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///")).with_name("bench_floor.db")
        path.unlink(missing_ok=True)
        engine = create_engine(f"sqlite:///{path}")
        WeeklyMeasure.__table__.create(engine)
        engine.dispose()
        import sqlite3

        conn = sqlite3.connect(path)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-262144"):
            conn.execute(f"PRAGMA {pragma}")
        marks = ", ".join("?" for _ in columns)
        started, cpu0 = time.perf_counter(), time.process_time()
        conn.executemany(f"INSERT INTO weekly_measures ({names}) VALUES ({marks})", rows)
        conn.commit()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu0
        conn.close()
        path.unlink(missing_ok=True)
    else:
        with session_scope(url) as session:
            raw = session.connection().connection.dbapi_connection
            with raw.cursor() as cur:
                cur.execute("CREATE TEMP TABLE bench_floor (LIKE weekly_measures INCLUDING ALL)")
                started, cpu0 = time.perf_counter(), time.process_time()
                sql = f"COPY bench_floor ({names}) FROM STDIN (FORMAT BINARY)"
                with cur.copy(sql) as copy:  # binary, as the compute writes
                    copy.set_types(copy_types("weekly_measures", columns))
                    for row in rows:
                        copy.write_row(row)
                raw.commit()
                seconds, cpu = time.perf_counter() - started, time.process_time() - cpu0
    return {"floor_rows": len(rows), "floor_seconds": seconds, "floor_cpu_seconds": cpu}


def child_check(url: str) -> dict:
    """Full recompute after the incremental one: its time and peak memory (the results compared
    are read by other children), then the floor of its measure writes."""
    from lib.compute.service import compute
    from lib.store.db import session_scope

    started, cpu = time.perf_counter(), time.process_time()
    with session_scope(url) as session:
        result = compute(session, full=True).as_dict()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    peak = peak_rss_mb()
    return {
        "full_recompute_seconds": seconds,
        "full_recompute_cpu_seconds": cpu,
        "full_result": result,
        "peak_rss_mb": peak,
        **floor_insert(url),
    }


def compare(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> dict:
    """Differences between the results before and after the full recompute."""
    return {
        "measures": measures_differ(before["measures"], after["measures"]),
        "flags": rows_differ(before["flags"], after["flags"]),
        "dq": rows_differ(before["dq"], after["dq"]),
    }


def child(script: str, *args: str) -> dict:
    """run_child, showing the child's stderr when it fails."""
    try:
        return run_child(script, *args)
    except subprocess.CalledProcessError as exc:
        sys.stderr.write(exc.stderr or "")
        raise


# --- main ------------------------------------------------------------------------------------------


def child_build(url: str, students: int, weeks: int, seed: int, csv: Path) -> dict:
    """Build the store, run the first compute over weeks 1..weeks-1, write week `weeks`' file."""
    cohort = make_cohort(students, weeks, seed)
    built = build_store(url, cohort, weeks)
    first = first_compute(url)
    return {
        **built,
        "modules": len(cohort.codes),
        "students_dropping": int((cohort.drop_week < weeks).sum()),
        "first": first,
        "week_rows": write_week_csv(cohort, weeks - 1, csv),
        "peak_rss_mb": peak_rss_mb(),
    }


def run(args: argparse.Namespace, folder: Path) -> dict:
    """Each step in its own child process (peak memory is per process, see bench/harness.py)."""
    url = args.store or f"sqlite:///{folder / 'bench_incremental.db'}"
    csv = folder / f"events-week{args.weeks:02d}.csv"
    sizes = (str(args.students), str(args.weeks), str(args.seed), str(csv))
    load_before = os.getloadavg()
    built = child(__file__, "--child", "build", url, *sizes)
    first = built["first"]
    inc = child(__file__, "--child", "incremental", url, str(csv))
    out = {
        "benchmark": "incremental",
        # cpu seconds: this process's (SQLite runs in it; PostgreSQL's server work is not counted)
        "load_average_1m_start_end": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "store": url.split(":")[0].split("+")[0],
        "students": args.students,
        "weeks": args.weeks,
        "modules": built["modules"],
        "students_dropping": built["students_dropping"],
        "daily_activity_rows": inc["counts"]["daily_activity"],
        "week_load_rows": built["week_rows"],
        "measure_rows": inc["counts"]["weekly_measures"],
        "flags": inc["counts"]["flags"],
        "build_seconds": round(built["build_seconds"], 2),
        "build_fold_seconds_per_week": round(built["fold_seconds"] / (args.weeks - 1), 2),
        "full_compute_seconds": round(first["seconds"], 2),
        "full_compute_cpu_seconds": round(first["cpu_seconds"], 2),
        "full_compute_result": first["result"],
        "load_seconds": round(inc["load_seconds"], 2),
        "load": inc["load"],
        "incremental_seconds": round(inc["incremental_seconds"], 2),
        "incremental_cpu_seconds": round(inc["incremental_cpu_seconds"], 2),
        # the physical floor: the new week's measure rows inserted bare into the same table
        "week_floor_rows": inc["week_floor_rows"],
        "week_floor_seconds": round(inc["week_floor_seconds"], 2),
        "week_floor_cpu_seconds": round(inc["week_floor_cpu"], 2),
        "ratio_incremental_vs_week_floor": round(
            inc["incremental_seconds"] / inc["week_floor_seconds"], 2
        ),
        "incremental_result": inc["incremental_result"],
        "correction_two_weeks_back_rows": inc.get("correction_rows"),
        "correction_seconds": round(inc.get("correction_seconds", float("nan")), 2),
        "correction_result": inc.get("correction_result"),
        "students_only_load_rows": inc["students_only_rows"],
        "students_only_compute_seconds": round(inc["students_only_seconds"], 2),
        "students_only_result": inc["students_only_result"],
        "students_only_measure_rows_written": inc["students_only_measure_rows_written"],
        "students_only_measure_rows_before_after": inc["students_only_measure_rows_before_after"],
        "ratio_incremental_vs_first_compute": round(
            inc["incremental_seconds"] / first["seconds"], 3
        ),
        "peak_rss_mb_build": round(built["peak_rss_mb"]),
        "peak_rss_mb_load_and_incremental": round(inc["peak_rss_mb"]),
    }
    if args.check:
        saved = folder / "results"
        child(__file__, "--child", "results", url, f"{saved}-before")
        check = child(__file__, "--child", "check", url)
        child(__file__, "--child", "results", url, f"{saved}-after")
        differences = compare(
            saved_results(Path(f"{saved}-before")), saved_results(Path(f"{saved}-after"))
        )
        check |= {"differences": differences, "equal": not any(differences.values())}
        out |= {
            "full_recompute_seconds": round(check["full_recompute_seconds"], 2),
            "full_recompute_cpu_seconds": round(check["full_recompute_cpu_seconds"], 2),
            "full_recompute_result": check["full_result"],
            "incremental_equals_full": check["equal"],
            "differences": check["differences"],
            "ratio_incremental_vs_full": round(
                inc["incremental_seconds"] / check["full_recompute_seconds"], 3
            ),
            "peak_rss_mb_full_recompute": round(check["peak_rss_mb"]),
            # the physical floor: the same rows inserted bare into an empty table alike
            "floor_rows": check["floor_rows"],
            "floor_seconds": round(check["floor_seconds"], 2),
            "floor_cpu_seconds": round(check["floor_cpu_seconds"], 2),
            "ratio_full_recompute_vs_floor": round(
                check["full_recompute_seconds"] / check["floor_seconds"], 2
            ),
        }
    out["load_average_1m_start_end"][1] = round(os.getloadavg()[0], 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40_000)
    parser.add_argument("--weeks", type=int, default=20, help="teaching-calendar weeks (>= 3)")
    parser.add_argument("--store", default=None, help="DATABASE_URL (default: a temp SQLite file)")
    parser.add_argument("--check", action="store_true", help="compare with a full recompute")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, url, *rest = args.child
        if kind == "build":
            result = child_build(url, int(rest[0]), int(rest[1]), int(rest[2]), Path(rest[3]))
        elif kind == "incremental":
            result = child_incremental(url, Path(rest[0]))
        elif kind == "results":
            result = child_results(url, Path(rest[0]))
        else:
            result = child_check(url)
        print(json.dumps(result, default=str))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench_incr_") as tmp:
        print(json.dumps(run(args, Path(tmp)), indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
