"""Benchmark: load a generated 5,000,000-row logstore_standard_log export; JSON with rows/s, peak
memory and the ratio of load time to pyarrow.csv.read_csv of the same file in the same run."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from harness import run_child, timed, timed_load

from lib.ingest.parsers.moodle_logstore import COLUMNS

# (eventname, component, action, target, objecttable, crud, edulevel, share)
EVENTS = [
    ("\\core\\event\\course_viewed", "core", "viewed", "course", "NULL", "r", 2, 0.30),
    ("\\mod_resource\\event\\course_module_viewed", "mod_resource", "viewed", "course_module",
     "resource", "r", 2, 0.25),
    ("\\mod_forum\\event\\discussion_viewed", "mod_forum", "viewed", "discussion",
     "forum_discussions", "r", 2, 0.10),
    ("\\mod_forum\\event\\post_created", "mod_forum", "created", "post", "forum_posts", "c", 2,
     0.03),
    ("\\mod_quiz\\event\\attempt_submitted", "mod_quiz", "submitted", "attempt", "quiz_attempts",
     "u", 2, 0.02),
    ("\\core\\event\\user_loggedin", "core", "loggedin", "user", "user", "r", 0, 0.15),
    ("\\mod_assign\\event\\submission_graded", "mod_assign", "graded", "submission",
     "assign_grades", "u", 1, 0.05),
    ("\\core\\event\\dashboard_viewed", "core", "viewed", "dashboard", "NULL", "r", 0, 0.10),
]  # fmt: skip
CHUNK = 500_000


def make_files(
    folder: Path, rows: int, students: int, staff: int, seed: int = 1, spread: bool = False
) -> dict:
    """students.csv, moodle_users.csv, courses.csv and logstore_standard_log.csv of `rows` rows."""
    rng = np.random.default_rng(seed)
    sid = np.array([f"{26000000 + i}" for i in range(students)])
    with open(folder / "students.csv", "w") as handle:
        handle.write(
            "student_id,given_name,family_name,email,personal_email,phone,course_code,"
            "course_name,school,level,year_of_study,mode,tutor_username,visa_sponsored,"
            "residence,status,start_date\n"
        )
        for s in sid:
            handle.write(
                f"{s},Given,Family,s{s}@uni.example.ac.uk,,,G400,CS,Computer Science,UG,1,FT,"
                "t.tutor,no,off_campus,enrolled,2026-09-21\n"
            )
    with open(folder / "moodle_users.csv", "w") as handle:
        handle.write("id,username,idnumber,email,firstname,lastname\n")
        for i, s in enumerate(sid):
            handle.write(f"{1000 + i},s{s},{s},s{s}@uni.example.ac.uk,Given,Family{i}\n")
        for j in range(staff):
            handle.write(f"{1000 + students + j},staff{j},,staff{j}@uni.example.ac.uk,Staff,{j}\n")
    courses = 400
    with open(folder / "courses.csv", "w") as handle:
        handle.write("id,category,fullname,shortname,idnumber\n")
        for c in range(courses):
            handle.write(f"{10 + c},1,Module {c},MOD{1000 + c}-2627,\n")
    names = np.array([e[0] for e in EVENTS], dtype=object)
    share = np.array([e[7] for e in EVENTS])
    start = int(np.datetime64("2026-10-01T00:00:00", "s").astype(np.int64))
    path = folder / "logstore_standard_log.csv"
    options = pacsv.WriteOptions(include_header=True, quoting_style="needed")
    with pacsv.CSVWriter(path, _chunk(rng, 0, 1, students, staff, courses, start, names, share, spread)
                         .schema, write_options=options) as writer:  # fmt: skip
        for first in range(0, rows, CHUNK):
            n = min(CHUNK, rows - first)
            writer.write_table(
                _chunk(rng, first, n, students, staff, courses, start, names, share, spread)
            )
    return {"rows": rows, "file": path}


def _chunk(rng, first, n, students, staff, courses, start, names, share, spread) -> pa.Table:
    """n log rows in study sessions (one student, one of their six courses, ~8 events an hour);
    spread: every row its own session in any course (the worst case for the daily aggregate)."""
    kind = rng.choice(len(EVENTS), n, p=share / share.sum())
    sessions = n if spread else max(n // 8, 1)
    session = np.sort(rng.integers(0, sessions, n))
    s_student = rng.integers(0, students, sessions)
    own = rng.integers(0, courses if spread else 6, sessions)
    s_course = 10 + (s_student * 7 + own) % courses
    s_start = start + rng.integers(0, 30 * 86400, sessions)
    is_staff = rng.random(n) < 0.12
    user = np.where(
        is_staff, 1000 + students + rng.integers(0, staff, n), 1000 + s_student[session]
    )
    level = np.array([e[6] for e in EVENTS])[kind]
    graded = level == 1
    related = np.where(graded, (1000 + s_student[session]).astype(str), "NULL")
    user = np.where(graded, 1000 + students + rng.integers(0, staff, n), user)
    course = np.where(np.isin(kind, [5, 7]), 1, s_course[session])
    when = s_start[session] + rng.integers(0, 3600, n)
    login_as = rng.random(n) < 0.001
    other = np.where(
        kind == 5,
        np.char.add(np.char.add('a:1:{s:8:"username";s:9:"', user.astype(str)), '";}'),
        "N;",
    )
    pick = lambda i: np.array([e[i] for e in EVENTS], dtype=object)[kind]  # noqa: E731
    table = {
        "id": np.arange(first + 1, first + n + 1),
        "eventname": names[kind],
        "component": pick(1),
        "action": pick(2),
        "target": pick(3),
        "objecttable": pick(4),
        "objectid": rng.integers(1, 10**6, n).astype(str),
        "crud": pick(5),
        "edulevel": level,
        "contextid": rng.integers(1, 10**5, n),
        "contextlevel": np.where(course == 1, 10, 70),
        "contextinstanceid": rng.integers(1, 10**5, n),
        "userid": user,
        "courseid": course,
        "relateduserid": related,
        "anonymous": np.zeros(n, dtype=np.int64),
        "other": other,
        "timecreated": when,
        "origin": np.full(n, "web", dtype=object),
        "ip": np.full(n, "10.0.0.1", dtype=object),
        "realuserid": np.where(login_as, "2", "NULL"),
    }
    return pa.table({c: pa.array(table[c]) for c in COLUMNS})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--staff", type=int, default=800)
    parser.add_argument(
        "--spread", action="store_true", help="no study sessions: worst case for the aggregate"
    )
    parser.add_argument("--store", default=None, help="DATABASE_URL (default: a temp SQLite file)")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "load":
            folder = Path(rest[1])
            preloads = [
                ("students", folder / "students.csv"),
                ("moodle-users", folder / "moodle_users.csv"),
            ]
            result = timed_load(
                rest[0], preloads, "moodle-logstore", folder / "logstore_standard_log.csv"
            )
        else:
            result = timed(lambda: pacsv.read_csv(rest[0]).num_rows)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        made = make_files(folder, args.rows, args.students, args.staff, spread=args.spread)
        generate_seconds = time.perf_counter() - started
        store = args.store or f"sqlite:///{folder / 'bench.db'}"
        read = run_child(__file__, "--child", "read", str(made["file"]))
        load = run_child(__file__, "--child", "load", store, str(folder))
        print(
            json.dumps(
                {
                    "benchmark": "ingest_logstore",
                    "store": store.split(":")[0],
                    "rows": load["rows_read"],
                    "shape": "spread" if args.spread else "study sessions",
                    "file_mb": round(made["file"].stat().st_size / 1e6, 1),
                    "generate_seconds": round(generate_seconds, 1),
                    "load_seconds": round(load["seconds"], 2),
                    "rows_per_second": round(load["rows_read"] / load["seconds"]),
                    "peak_memory_mb": round(load["peak_rss_mb"]),
                    "rss_before_load_mb": round(load["rss_before_load_mb"]),
                    "read_csv_seconds": round(read["seconds"], 2),
                    "ratio_to_read_csv": round(load["seconds"] / read["seconds"], 2),
                    "targets": {"ratio_to_read_csv": 3, "peak_memory_mb": 1536},
                    "status": load["status"],
                    "notes": load["notes"],
                }
            )
        )


if __name__ == "__main__":
    main()
