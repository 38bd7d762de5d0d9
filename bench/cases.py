"""Benchmark of a senior tutor's Home worklist at university scale, printed as JSON.

Builds the store of bench/app.py (N students with engine output, built in bulk), then adds in bulk
C welfare cases with E entries in all (default 20,000 and 200,000: open, contact attempts up the
ladder, hand-overs, referrals, closes), their case rows' state derived from the entries by the same
function the app uses (lib.cases.queries.derive_cases). Times in AppTest, logged in through Home.py
as a senior tutor of one school: the Home page (the worklist) and an empty page, first run and warm
(median of reruns). Target: warm Home <= 1 s and <= 10x the empty page.

    python bench/cases.py [--students 40000] [--cases 20000] [--entries 200000] [--db FILE] [--reuse]
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import harness  # noqa: E402

PASSWORD = "bench-password-123"
SENIOR = "bench_senior"
SCHOOL = "Science"


def _bench_app():
    """bench/app.py as a module (its store builder)."""
    spec = importlib.util.spec_from_file_location("bench_app", ROOT / "bench" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def case_frames(student_ids: list[str], residence: dict, cases: int, entries: int, seed: int = 2):
    """Synthetic cases and entries frames (the columns of lib.cases.queries)."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(student_ids), size=cases, replace=False)
    opened = pd.Timestamp("2025-11-10 09:00") + pd.to_timedelta(
        rng.integers(0, 70, cases), unit="D"
    )
    case_ids = np.arange(1, cases + 1)
    per_case = np.full(cases, entries // cases)
    per_case[: entries - per_case.sum()] += 1
    case_of = np.repeat(case_ids, per_case)
    position = np.concatenate([np.arange(n) for n in per_case])
    opened_of = np.repeat(opened.to_numpy(), per_case)
    at = pd.to_datetime(opened_of) + pd.to_timedelta(position * 4, unit="D")
    n = len(case_of)
    escalates = np.repeat(rng.random(cases) < 0.25, per_case)
    closes = np.repeat(rng.random(cases) < 0.3, per_case)
    last = np.repeat(per_case - 1, per_case)
    kind = np.where(position == 0, "open", "contact").astype(object)
    step = np.minimum(1 + position // 2, 3)
    kind[(position == 6) & escalates] = "handover"
    step = np.where((position >= 6) & escalates, 4, step)
    kind[(position == 8) & escalates] = "referral"
    step = np.where((position >= 8) & escalates, 5, step)
    kind[(position == last) & closes] = "close"
    contact = kind == "contact"
    channel_for = {1: "uni_email", 2: "teams_message", 3: "phone", 4: "sms", 5: "phone"}
    ids = [student_ids[i] for i in chosen]
    team = np.where(
        kind == "referral",
        [
            "ResX" if residence[ids[c - 1]] == "on_campus" else "Faculty Support and Wellbeing"
            for c in case_of
        ],
        None,
    )
    entries_frame = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "case_id": case_of,
            "recorded_at": at,
            "recorded_by": "bench",
            "kind": kind,
            "contacted_at": pd.Series(at).where(contact),
            "channel": np.where(contact, [channel_for[int(s)] for s in step], None),
            "outcome": np.where(
                contact, "no_response", np.where(kind == "close", "re_engaged", None)
            ),
            "note": np.where(contact, "Tried again, no reply", None),
            "next_action": np.where(kind == "close", None, "Follow up"),
            "next_due": pd.Series(at + pd.Timedelta(days=7)).where(kind != "close"),
            "authorised_by": None,
            "corrects_entry_id": np.nan,
            "step": np.where(kind == "close", np.nan, step).astype(float),
            "staff_username": "bench",
            "team": team,
        }
    )
    cases_frame = pd.DataFrame(
        {
            "case_id": case_ids,
            "student_id": ids,
            "track": "welfare",
            "owner": [f"owner{c % 500}" for c in case_ids],
            "opened_at": opened,
            "flag_id": None,
        }
    )
    cases_frame.loc[escalates[np.cumsum(per_case) - 1], "owner"] = "wellbeing"
    return cases_frame, entries_frame


