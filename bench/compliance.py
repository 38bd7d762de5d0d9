"""Benchmark of visa compliance statuses for every sponsored student over the timetabled year, as JSON.

Builds a migrated store (a temp SQLite file, or --store URL) with bench/incremental.py's synthetic
university: N students (default 8,000, all made sponsored here), ~N/100 modules with 4 enrolments
per student, 3 timetabled sessions per module and teaching week (autumn and spring terms with their
reading weeks and the Christmas vacation, Sept-March: 22 teaching weeks, --weeks 27), daily activity
(QR, Teams, Moodle, Echo360, submissions) and submissions; ~5% of students drop at some week. Then,
as of the end of the last week, it times:
- reference: reading the compliance inputs from the store (`lib.compliance.read.read_inputs`);
- compute: the statuses from those inputs (`lib.compliance.status.compute`);
- total: `lib.compliance.service.result`, what `python -m lib compliance` runs (read + compute).
The budget is total <= 10 s; ratio = total / reference.

    python bench/compliance.py [--students 8000] [--weeks 27] [--store URL] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from harness import ROOT  # noqa: F401  (puts the repository on sys.path)
from incremental import build_store, make_cohort, week_start

BUDGET_SECONDS = 10.0


def run(args: argparse.Namespace, folder: Path) -> dict:
    import os

    url = args.store or f"sqlite:///{folder / 'compliance.db'}"
    os.environ["DATABASE_URL"] = url
    from sqlalchemy import update

    from lib.compliance import service
    from lib.compliance.policy import load_thresholds
    from lib.compliance.read import read_inputs
    from lib.compliance.status import compute
    from lib.store.db import session_scope
    from lib.store.models import Student
    from lib.workdays import working_days

    cohort = make_cohort(args.students, args.weeks, args.seed)
    built = build_store(url, cohort, args.weeks)
    as_of = week_start(args.weeks - 1)  # activity is built up to the day before this Monday
    with session_scope(url) as session:
        session.execute(update(Student).values(visa_sponsored=True))
        session.commit()
        thresholds = load_thresholds(session)
        workdays = working_days(session)

        started = time.perf_counter()
        inputs = read_inputs(session, as_of, thresholds)
        read_seconds = time.perf_counter() - started

        started = time.perf_counter()
        computed = compute(inputs, thresholds, as_of, workdays)
        compute_seconds = time.perf_counter() - started

        started = time.perf_counter()
        total = service.result(session, as_of)
        total_seconds = time.perf_counter() - started
    statuses = total.statuses
    points = total.points
    return {
        "bench": "compliance",
        "store": url.split(":")[0],
        "students": int(len(statuses)),
        "as_of": as_of.isoformat(),
        "contact_points": int(len(points)),
        "points_met": int((points["state"] == "met").sum()),
        "activity_days_read": int(len(inputs.activity_days)),
        "daily_activity_rows": built["daily_activity_rows"],
        "build_seconds": round(built["build_seconds"], 2),
        "reference_read_seconds": round(read_seconds, 3),
        "compute_seconds": round(compute_seconds, 3),
        "total_seconds": round(total_seconds, 3),
        "ratio_total_to_read": round(total_seconds / read_seconds, 3),
        "budget_seconds": BUDGET_SECONDS,
        "within_budget": total_seconds <= BUDGET_SECONDS,
        "statuses": statuses["status"].value_counts().to_dict(),
        "same_as_separate_steps": bool(computed.statuses["status"].equals(statuses["status"])),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=8000)
    parser.add_argument("--weeks", type=int, default=27)
    parser.add_argument("--store", default=None, help="database URL (default: a temp SQLite file)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(json.dumps(run(args, Path(folder))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
