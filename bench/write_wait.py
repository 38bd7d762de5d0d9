"""How long an app write (an access-log entry) waits behind a full compute on the same store.

Builds a store (bench/incremental.py's cohort), then runs `compute_serialised(full=True)` in a child
process while this process appends access-log entries in their own short transactions, timing
each. The reference is the same writes with no compute running, measured in the same run. Prints
one JSON object: write wait max / p95 / median during the compute, the reference median, and the
ratio of the max to 1 s (the issue's bound: app writes never wait more than 1 s).

    .venv/bin/python bench/write_wait.py --students 2000 --weeks 12     # quick
    .venv/bin/python bench/write_wait.py                                 # 40,000 students
    .venv/bin/python bench/write_wait.py --store postgresql+psycopg://postgres@127.0.0.1/bench_ww

--store's PostgreSQL database is DROPPED and created again (bench/incremental.py's fresh_store):
name a database of its own, never a shared one such as `test`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT  # noqa: E402
from bench.incremental import build_store, make_cohort  # noqa: E402

CHILD = """
import json, sys, time
from lib.store.db import session_scope
from lib.usecases import compute_serialised
started = time.perf_counter()
with session_scope(sys.argv[1]) as session:
    summary = compute_serialised(session, full=True)
print(json.dumps({"seconds": time.perf_counter() - started, "mode": summary.mode}))
"""


def _writes(url: str, until, pause: float = 0.05) -> list[float]:
    """Seconds each access-log write took, one at a time, while until() is False."""
    from lib.access import User
    from lib.audit import log_access
    from lib.store.db import session_factory

    user = User(username="bench", role="admin")
    factory = session_factory(url)
    waits = []
    while not until():
        started = time.perf_counter()
        with factory() as session:
            log_access(session, user, "bench write", action="view")
        waits.append(time.perf_counter() - started)
        time.sleep(pause)
    return waits


def _summary(waits: list[float]) -> dict:
    ordered = sorted(waits)
    if not ordered:
        return {"writes": 0}
    return {
        "writes": len(ordered),
        "max_s": round(ordered[-1], 4),
        "p95_s": round(ordered[int(0.95 * (len(ordered) - 1))], 4),
        "median_s": round(ordered[len(ordered) // 2], 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40_000)
    parser.add_argument("--weeks", type=int, default=20)
    parser.add_argument("--store", default=None, help="DATABASE_URL (default: a temp SQLite file)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.store and args.store.rstrip("/").split("/")[-1].split("?")[0] in ("test", "postgres"):
        parser.error("--store names a shared database; it would be dropped: use one of its own")
    folder = Path(tempfile.mkdtemp(prefix="bench_write_wait_"))
    url = args.store or f"sqlite:///{folder / 'store.db'}"
    built = build_store(url, make_cohort(args.students, args.weeks, args.seed), args.weeks)
    count = iter(range(40))
    reference = _writes(url, lambda: next(count, None) is None)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    during = _writes(url, lambda: child.poll() is not None)
    out, _ = child.communicate()
    compute = json.loads(out.strip().splitlines()[-1])
    result = {
        "store": url.split(":", 1)[0],
        "students": args.students,
        "weeks": args.weeks,
        "build_seconds": round(built["build_seconds"], 1),
        "compute_seconds": round(compute["seconds"], 2),
        "during_compute": _summary(during),
        "reference": _summary(reference),
    }
    result["max_wait_vs_1s"] = round(result["during_compute"].get("max_s", 0) / 1.0, 3)
    result["max_wait_vs_reference_median"] = round(
        result["during_compute"].get("max_s", 0) / max(result["reference"]["median_s"], 1e-6), 1
    )
    print(json.dumps(result))
    if not args.store:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