def add_cases(url: str, cases: int, entries: int) -> dict:
    """Bulk-insert cases and entries, case rows' state derived from the entries."""
    from sqlalchemy import text

    from lib.auth import add_user
    from lib.cases.queries import derive_cases
    from lib.store.db import get_engine, session_factory
    from lib.workdays import WorkingDays

    started = time.perf_counter()
    engine = get_engine(url)
    with engine.connect() as conn:
        students = conn.execute(text("SELECT student_id, residence FROM students")).all()
    residence = dict(students)
    case_rows, entry_rows = case_frames(sorted(residence), residence, cases, entries)
    derived = derive_cases(case_rows, entry_rows, WorkingDays(), None).set_index("case_id")
    raw = engine.raw_connection()

    def value(v):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
            return None
        if isinstance(v, pd.Timestamp):
            return v.to_pydatetime()
        return v.item() if isinstance(v, np.generic) else v

    try:
        cur = raw.cursor()
        cur.executemany(
            "INSERT INTO cases (id, student_id, flag_id, opened_at, opened_by, owner_username,"
            " state, ladder_step, referral_team, track, next_action, next_due, last_entry_at,"
            " closed_at, closed_by, close_outcome, revision) VALUES"
            " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    int(r.case_id),
                    r.student_id,
                    None,
                    r.opened_at.to_pydatetime(),
                    "bench",
                    r.owner,
                    derived.at[r.case_id, "state"],
                    int(derived.at[r.case_id, "step"]),
                    value(derived.at[r.case_id, "referral_team"]),
                    "welfare",
                    value(derived.at[r.case_id, "next_action"]),
                    value(derived.at[r.case_id, "next_due"]),
                    value(derived.at[r.case_id, "last_entry_at"]),
                    value(derived.at[r.case_id, "last_entry_at"])
                    if derived.at[r.case_id, "closed"]
                    else None,
                    "bench" if derived.at[r.case_id, "closed"] else None,
                    value(derived.at[r.case_id, "close_outcome"]),
                    0,
                )
                for r in case_rows.itertuples()
            ],
        )
        columns = [c for c in entry_rows.columns]
        cur.executemany(
            f"INSERT INTO case_entries ({', '.join(columns)}) VALUES"
            f" ({', '.join('?' for _ in columns)})",
            [tuple(value(v) for v in row) for row in entry_rows.itertuples(index=False)],
        )
        raw.commit()
    finally:
        raw.close()
    with session_factory(url)() as session:
        add_user(session, SENIOR, role="senior_tutor", school=SCHOOL, password=PASSWORD)
        session.commit()
    return {
        "cases": cases,
        "entries": len(entry_rows),
        "states": derived["state"].value_counts().to_dict(),
        "build_seconds": round(time.perf_counter() - started, 2),
    }


def time_worklist_compute(runs: int = 3) -> dict:
    """The worklist computed directly (what a cache miss costs), for the senior tutor and for the
    wellbeing team (whose scope is every student)."""
    from lib.access import User
    from lib.cases.worklists import worklist
    from lib.store.db import session_scope

    out = {}
    for name, user in (
        ("senior_tutor", User(SENIOR, "senior_tutor", school=SCHOOL)),
        ("wellbeing", User("bench_wb", "wellbeing")),
    ):
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            with session_scope() as session:
                sections = worklist(session, user)
            times.append(time.perf_counter() - started)
        out[name] = {
            "median_s": round(statistics.median(times), 3),
            "rows": {k: len(v) for k, v in sections.items()},
        }
    return out


def time_worklist(warm_runs: int = 5) -> dict:
    """First and warm AppTest run times of Home (the senior tutor's worklist) and an empty page."""
    from lib import access

    at, login_seconds, empty = harness.logged_in_app("senior_tutor", SENIOR, PASSWORD)
    out: dict = {"login_s": round(login_seconds, 3)}
    for name, path in (("empty", str(empty)), ("home", access.PAGES["home"].path)):
        at.switch_page(path)
        out[name] = harness.first_and_warm(at, warm_runs)
        if name == "home":
            titles = [m.value for m in at.markdown if str(m.value).startswith("### ")]
            out[name]["sections"] = titles
            out[name]["elements"] = len(list(at.main))
    harness.against_empty(out, ("home",), "home", 1.0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = harness.store_parser(__doc__, "/tmp/bench_cases.db")
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--entries", type=int, default=200_000)
    args = parser.parse_args(argv)
    bench_app = _bench_app()

    def build(url: str) -> dict:
        data = bench_app.build_store(url, args.students, args.weeks)
        data["cases"] = add_cases(url, args.cases, args.entries)
        return data

    result: dict = {"benchmark": "cases", "store": "sqlite"}
    result["data"] = harness.sqlite_store(args.db, args.reuse, build)
    result["worklist_compute"] = time_worklist_compute()
    result["pages"] = time_worklist()
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
