"""Shared benchmark plumbing: child processes per measurement (peak memory is per process), the
app benchmarks' store and logged-in AppTest."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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
        started, cpu = time.perf_counter(), time.process_time()
        report = load_file(session, source, path)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
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


# --- the app benchmarks (bench/app.py, bench/cases.py): an SQLite store and AppTest logged in --


def sqlite_store(db: str, reuse: bool, build: Callable[[str], dict]) -> dict:
    """Point DATABASE_URL at the SQLite file `db`: reused as it is when asked and present, else
    removed and filled by `build(url)`, whose figures are returned."""
    url = f"sqlite:///{db}"
    os.environ["DATABASE_URL"] = url
    if reuse and Path(db).exists():
        return {"reused": db}
    for suffix in ("", "-wal", "-shm"):
        Path(db + suffix).unlink(missing_ok=True)
    return build(url)


def timed_app_run(at) -> float:
    """Seconds one AppTest run takes (its exception, if any, raised)."""
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # the login library prints on stdout
        at.run()
    elapsed = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return elapsed


def logged_in_app(role: str, username: str, password: str) -> tuple[object, float, Path]:
    """Home.py in AppTest logged in as `username`, with an empty page (the reference the pages are
    measured against) registered for `role`: (the AppTest, login seconds, the empty page's path)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from lib import access

    os.environ["DASHBOARD_COOKIE_KEY"] = secrets.token_urlsafe(48)  # a strong key for this run
    empty = Path(tempfile.mkdtemp(prefix="bench_page_")) / "empty_page.py"
    empty.write_text(
        "import streamlit as st\n"
        "from lib.ui.widgets import require_page\n"
        "require_page('bench_empty')\n"
        "st.title('Empty')\n"
    )
    access.PAGES["bench_empty"] = access.PageSpec(
        "bench_empty", "Empty", str(empty), "bench-empty", "⚪"
    )
    access.ROLE_PAGES[role] = (*access.ROLE_PAGES[role], "bench_empty")
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=600)
    timed_app_run(at)
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click()
    login_seconds = timed_app_run(at)
    if not at.session_state["authentication_status"]:
        raise RuntimeError("bench login failed")
    return at, login_seconds, empty


def store_parser(doc: str, default_db: str) -> argparse.ArgumentParser:
    """The app benchmarks' command line: the store's size and its SQLite file."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--students", type=int, default=40_000)
    parser.add_argument("--weeks", type=int, default=20)
    parser.add_argument("--db", default=default_db, help="SQLite file for the store")
    parser.add_argument("--reuse", action="store_true", help="reuse an existing --db store")
    return parser


def first_and_warm(at, warm_runs: int) -> dict:
    """Seconds of the page's first run and the median of `warm_runs` reruns."""
    first = timed_app_run(at)
    warm = statistics.median(timed_app_run(at) for _ in range(warm_runs))
    return {"first_s": round(first, 3), "warm_s": round(warm, 3)}


def against_empty(out: dict, pages: tuple[str, ...], target: str, seconds: float) -> None:
    """Each page's warm time as a ratio to the empty page's; the target: `target` warm within
    `seconds` and within 10x the empty page."""
    for name in pages:
        out[name]["warm_ratio_to_empty"] = round(out[name]["warm_s"] / out["empty"]["warm_s"], 2)
    out["target_met"] = bool(
        out[target]["warm_s"] <= seconds and out[target]["warm_ratio_to_empty"] <= 10
    )
