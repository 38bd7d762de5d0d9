"""Benchmark of visa compliance statuses for every sponsored student over a full academic year, as JSON.

Builds a migrated store (a temp SQLite file, or --store URL) with bench/incremental.py's synthetic
university over a FULL academic year: N students (default 8,000, all made sponsored here), ~N/100
modules with 4 enrolments per student, 3 timetabled sessions per module and teaching week, daily
activity (QR, Teams, Moodle, Echo360) and submissions; ~5% of students drop at some week. The
calendar runs from Monday 2025-09-22 for --weeks 50 weeks (to 2026-09-06): autumn, spring and summer
terms with reading weeks, summer exams, and the Christmas, Easter and summer vacations (28 teaching
weeks). Then, as of the end of the last built week, it times, in this order:
- reference: a bare read (fetch of plain tuples, nothing else) of the raw rows a compliance read
  would otherwise pull: the sponsored students' daily activity in the window;
- read: `lib.compliance.read.read_inputs` (what the statuses are computed from);
- compute: the statuses from those inputs (`lib.compliance.status.compute`);
- total: `lib.compliance.service.result`, what `python -m lib compliance` runs (read + compute);
- floor: the store's own work on the compliance activity query, with nothing sent back (wrapped in
  `SELECT count(*)`): what no client-side change can take away; rows_floor: the same for the bare
  reference rows (finding them, nothing computed).
The budget is total <= 10 s; ratio_total_to_reference = total / reference. cpu_seconds gives each
step's CPU time in this process (on SQLite the store's work is in it too): what the step costs on
an idle core, whatever the machine's load.

    python bench/compliance.py [--students 8000] [--weeks 50] [--store URL] [--seed 1] [--reuse]

--reuse keeps a store that already holds the cohort (a PostgreSQL store is otherwise dropped and
created again; give a database of your own).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import incremental
import pandas as pd
from harness import ROOT  # noqa: F401  (puts the repository on sys.path)
from incremental import build_store, make_cohort, week_start

BUDGET_SECONDS = 10.0
TEACHING = {*range(0, 12), *range(15, 26), *range(28, 35)} - {6, 21}


def full_year_calendar() -> pd.DataFrame:
    """Three terms with reading weeks and summer exams, and the three vacations between them."""

    def days(first: int, last: int, end_day: int = 4) -> tuple[date, date]:
        return week_start(first), week_start(last) + timedelta(days=end_day)

    rows = [
        ("term", *days(0, 11), "Autumn term"),
        ("reading_week", *days(6, 6), "Reading week"),
        ("vacation", week_start(11) + timedelta(days=5), week_start(15) - timedelta(1), "Xmas"),
        ("term", *days(15, 25), "Spring term"),
        ("reading_week", *days(21, 21), "Reading week"),
        ("vacation", week_start(25) + timedelta(days=5), week_start(28) - timedelta(1), "Easter"),
        ("term", *days(28, 37), "Summer term"),
        ("exam", *days(35, 37), "Exams"),
        ("vacation", week_start(37) + timedelta(days=5), week_start(50) - timedelta(1), "Summer"),
    ]
    return pd.DataFrame(rows, columns=["kind", "start", "end", "label"])


def full_year_teaching(w: int) -> bool:
    """Term weeks that are not reading or exam weeks (as the calendar above says)."""
    return w in TEACHING


def use_full_year() -> None:
    """Point bench/incremental.py's synthetic university at the full-year calendar."""
    incremental.calendar_frame = full_year_calendar
    incremental.is_teaching = full_year_teaching
    incremental.ASSIGNMENT_WEEKS = (4, 9, 17, 24, 31, 34)


def wrapped_count(session, statement) -> float:
    """Seconds the store takes to run `statement` with only its row count sent back."""
    from sqlalchemy import func, select

    started = time.perf_counter()
    session.execute(select(func.count()).select_from(statement.subquery())).scalar()
    return time.perf_counter() - started


