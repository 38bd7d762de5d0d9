"""Loads and computes at the same time (issue #13): serialised by the store's writer lock on SQLite
and PostgreSQL; the same file loading twice at once is recorded once; a killed compute is redone."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select

from lib.ingest.lock import pending, store_lock
from lib.ingest.pipeline import load_file
from lib.store.db import session_factory
from lib.store.models import Load
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
