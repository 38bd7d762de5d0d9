"""Benchmark: load a 2,000,000-row canonical events file; JSON with rows/s, peak memory, ratio to
read_csv, and the floor: a bare bulk insert (COPY on PostgreSQL) of the same stored rows into an
identical empty schema, measured in the same run (`floor_seconds`, `floor_ratio` = load / floor).
Each part's process CPU seconds beside its wall seconds, and the load average around the run (the
machine is shared: the ratio, measured in one run, is the fair figure; `--repeat N` measures N
load/floor pairs in turn and takes the fastest of each). The store must be empty."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from harness import run_child, timed, timed_load

SOURCES = np.array(["attendance", "vle", "online", "lecture_capture", "library"])


def make_files(folder: Path, rows: int, students: int, seed: int = 1) -> tuple[Path, Path]:
    """A students file and an events file of `rows` rows spread over an autumn term."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"{20200000 + i}" for i in range(students)])
    header = (
        "student_id,given_name,family_name,email,personal_email,phone,course_code,course_name,"
        "school,level,year_of_study,mode,tutor_username,visa_sponsored,residence,status,start_date"
    )
    with open(folder / "students.csv", "w") as handle:
        handle.write(header + "\n")
        for sid in ids:
            handle.write(
                f"{sid},Given,Family,s{sid}@uni.example.ac.uk,,,G400,CS,Computer Science,UG,1,FT,"
                "t.tutor,no,off_campus,enrolled,2025-09-22\n"
            )
    start = np.datetime64("2025-09-22T08:00")
    minutes_offset = rng.integers(0, 90 * 24 * 60, rows)
    source = SOURCES[rng.integers(0, len(SOURCES), rows)]
    frame = pd.DataFrame(
        {
            "student_id": ids[rng.integers(0, students, rows)],
            "source": source,
            "occurred_at": (start + minutes_offset.astype("timedelta64[m]")).astype(str),
            "quantity": rng.integers(1, 6, rows),
            "minutes": np.where(source == "vle", "", rng.integers(5, 120, rows).astype(str)),
            "module_code": np.array(["COMP1001", "COMP1002", "MATH1001", ""])[
                rng.integers(0, 4, rows)
            ],
        }
    )
    frame = frame.drop_duplicates()
    events = folder / "events.csv"
    frame.to_csv(events, index=False)
    return folder / "students.csv", events


FLOOR_SCHEMA = "bench_floor"


