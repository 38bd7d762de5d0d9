"""Planner statistics after a big load: PostgreSQL's tables are analyzed at once (row estimates
right for the first page views), small loads and SQLite skip it (autovacuum analyzes those in its own time)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from lib import usecases
from lib.store import statistics
from lib.usecases import load_and_recompute


def _estimated(session, table: str) -> float:
    query = text("SELECT reltuples FROM pg_class WHERE relname = :table")
    return session.execute(query, {"table": table}).scalar_one()


def _estimated_students(session) -> float:
    return _estimated(session, "students")


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_big_load_leaves_postgresql_with_the_loaded_row_counts(
    any_session, demo_dir, monkeypatch
):
    monkeypatch.setattr(statistics, "BIG_LOAD_ROWS", 100)  # the demo's 200 students count as big
    assert _estimated_students(any_session) == -1  # never analyzed
    outcome = load_and_recompute(
        any_session, [("students", demo_dir / "students.csv")], recompute=False
    )
    assert outcome.reports[0].rows_loaded == 200
    assert _estimated_students(any_session) == 200


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_big_load_is_analyzed_before_its_compute_and_the_results_after(
    any_session, demo_dir, monkeypatch
):
    monkeypatch.setattr(statistics, "BIG_LOAD_ROWS", 100)
    seen: list[float] = []
    compute = usecases.compute_serialised

    def spying(session, full=False):  # the loaded rows' statistics as the compute starts
        seen.append(_estimated(session, "students"))
        return compute(session, full=full)

    monkeypatch.setattr(usecases, "compute_serialised", spying)
    files = [(s, demo_dir / f"{s}.csv") for s in ("students", "enrolments", "events")]
    outcome = load_and_recompute(any_session, files)
    assert outcome.summary is not None and outcome.summary.measures_written
    assert seen == [200]
    assert _estimated(any_session, "weekly_measures") > 0


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_small_load_leaves_the_statistics_to_autovacuum(any_session):
    assert statistics.refresh_after_load(any_session, statistics.BIG_LOAD_ROWS - 1) is False
    assert statistics.refresh_after_load(any_session, statistics.BIG_LOAD_ROWS) is True
    assert statistics.refresh_after_compute(any_session, statistics.BIG_LOAD_ROWS - 1) is False
    assert statistics.refresh_after_compute(any_session, None) is False
    assert statistics.refresh_after_compute(any_session, statistics.BIG_LOAD_ROWS) is True


def test_sqlite_is_never_analyzed(session):
    assert statistics.refresh_after_load(session, 10**6) is False
    assert (
        session.execute(
            text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        ).scalar_one()
        == 0
    )
