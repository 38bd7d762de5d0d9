"""Benchmark of the app pages at university scale, printed as JSON.

Builds a store with N students (default 40,000) of engine output directly in bulk (students,
enrolments, weekly measures per source plus the index, flags, a data-quality event, the calendar)
without running the engine, then times in AppTest, logged in through Home.py as a wellbeing user
(whose scope is every student): the Cohort page, the Student page and an empty page registered in
the same navigation, each on its first run and warm (median of reruns).

    python bench/app.py [--students 40000] [--weeks 20] [--db /tmp/bench_app.db] [--reuse]
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import harness  # noqa: E402

PASSWORD = "bench-password-123"
FIRST_WEEK = date(2025, 9, 22)
SOURCES = ("attendance", "vle", "submission", "lecture_capture")
SCHOOLS = ("Science", "Engineering", "Business", "Arts", "Law", "Medicine", "Education", "Music")


def build_store(url: str, students: int, weeks: int, seed: int = 1) -> dict:
    """Fill an empty migrated store with synthetic engine output; returns counts and seconds."""
    from lib.auth import add_user
    from lib.store.db import get_engine, init_db, session_factory
    from lib.store.measures import WIDE_SOURCES

    started = time.perf_counter()
    init_db(url)
    rng = np.random.default_rng(seed)
    engine = get_engine(url)
    ids = [f"B{i:06d}" for i in range(students)]
    school = rng.integers(0, len(SCHOOLS), students)
    course = school * 10 + rng.integers(0, 10, students)
    year = rng.integers(1, 5, students)
    visa = rng.random(students) < 0.15
    tutors = students // 30 + 1
    tutor = rng.integers(0, tutors, students)
    now = datetime.now()
    student_rows = [
        (
            ids[i],
            f"Given{i}",
            f"Family{i}",
            f"{ids[i].lower()}@uni.example",
            None,
            None,
            f"C{course[i]:03d}",
            f"Course {course[i]}",
            SCHOOLS[school[i]],
            "UG" if year[i] < 4 else "PGT",
            int(year[i]),
            "FT",
            f"tutor{tutor[i]:04d}",
            bool(visa[i]),
            "on_campus" if i % 3 == 0 else "off_campus",
            "enrolled",
            FIRST_WEEK,
        )
        for i in range(students)
    ]
    enrolment_rows = [
        (ids[i], f"M{course[i]:03d}{k}", 2025) for i in range(students) for k in range(4)
    ]
    week_starts = [FIRST_WEEK + timedelta(weeks=w) for w in range(weeks)]
    teaching = np.array([w not in (6, 12, 13) for w in range(weeks)])
    drop_from = np.where(rng.random(students) < 0.08, rng.integers(8, weeks, students), weeks)
    base = {s: rng.lognormal(1.0, 0.5, students) for s in ("index", *SOURCES)}

    measured = sum(1 << WIDE_SOURCES.index(s) for s in base)  # one wide row a student-week
    columns = [f"{s}_{c}" for s in base for c in ("value", "baseline", "spread")]

    def measure_rows(w: int, week: date):
        dropped = w >= drop_from
        factor = np.where(dropped, 0.15, 1.0) * rng.normal(1.0, 0.15, students).clip(0.2)
        cells = []
        for baseline in base.values():
            value = (baseline * factor).tolist() if teaching[w] else [None] * students
            # a usual range of 70% to 130% of the baseline
            cells += [value, baseline.tolist(), (baseline * 0.15).tolist()]
        cold, is_teaching = measured if w < 3 else 0, bool(teaching[w])
        for i in range(students):
            yield (ids[i], week, is_teaching, measured, cold, *(c[i] for c in cells))

    flagged = np.nonzero(drop_from < weeks)[0]
    flag_rows = [
        (
            ids[i],
            "index_drop" if i % 2 else "no_engagement",
            ("high", "medium", "low")[i % 3],
            week_starts[int(drop_from[i])],
            None,
            f"Combined engagement fell from 100% to 15% of the usual level in week {drop_from[i]}",
            None,
            now,
        )
        for i in flagged
    ]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.executemany(
            "INSERT INTO students (student_id, given_name, family_name, email, personal_email,"
            " phone, course_code, course_name, school, level, year_of_study, mode,"
            " tutor_username, visa_sponsored, residence, status, start_date)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            student_rows,
        )
        cur.executemany(
            "INSERT INTO enrolments (student_id, module_code, academic_year) VALUES (?,?,?)",
            enrolment_rows,
        )
        for w, week in enumerate(week_starts):
            cur.executemany(
                "INSERT INTO weekly_measures (student_id, week_start, teaching, measured, cold, "
                f"{', '.join(columns)}) VALUES ({', '.join('?' * (5 + len(columns)))})",
                measure_rows(w, week),
            )
        cur.executemany(
            "INSERT INTO flags (student_id, kind, severity, week_start, ended_week, explanation,"
            " recovery_explanation, computed_at) VALUES (?,?,?,?,?,?,?,?)",
            flag_rows,
        )
        cur.execute(
            "INSERT INTO data_quality_events (week_start, source, module_code, share_affected,"
            " students_affected, explanation) VALUES (?,?,?,?,?,?)",
            (week_starts[9], "attendance", "M0100", 0.9, 120, "QR scanner outage in M0100"),
        )
        for kind, start, end, label in (
            ("term", week_starts[0], week_starts[11] + timedelta(days=4), "Autumn"),
            ("reading_week", week_starts[6], week_starts[6] + timedelta(days=4), "Reading week"),
            ("vacation", week_starts[12], week_starts[13] + timedelta(days=6), "Winter"),
        ):
            cur.execute(
                'INSERT INTO calendar_periods (kind, start, "end", label) VALUES (?,?,?,?)',
                (kind, start, end, label),
            )
        raw.commit()
    finally:
        raw.close()
    with session_factory(url)() as session:
        add_user(session, "bench_wb", role="wellbeing", password=PASSWORD)
        session.commit()
    return {
        "students": students,
        "weeks": weeks,
        "weekly_measures": students * weeks,
        "flags": len(flag_rows),
        "build_seconds": round(time.perf_counter() - started, 2),
    }


def time_pages(student_id: str, warm_runs: int = 5) -> dict:
    """First and warm AppTest run times of the Cohort, Student and an empty page."""
    from lib import access

    at, login_seconds, empty = harness.logged_in_app("wellbeing", "bench_wb", PASSWORD)
    out: dict = {"login_s": round(login_seconds, 3)}
    for name, path, params in (
        ("empty", str(empty), {}),
        ("cohort", access.PAGES["cohort"].path, {}),
        ("student", access.PAGES["student"].path, {"id": student_id}),
    ):
        at.switch_page(path)
        at.query_params.clear()
        for key, value in params.items():
            at.query_params[key] = value
        out[name] = harness.first_and_warm(at, warm_runs)
        out[name]["title"] = at.title[0].value if at.title else None
        if name == "cohort":
            out[name]["students_metric"] = at.metric[0].value
            out[name]["plotly_charts"] = len(at.get("plotly_chart"))
        if name == "student":
            out[name]["header"] = at.header[0].value if at.header else None
            out[name]["plotly_charts"] = len(at.get("plotly_chart"))
    harness.against_empty(out, ("cohort", "student"), "cohort", 2.0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = harness.store_parser(__doc__, "/tmp/bench_app.db")
    args = parser.parse_args(argv)
    result: dict = {"benchmark": "app", "store": "sqlite"}
    result["data"] = harness.sqlite_store(
        args.db, args.reuse, lambda url: build_store(url, args.students, args.weeks)
    )
    result["pages"] = time_pages(student_id="B000001")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
