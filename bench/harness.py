"""Shared benchmark plumbing: each measurement runs in its own child process (peak memory is per process)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def run_child(script: str, *args: str) -> dict:
    """Run `script` with args in a fresh interpreter; its last stdout line is the JSON result."""
    out = subprocess.run(
        [sys.executable, script, *args], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed_load(store: str, preloads: list[tuple[str, Path]], source: str, path: Path) -> dict:
    """Migrate `store`, load the preload files untimed, then time one load of `path` as `source`."""
    os.environ["DATABASE_URL"] = store
    from lib.ingest.pipeline import load_file
    from lib.store.db import init_db, session_factory

    init_db(store)
    with session_factory(store)() as session:
        for preload_source, preload_path in preloads:
            load_file(session, preload_source, preload_path)
        base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        report = load_file(session, source, path)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "status": report.status,
        "rows_read": report.rows_read,
        "rows_loaded": report.rows_loaded,
        "notes": report.notes,
        "peak_rss_mb": peak / 1024,
        "rss_before_load_mb": base_rss / 1024,
    }


def timed(read) -> dict:
    """Seconds taken by `read()` and the row count it returns."""
    started = time.perf_counter()
    rows = read()
    return {"seconds": time.perf_counter() - started, "rows": rows}
