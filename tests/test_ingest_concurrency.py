"""Loads and computes at the same time (issue #13): serialised by the store's writer lock on SQLite
and PostgreSQL; the same file loading twice at once is recorded once; a killed compute is redone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from lib.cli import main as cli_main
from lib.compute.flags import flags_frame
from lib.compute.service import compute
from lib.ingest.lock import pending, store_lock
from lib.ingest.pipeline import load_file
from lib.store.db import session_factory
from lib.store.models import Load
from lib.usecases import finish_pending, load_and_recompute
from tests.conftest import ROOT
from tests.test_ingest_canonical import EVENTS_HEADER, STUDENT_ROWS, STUDENTS_HEADER, write


def _students(url: str, tmp_path: Path) -> None:
    text = "\n".join([STUDENTS_HEADER, *STUDENT_ROWS]) + "\n"
    with session_factory(url)() as session:
        assert (
            load_file(session, "students", write(tmp_path, "students.csv", text)).status == "loaded"
        )


def _at_once(url: str, jobs: list) -> list:
    """Run each job(session) in its own thread and session, released together."""
    start = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    errors: list = []

    def run(i, job):
        try:
            with session_factory(url)() as session:
                start.wait()
                results[i] = job(session)
        except Exception as exc:  # reported below with the thread's result
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def test_the_same_file_loading_twice_at_once_is_recorded_once(store_url, tmp_path):
    _students(store_url, tmp_path)
    rows = [f"20240001,vle,2024-10-{d:02d},1,,X" for d in range(1, 29)]
    path = write(tmp_path, "week.csv", EVENTS_HEADER + "\n" + "\n".join(rows) + "\n")
    reports = _at_once(store_url, [lambda s: load_file(s, "events", path)] * 3)
    assert sorted(r.status for r in reports) == ["loaded", "unchanged", "unchanged"]
    with session_factory(store_url)() as session:
        count = session.scalar(
            select(func.count()).select_from(Load).where(Load.source == "events")
        )
        assert count == 1
        assert pending(session) == reports[[r.status for r in reports].index("loaded")].load_id


def test_the_writer_lock_is_exclusive_and_reentrant(store_url):
    """While one thread holds the lock another waits; the holder may take it again."""
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def holder():
        with session_factory(store_url)() as session, store_lock(session):
            with store_lock(session):  # re-entrant: a use case around a load
                order.append("first in")
                inside.set()
                release.wait(10)
                order.append("first out")

    def waiter():
        inside.wait(10)
        with session_factory(store_url)() as session, store_lock(session):
            order.append("second in")

    threads = [threading.Thread(target=holder), threading.Thread(target=waiter)]
    for thread in threads:
        thread.start()
    inside.wait(10)
    threading.Timer(0.3, release.set).start()
    for thread in threads:
        thread.join(20)
    assert order == ["first in", "first out", "second in"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    from lib.demo import generate

    out = tmp_path_factory.mktemp("concurrency_demo")
    generate(students=30, seed=3, out=out, academic_year=2025, until=date(2025, 11, 28))
    return out


def _base(url: str, demo: Path) -> None:
    with session_factory(url)() as session:
        for source, name in (("students", "students.csv"), ("enrolments", "enrolments.csv"),
                             ("calendar", "calendar.csv")):  # fmt: skip
            assert load_file(session, source, demo / name).status == "loaded"


def _halves(demo: Path, tmp_path: Path) -> list[Path]:
    events = pd.read_csv(demo / "events.csv", dtype=str, keep_default_na=False)
    first = events["student_id"] < sorted(events["student_id"].unique())[15]
    paths = []
    for name, part in (("a.csv", events[first]), ("b.csv", events[~first])):
        part.to_csv(tmp_path / name, index=False)
        paths.append(tmp_path / name)
    return paths


def _flags(url: str, full: bool) -> pd.DataFrame:
    with session_factory(url)() as session:
        if full:
            compute(session, full=True)
            session.commit()
        return flags_frame(session, as_of=date(2025, 11, 28), include_ended=True)


def test_two_loads_at_once_end_with_one_record_each_and_full_recompute_flags(
    store_url, demo, tmp_path
):
    _base(store_url, demo)
    a, b = _halves(demo, tmp_path)
    jobs = [lambda s, p=p: load_and_recompute(s, [("events", p)]) for p in (a, b, a, b)]
    outcomes = _at_once(store_url, jobs)
    assert sorted(o.reports[0].status for o in outcomes) == [
        "loaded",
        "loaded",
        "unchanged",
        "unchanged",
    ]
    with session_factory(store_url)() as session:
        names = session.scalars(select(Load.file_name).where(Load.source == "events")).all()
        assert sorted(names) == ["a.csv", "b.csv"]
        assert pending(session) is None
    after_loads = _flags(store_url, full=False)
    assert len(after_loads) > 0
    pd.testing.assert_frame_equal(after_loads, _flags(store_url, full=True))


def test_a_load_whose_compute_was_killed_is_recomputed_by_the_next_ingest(
    store_url, demo, tmp_path
):
    """`ingest --no-compute` stands for a process killed right after its load committed."""
    _base(store_url, demo)
    a, _ = _halves(demo, tmp_path)
    assert cli_main(["ingest", "events", str(a), "--no-compute", "--json"]) == 0
    with session_factory(store_url)() as session:
        assert pending(session) is not None
    assert _flags(store_url, full=False).empty  # flags stale: nothing computed yet
    assert cli_main(["ingest", "events", str(a), "--json"]) == 0  # unchanged, yet it computes
    with session_factory(store_url)() as session:
        assert pending(session) is None
    recovered = _flags(store_url, full=False)
    assert len(recovered) > 0
    pd.testing.assert_frame_equal(recovered, _flags(store_url, full=True))


def test_app_start_recomputes_a_pending_load(store_url, demo, tmp_path):
    _base(store_url, demo)
    a, _ = _halves(demo, tmp_path)
    with session_factory(store_url)() as session:
        load_and_recompute(session, [("events", a)], recompute=False)
        session.commit()
    with session_factory(store_url)() as session:
        assert finish_pending(session) is not None
        assert pending(session) is None
        assert finish_pending(session) is None  # nothing left to do
    assert len(_flags(store_url, full=False)) > 0


KILL_AFTER_LOAD = """
import os, signal, sys
from pathlib import Path
import lib.usecases as usecases
from lib.store.db import session_scope

def killed(session, full=False):  # SIGKILL once the load has committed, before any compute
    os.kill(os.getpid(), signal.SIGKILL)

usecases.compute = killed
with session_scope() as session:
    usecases.load_and_recompute(session, [("events", Path(sys.argv[1]))])
"""


def test_a_compute_killed_after_the_load_commit_is_recovered(store_url, demo, tmp_path):
    _base(store_url, demo)
    a, _ = _halves(demo, tmp_path)
    env = {**os.environ, "DATABASE_URL": store_url}
    run = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_LOAD, str(a)], env=env, cwd=ROOT, check=False
    )
    assert run.returncode == -signal.SIGKILL
    with session_factory(store_url)() as session:
        assert session.scalar(select(Load.id).where(Load.file_name == "a.csv")) is not None
        assert pending(session) is not None
    assert cli_main(["compute"]) == 0
    with session_factory(store_url)() as session:
        assert pending(session) is None
    recovered = _flags(store_url, full=False)
    assert len(recovered) > 0
    pd.testing.assert_frame_equal(recovered, _flags(store_url, full=True))