def run(args: argparse.Namespace, folder: Path) -> dict:
    import os

    url = args.store or f"sqlite:///{folder / 'compliance.db'}"
    os.environ["DATABASE_URL"] = url
    from sqlalchemy import func, select, update

    from lib.compliance import read, service
    from lib.compliance.fetch import fetch_rows
    from lib.compliance.policy import load_thresholds
    from lib.compliance.status import compute
    from lib.store.db import session_scope
    from lib.store.models import DailyActivity, Student
    from lib.workdays import working_days

    use_full_year()
    built = {"daily_activity_rows": None, "build_seconds": None}
    if not args.reuse:
        built = build_store(url, make_cohort(args.students, args.weeks, args.seed), args.weeks)
    as_of = week_start(args.weeks - 1) - timedelta(days=1)  # the last day with activity built
    with session_scope(url) as session:
        session.execute(update(Student).values(visa_sponsored=True))
        session.commit()
        thresholds = load_thresholds(session)
        cpu_seconds: dict[str, float] = {}  # this process's CPU (SQLite's work included)
        workdays = working_days(session)
        first_day = as_of - timedelta(days=thresholds.lookback_days + 7)
        a = DailyActivity
        raw = select(a.student_id, a.source, a.day, a.module_code, a.quantity, a.minutes).where(
            a.student_id.in_(select(Student.student_id).where(Student.visa_sponsored.is_(True))),
            a.day.between(first_day, as_of),
        )

        started, cpu = time.perf_counter(), time.process_time()
        raw_rows = len(fetch_rows(session, raw))
        reference_seconds = time.perf_counter() - started
        cpu_seconds["reference"] = round(time.process_time() - cpu, 3)

        started, cpu = time.perf_counter(), time.process_time()
        inputs = read.read_inputs(session, as_of, thresholds)
        read_seconds = time.perf_counter() - started
        cpu_seconds["read"] = round(time.process_time() - cpu, 3)

        started, cpu = time.perf_counter(), time.process_time()
        computed = compute(inputs, thresholds, as_of, workdays)
        compute_seconds = time.perf_counter() - started
        cpu_seconds["compute"] = round(time.process_time() - cpu, 3)

        started, cpu = time.perf_counter(), time.process_time()
        total = service.result(session, as_of)
        total_seconds = time.perf_counter() - started
        cpu_seconds["total"] = round(time.process_time() - cpu, 3)

        floor_seconds = sum(
            wrapped_count(session, q) for q in read.statements(session, as_of, thresholds)
        )
        rows_floor_seconds = wrapped_count(session, raw)
        activity_rows = session.scalar(select(func.count()).select_from(DailyActivity))
    statuses = total.statuses
    points = total.points
    return {
        "bench": "compliance",
        "store": url.split(":")[0],
        "students": int(len(statuses)),
        "as_of": as_of.isoformat(),
        "weeks": args.weeks,
        "teaching_weeks": sum(1 for w in range(args.weeks - 1) if w in TEACHING),
        "contact_points": int(len(points)),
        "session_points": int((points["kind"] == "session").sum()),
        "points_met": int((points["state"] == "met").sum()),
        "activity_days_read": int(len(inputs.activity_days)),
        "daily_activity_rows": int(activity_rows or 0),
        "raw_rows_reference": raw_rows,
        "build_seconds": None
        if built["build_seconds"] is None
        else round(built["build_seconds"], 1),
        "reference_seconds": round(reference_seconds, 3),
        "read_seconds": round(read_seconds, 3),
        "compute_seconds": round(compute_seconds, 3),
        "total_seconds": round(total_seconds, 3),
        "floor_seconds": round(floor_seconds, 3),
        "rows_floor_seconds": round(rows_floor_seconds, 3),
        "cpu_seconds": cpu_seconds,
        "ratio_total_to_reference": round(total_seconds / reference_seconds, 3),
        "ratio_read_to_reference": round(read_seconds / reference_seconds, 3),
        "ratio_total_to_floor": round(total_seconds / floor_seconds, 3) if floor_seconds else None,
        "budget_seconds": BUDGET_SECONDS,
        "within_budget": total_seconds <= BUDGET_SECONDS,
        "statuses": statuses["status"].value_counts().to_dict(),
        "same_as_separate_steps": bool(computed.statuses["status"].equals(statuses["status"])),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=8000)
    parser.add_argument("--weeks", type=int, default=50)
    parser.add_argument("--store", default=None, help="database URL (default: a temp SQLite file)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="keep the store's data (no build)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(json.dumps(run(args, Path(folder))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