def floor_url(store: str, folder: Path, name: str = FLOOR_SCHEMA) -> str:
    """An identical empty store beside the loaded one (a schema of the same PostgreSQL database)."""
    if store.startswith("sqlite"):
        return f"sqlite:///{folder / (name + '.db')}"
    from sqlalchemy import create_engine, make_url, text

    admin = create_engine(store, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    admin.dispose()
    url = make_url(store).update_query_dict({"options": f"-csearch_path={name}"})
    return url.render_as_string(hide_password=False)


def drop_store(url: str) -> None:
    """Remove a repeat's store (its SQLite files; its PostgreSQL schema)."""
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine, make_url, text

    schema = make_url(url).query["options"].removeprefix("-csearch_path=")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def measured_pair(store: str, students: Path, events: Path, floor: str) -> dict:
    """One load into the empty `store`, then the floor of its rows into the empty `floor`."""
    settle(store)
    load = run_child(__file__, "--child", "load", store, str(students), str(events))
    if load["status"] != "loaded":
        raise SystemExit(f"the load was {load['status']!r}: give an empty store (--store)")
    return {"load": load, "floor": run_child(__file__, "--child", "floor", store, floor)}


def settle(store: str) -> None:
    """Before each timed part: the work the part before it left behind done first (PostgreSQL's
    vacuum of the rows just loaded, which autovacuum would otherwise run during the floor, and a
    checkpoint; the OS's dirty pages), so that neither part pays for the other's writes."""
    os.sync()
    if store.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        admin = create_engine(store, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
            conn.execute(text("CHECKPOINT"))
        admin.dispose()


def timed_floor(loaded: str, empty: str) -> dict:
    """Copy the daily rows the load stored into the same, empty, indexed table: the time of the
    insert alone (no parsing, validation, aggregation or conflict handling)."""
    from sqlalchemy import select

    from lib.store.bulk import bulk_insert
    from lib.store.db import init_db, session_factory
    from lib.store.models import DailyActivity, Load

    with session_factory(loaded)() as session:
        rows = session.execute(select(DailyActivity)).scalars().all()
        # text columns as Python strings (object), as the load hands them to the driver
        frame = pd.DataFrame(
            {
                c.name: pd.Series([getattr(r, c.key) for r in rows], dtype=_dtype(c))
                for c in DailyActivity.__table__.columns
            }
        )
        loads = session.execute(select(Load)).scalars().all()
        load_rows = [{c.name: getattr(x, c.key) for c in Load.__table__.columns} for x in loads]
    del rows
    # the day as the load hands it to the driver (ISO text), converted before the clock starts
    days = pd.to_datetime(frame["day"]).to_numpy("datetime64[D]").astype(str)
    frame["day"] = pd.Series(days, dtype=object)
    init_db(empty)
    with session_factory(empty)() as session:
        session.execute(Load.__table__.insert(), load_rows)
        session.commit()
        settle(empty)
        started, cpu = time.perf_counter(), time.process_time()
        inserted = bulk_insert(session, DailyActivity.__table__, frame)
        session.commit()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": inserted}


def _dtype(column) -> object:
    """float for the numeric columns, int for the load id, object (Python values) otherwise."""
    kind = column.type.python_type
    return float if kind is float else int if kind is int else object


def writer_waits(store: str, students: Path, events: Path) -> dict:
    """Another writer during the load: access-log entries appended one at a time (bench/write_wait.py's
    probe) while a child process loads the events; each write's wait, against the 1 s bound."""
    import subprocess
    import sys

    from write_wait import _summary, _writes

    from lib.ingest.pipeline import load_file
    from lib.store.db import init_db, session_factory

    init_db(store)
    with session_factory(store)() as session:
        load_file(session, "students", students)
    count = iter(range(20))
    reference = _writes(store, lambda: next(count, None) is None)
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", "load", store, str(students), str(events)],
        stdout=subprocess.PIPE,
        text=True,
    )
    during = _writes(store, lambda: child.poll() is not None)
    out, _ = child.communicate()
    load = json.loads(out.strip().splitlines()[-1])
    return {
        "load_seconds": round(load["seconds"], 2),
        "status": load["status"],
        "during_load": _summary(during),
        "reference": _summary(reference),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--store", default=None, help="DATABASE_URL (default: a temp SQLite file)")
    parser.add_argument(
        "--writer-waits",
        action="store_true",
        help="instead: how long another writer's short writes wait during the load",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="load and floor this many times in turn, each into a fresh store; the figures are "
        "the least disturbed (fastest) of each (a shared machine's load shifts during a run)",
    )
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "floor":
            result = timed_floor(rest[0], rest[1])
        elif kind == "load":
            result = timed_load(rest[0], [("students", Path(rest[1]))], "events", Path(rest[2]))
        else:
            result = timed(lambda: len(pd.read_csv(rest[0])))
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        students, events = make_files(folder, args.rows, args.students)
        store = args.store or f"sqlite:///{folder / 'bench.db'}"
        if args.writer_waits:
            print(
                json.dumps(
                    {
                        "benchmark": "load_events_writer_waits",
                        **writer_waits(store, students, events),
                    }
                )
            )
            return
        load_average = [round(x, 2) for x in os.getloadavg()]
        read = run_child(__file__, "--child", "read", str(events))
        pairs = []
        for i in range(args.repeat):
            # the first pair loads the given store; each other one an empty store beside it
            target = store if i == 0 else floor_url(store, folder, f"bench_load_{i}")
            floor = floor_url(store, folder)
            pairs.append(measured_pair(target, students, events, floor))
            drop_store(floor)
            if i:
                drop_store(target)
        load = min((p["load"] for p in pairs), key=lambda x: x["seconds"])
        floor = min((p["floor"] for p in pairs), key=lambda x: x["seconds"])
        print(
            json.dumps(
                {
                    "benchmark": "load_events",
                    "store": store.split(":")[0],
                    "rows": load["rows_loaded"],
                    "file_mb": round(events.stat().st_size / 1e6, 1),
                    "load_seconds": round(load["seconds"], 2),
                    "load_cpu_seconds": round(load["cpu_seconds"], 2),
                    "rows_per_second": round(load["rows_loaded"] / load["seconds"]),
                    "peak_memory_mb": round(load["peak_rss_mb"]),
                    "read_csv_seconds": round(read["seconds"], 2),
                    "ratio_to_read_csv": round(load["seconds"] / read["seconds"], 2),
                    "floor_seconds": round(floor["seconds"], 2),
                    "floor_cpu_seconds": round(floor["cpu_seconds"], 2),
                    "floor_rows": floor["rows"],
                    "floor_ratio": round(load["seconds"] / floor["seconds"], 2),
                    "runs": [
                        {
                            "load_seconds": round(p["load"]["seconds"], 2),
                            "floor_seconds": round(p["floor"]["seconds"], 2),
                            "floor_ratio": round(p["load"]["seconds"] / p["floor"]["seconds"], 2),
                            "load_cpu_seconds": round(p["load"]["cpu_seconds"], 2),
                            "floor_cpu_seconds": round(p["floor"]["cpu_seconds"], 2),
                        }
                        for p in pairs
                    ],
                    "targets": {"floor_ratio": 1.5, "peak_memory_mb": 1536},
                    "status": load["status"],
                    "load_average_start": load_average,
                    "load_average_end": [round(x, 2) for x in os.getloadavg()],
                }
            )
        )


if __name__ == "__main__":
    main()
