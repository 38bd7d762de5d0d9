"""The weekly activity totals compute keeps equal the daily rows summed afresh: after the first
fold, a correction of a few students' days (refolded for them alone), a cut window and retention."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import delete, func, select

from lib.compute.totals import STR, TEXT, daily_totals, fold, week_of, weekly_totals
from lib.ingest.limits import stored_days
from lib.ingest.pipeline import load_files
from lib.store.models import DailyActivity, Load, WeeklyActivity
from tests.query_plans import table_scans


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its text columns as text (stored weeks come back as categoricals, whose
    sort order is their categories')."""
    texts = [c for c in TEXT if c in frame]
    return frame.astype(dict.fromkeys(texts, object)).astype(dict.fromkeys(texts, STR))


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = as_text(frame.drop(columns="n", errors="ignore"))
    return frame.sort_values(keys, ignore_index=True)


def _assert_equal(session, window) -> None:
    stored = weekly_totals(session, window)
    fresh = daily_totals(session, window)
    for a, b, keys in zip(
        stored,
        fresh,
        (["student_id", "source", "module_code", "week"], ["student_id", "source", "week"]),
        strict=True,
    ):
        pd.testing.assert_frame_equal(_sorted(a, keys), _sorted(b, keys)[list(a.columns)])


def test_weekly_totals_equal_daily_rows_after_corrections_cuts_and_retention(
    any_sample_session, demo_dir, tmp_path
):
    session = any_sample_session
    everything = stored_days(None)
    _assert_equal(session, everything)
    assert fold(session)["weeks_folded"] == 0  # computed already: nothing left to fold
    # a corrected re-export of one Moodle day for 3 students: their week is refolded for them
    ids = pd.read_csv(demo_dir / "students.csv", dtype=str)["student_id"].head(3).tolist()
    path = tmp_path / "correction.csv"
    rows = [f"{sid},vle,2025-10-15,9,,\n" for sid in ids] + [f"{ids[0]},library,2025-10-16,2,,\n"]
    path.write_text("student_id,source,occurred_at,quantity,minutes,module_code\n" + "".join(rows))
    (report,) = load_files(session, "events", [path], loaded_by="test")
    assert report.status != "rejected", report.message
    # the load folded its week (the pipeline's hook): the next compute has nothing to fold
    newest = session.scalar(select(func.max(WeeklyActivity.load_id)))
    assert newest == report.load_id
    assert session.scalar(select(func.count()).where(WeeklyActivity.load_id == newest)) == 1
    assert fold(session)["weeks_folded"] == 0
    _assert_equal(session, everything)
    _assert_equal(session, (date(2025, 10, 8), date(2025, 11, 1)))  # cut mid-week at both ends
    # retention: days before a Monday deleted; the weeks before it are dropped
    cutoff = date(2025, 10, 20)
    session.execute(delete(DailyActivity).where(DailyActivity.day < cutoff))
    fold(session)
    first = session.scalar(select(func.min(WeeklyActivity.week)))
    assert first == week_of(cutoff)
    _assert_equal(session, everything)
    _assert_equal(session, (cutoff - timedelta(days=30), cutoff + timedelta(days=30)))


def test_a_fold_stopped_part_way_is_finished_by_the_next(
    any_sample_session, demo_dir, tmp_path, monkeypatch
):
    """A fold killed after writing some weeks leaves them marked as of the last fold, so the
    next fold sums every week the load changed again (none is left stale)."""
    import lib.compute.totals as totals

    session = any_sample_session
    ids = pd.read_csv(demo_dir / "students.csv", dtype=str)["student_id"].head(4).tolist()
    days = ["2025-10-06", "2025-10-14", "2025-10-22", "2025-10-29"]  # four weeks
    path = tmp_path / "late.csv"
    rows = [f"{sid},vle,{day},7,,\n" for sid in ids for day in days]
    path.write_text("student_id,source,occurred_at,quantity,minutes,module_code\n" + "".join(rows))
    before = session.scalar(select(func.max(WeeklyActivity.load_id)))
    real = totals.daily_totals
    calls = {"n": 0}

    def dies_on_the_third_week(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(totals, "daily_totals", dies_on_the_third_week)
    monkeypatch.setattr(totals, "PARTIAL_SHARE", 0.0)  # whole weeks summed by daily_totals
    try:
        load_files(session, "events", [path], loaded_by="test")
    except KeyboardInterrupt:
        session.rollback()
    assert calls["n"] == 3  # two weeks were written before the fold died
    # the weeks written carry the old mark: the fold is not recorded as done
    assert session.scalar(select(func.max(WeeklyActivity.load_id))) == before
    monkeypatch.setattr(totals, "daily_totals", real)
    assert fold(session)["weeks_folded"] == 4
    _assert_equal(session, stored_days(None))


def test_a_fold_after_a_load_without_activity_reads_no_daily_row_on_sqlite(sample_session):
    """After a load that brought no activity (students, timetable) the fold looks for changed
    days through the (load_id, day) index: SQLite's planner had walked the (day, source) index
    through every daily row (5 s at 40,000 students) to find none."""
    session = sample_session
    session.add(
        Load(
            source="students",
            file_name="students.csv",
            content_hash="0" * 64,
            loaded_at=datetime.now(),
            loaded_by="test",
            status="loaded",
        )
    )
    session.commit()
    folded: dict = {}
    scans = table_scans(session, "daily_activity", lambda: folded.update(fold(session)))
    assert folded["weeks_folded"] == 0
    assert not scans, scans
