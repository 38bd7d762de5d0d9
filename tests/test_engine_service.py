"""The engine through the store: demo episodes found, non-teaching weeks clean, `python -m lib flags`,
incremental compute equal to a full recompute, configuration changes recomputed."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from lib.cli import main
from lib.compute.flags import flags_frame
from lib.compute.results import load_snapshot
from lib.compute.service import (
    compute,
    data_version,
    load_engine_config,
    save_engine_config,
)
from lib.ingest.pipeline import load_files
from lib.store.measures import read_measures
from lib.store.models import DataQualityEvent, Flag, WeeklyMeasure, WeeklyMeasureOther
from lib.store.packed import MAGIC
from lib.usecases import CANONICAL_ORDER

EPISODES = ("sudden_stop", "gradual_fade", "source_drop", "dip_recovery", "disengaged_from_start")


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _snapshot(session) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    measures = read_measures(session)  # every stored row is visible after a compute
    flags = pd.DataFrame(
        session.execute(
            select(
                Flag.student_id,
                Flag.kind,
                Flag.week_start,
                Flag.severity,
                Flag.ended_week,
                Flag.explanation,
                Flag.recovery_explanation,
            ).order_by(Flag.student_id, Flag.kind, Flag.week_start, Flag.explanation)
        ).all()
    )
    dq = pd.DataFrame(
        session.execute(
            select(
                DataQualityEvent.week_start,
                DataQualityEvent.source,
                DataQualityEvent.module_code,
                DataQualityEvent.share_affected,
            ).order_by(
                DataQualityEvent.week_start, DataQualityEvent.source, DataQualityEvent.module_code
            )
        ).all()
    )
    return measures, flags, dq


def _stored_rows(session) -> int:
    """Measure rows stored: wide student-weeks and rows of other sources."""
    return session.query(WeeklyMeasure).count() + session.query(WeeklyMeasureOther).count()


def test_demo_episodes_found_and_non_teaching_weeks_clean(sample_session, demo_dir):
    session = sample_session
    flags = pd.DataFrame(session.execute(select(Flag.student_id, Flag.kind, Flag.week_start)).all())
    truth = pd.read_csv(demo_dir / "ground_truth.csv", dtype=str, keep_default_na=False)
    episodes = truth[truth["kind"].isin(EPISODES) & (truth["onset"] <= "2025-12-01")]
    assert len(episodes) >= 5
    found = sum(
        (
            (flags["student_id"] == e.student_id)
            & (flags["week_start"] >= _monday(date.fromisoformat(e.onset)))
        ).any()
        for e in episodes.itertuples()
    )
    assert found / len(episodes) >= 0.8
    weeks = read_measures(session, sources=["index"])[["week_start", "teaching"]]
    weeks = weeks.drop_duplicates(ignore_index=True)
    non_teaching = set(weeks.loc[~weeks["teaching"].astype(bool), "week_start"])
    assert date(2025, 10, 27) in non_teaching  # the autumn reading week
    assert not set(flags["week_start"]) & non_teaching
    exemptions = pd.read_csv(demo_dir / "exemptions.csv")
    for ex in exemptions.itertuples():
        mine = flags[flags["student_id"].astype(str) == str(ex.student_id)]
        start, end = _monday(date.fromisoformat(ex.start)), date.fromisoformat(ex.end)
        assert not ((mine["week_start"] >= start) & (mine["week_start"] <= end)).any()
    # a student has an index row for every week, teaching or not, from the first week they have
    # any source (activity or expected sessions): a student without any has no measure rows
    rows = read_measures(session)[["student_id", "week_start", "source"]]
    index = rows[rows["source"] == "index"]
    first = rows[rows["source"] != "index"].groupby("student_id")["week_start"].min()
    assert len(index) == sum(int((weeks["week_start"] >= f).sum()) for f in first)
    assert set(index["student_id"]) == set(first.index) and len(first) >= 190


def test_python_m_lib_flags_prints_the_stored_flags(sample_session):
    session = sample_session
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["flags", "--all", "--as-of", "2025-12-19"]) == 0
    frame = pd.read_csv(io.StringIO(out.getvalue()), dtype=str)
    assert list(frame.columns) == ["student_id", "week_start", "kind", "severity", "explanation"]
    assert len(frame) == session.query(Flag).count() > 0
    assert set(frame["kind"]) <= {
        "no_engagement",
        "index_drop",
        "source_drop",
        "missed_submissions",
    }
    assert frame["explanation"].str.contains(r"\(usually ").any()
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["flags", "--as-of", "2025-12-19", "--format", "json"]) == 0
    in_force = json.loads(out.getvalue())
    open_flags = session.query(Flag).filter(Flag.ended_week.is_(None)).count()
    ended_later = session.query(Flag).filter(Flag.ended_week > date(2025, 12, 19)).count()
    assert len(in_force) == open_flags + ended_later
    early = flags_frame(session, as_of=date(2025, 10, 15), include_ended=True)
    assert (pd.to_datetime(early["week_start"]) <= pd.Timestamp("2025-10-15")).all()
    assert len(early) < len(frame)


def test_incremental_compute_equals_full(any_sample_session, demo_dir, tmp_path):
    session = any_sample_session
    ids = pd.read_csv(demo_dir / "students.csv", dtype=str)["student_id"].head(3).tolist()
    extra = tmp_path / "library.csv"
    rows = [f"{sid},library,2025-11-{day:02d},2,,\n" for sid in ids for day in (3, 4, 11, 18)]
    rows += [f"{ids[0]},vle,2025-12-0{day},4,,\n" for day in (1, 2, 3)]
    extra.write_text("student_id,source,occurred_at,quantity,minutes,module_code\n" + "".join(rows))
    before_version = data_version(session)
    (report,) = load_files(session, "events", [extra], loaded_by="test")
    assert report.status != "rejected"
    summary = compute(session)
    assert summary.mode == "incremental" and summary.students == 3
    assert data_version(session) != before_version
    incremental = _snapshot(session)
    ids_before = sorted(session.scalars(select(Flag.id)))
    assert compute(session, full=True).mode == "full"
    full = _snapshot(session)
    for a, b in zip(incremental, full, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert sorted(session.scalars(select(Flag.id))) == ids_before  # unchanged flags keep their ids
    assert compute(session).mode == "up_to_date"


def test_config_change_and_full_recompute(sample_session):
    session = sample_session
    assert load_engine_config(session)["zero_weeks"] == 2
    zero_before = session.query(Flag).filter(Flag.kind == "no_engagement").count()
    save_engine_config(session, {"zero_weeks": 4, "min_baseline": {"vle": 1.0}}, updated_by="admin")
    config = load_engine_config(session)
    assert config["zero_weeks"] == 4 and config["min_baseline"]["vle"] == 1.0
    assert config["min_baseline"]["attendance"] == 0.1  # other entries keep their defaults
    assert compute(session).mode == "full"  # a changed configuration recomputes everything
    zero_after = session.query(Flag).filter(Flag.kind == "no_engagement").count()
    assert zero_after <= zero_before
    with pytest.raises(ValueError):
        save_engine_config(session, {"no_such_threshold": 1}, updated_by="admin")
    with pytest.raises(ValueError):
        save_engine_config(session, {"detector": "magic"}, updated_by="admin")


def test_a_weekly_load_writes_the_new_week_for_everyone_and_equals_full(
    any_sample_session, demo_dir, tmp_path
):
    session = any_sample_session
    last_week = session.query(func.max(WeeklyMeasure.week_start)).scalar()
    ids = pd.read_csv(demo_dir / "students.csv", dtype=str)["student_id"].tolist()
    extra = tmp_path / "next_week.csv"
    monday = last_week + timedelta(days=7)
    rows = [f"{sid},vle,{monday + timedelta(days=d)},3,,\n" for sid in ids[:150] for d in (0, 4)]
    # a touched student with an earlier week too, in a source never seen before: every week is
    # passed over (a resumed state has no column for the new source)
    rows += [f"{ids[0]},library,{last_week},2,,\n"]
    extra.write_text("student_id,source,occurred_at,quantity,minutes,module_code\n" + "".join(rows))
    load_files(session, "events", [extra], loaded_by="test")
    summary = compute(session)
    assert summary.mode == "new_weeks", summary
    assert summary.weeks_rewritten_for_everyone == 1
    # in full: the student with a row in an earlier week (and any using a source for the first
    # time); the 150 loaded only in the new week are not rewritten
    assert 1 <= summary.students < 10
    rows = read_measures(session, week_from=monday, week_to=monday, sources=["index"])
    assert len(rows) == 200  # every student has the new week, not only the ones loaded
    incremental = _snapshot(session)
    assert compute(session, full=True).mode == "full"
    for a, b in zip(incremental, _snapshot(session), strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_a_load_moving_a_weeks_cohort_prior_rewrites_everyone(sample_session, demo_dir, tmp_path):
    session = sample_session
    ids = pd.read_csv(demo_dir / "students.csv", dtype=str)["student_id"].tolist()
    extra = tmp_path / "late_moodle.csv"
    days = [date(2025, 10, 6) + timedelta(days=d) for d in range(5)]  # an early teaching week
    rows = [f"{sid},vle,{day},5,,\n" for sid in ids[:150] for day in days]
    extra.write_text("student_id,source,occurred_at,quantity,minutes,module_code\n" + "".join(rows))
    load_files(session, "events", [extra], loaded_by="test")
    # most students' Moodle days of that week change: the week's cohort median (the prior of
    # every student in cold start) moves, so untouched students' baselines may move too
    summary = compute(session)
    assert (summary.mode, summary.reason) == (
        "full",
        "a week's cohort prior (cold-start baseline) moved",
    )


def test_weekly_loads_resume_from_the_snapshot_and_equal_a_full_recompute(
    any_session, demo_dir, tmp_path
):
    """The term loaded a week at a time (that week's events, and the submissions export as it
    stood at the week's end): weekly loads resume the engine from its snapshot over the new week
    alone (a late submission changes an earlier week: that load recomputes every week), and the
    store ends exactly as a full recompute leaves it (flags raised and ended across weeks, the
    planted outages' data-quality events)."""
    session = any_session
    for source, name in CANONICAL_ORDER:
        if source not in ("events", "submissions"):
            load_files(session, source, [demo_dir / name], loaded_by="test")
    events = pd.read_csv(demo_dir / "events.csv", dtype=str, keep_default_na=False)
    day = pd.to_datetime(events["occurred_at"].str[:10])
    submissions = pd.read_csv(demo_dir / "submissions.csv", dtype=str, keep_default_na=False)
    due = pd.to_datetime(submissions["due_at"])
    submitted = pd.to_datetime(submissions["submitted_at"].replace("", None))
    ends = pd.date_range("2025-10-13", "2025-12-22", freq="7D")  # Mondays after each load
    sid = events["student_id"].iloc[0]
    modes = []
    for i, end in enumerate(ends):
        start = ends[i - 1] if i else pd.Timestamp("2000-01-01")
        paths = {"events": tmp_path / f"events_{i:02d}.csv"}
        events[(day >= start) & (day < end)].to_csv(paths["events"], index=False)
        known = submissions[(due < end) | (submitted < end)].copy()
        known.loc[(submitted >= end).to_numpy()[known.index], "submitted_at"] = ""
        paths["submissions"] = tmp_path / f"submissions_{i:02d}.csv"
        if len(known):
            known.to_csv(paths["submissions"], index=False)
        else:
            del paths["submissions"]
        for source, path in paths.items():
            (report,) = load_files(session, source, [path], loaded_by="test")
            assert report.status != "rejected", report.as_text()
        modes.append(compute(session).mode)
        session.commit()
    assert modes[0] == "full"
    # late submissions change the week before: resumed from the state kept after the week before
    assert set(modes[1:]) == {"new_weeks_resumed", "resumed_from_week"}, modes
    # a Monday of the next week alone: that week is not complete, nothing to compute yet
    early = tmp_path / "monday.csv"
    early.write_text(
        f"student_id,source,occurred_at,quantity,minutes,module_code\n{sid},vle,2025-12-22,3,,\n"
    )
    load_files(session, "events", [early], loaded_by="test")
    assert compute(session).as_dict() == {
        "mode": "up_to_date",
        "reason": "the new days are in a week not complete yet",
        "seconds": pytest.approx(0, abs=60),
    }
    # a correction three weeks back: resumed from the state kept after the week before it
    fix = tmp_path / "correction.csv"
    fix.write_text(
        f"student_id,source,occurred_at,quantity,minutes,module_code\n{sid},vle,2025-11-26,9,,\n"
    )
    load_files(session, "events", [fix], loaded_by="test")
    summary = compute(session)
    assert (summary.mode, summary.weeks_rewritten_for_everyone) == ("resumed_from_week", 4)
    stepwise = _snapshot(session)
    assert len(stepwise[1]) > 5 and stepwise[1]["ended_week"].notna().any()  # flags and recoveries
    assert len(stepwise[2]) >= 1  # the planted outages
    ids_before = sorted(session.scalars(select(Flag.id)))
    assert compute(session, full=True).mode == "full"
    for a, b in zip(stepwise, _snapshot(session), strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert sorted(session.scalars(select(Flag.id))) == ids_before


def test_a_students_only_load_writes_no_measure_rows_and_equals_full(
    any_sample_session, demo_dir, tmp_path
):
    session = any_sample_session
    template = pd.read_csv(demo_dir / "students.csv", dtype=str).head(40)
    newcomers = template.assign(
        student_id=[f"S9{i:06d}" for i in range(40)],
        email=[f"newcomer{i}@uni.example.ac.uk" for i in range(40)],
    )
    path = tmp_path / "students.csv"
    newcomers.to_csv(path, index=False)
    stored = _stored_rows(session)
    (report,) = load_files(session, "students", [path], loaded_by="test")
    assert report.rows_loaded == 40, report.message
    summary = compute(session)
    # the newcomers have nothing to measure yet (left out of the engine): nothing to rewrite
    assert (summary.mode, summary.measures_written) == ("up_to_date", None)
    assert _stored_rows(session) == stored
    incremental = _snapshot(session)
    assert compute(session, full=True).measures_written == stored
    for a, b in zip(incremental, _snapshot(session), strict=True):
        pd.testing.assert_frame_equal(a, b)


@pytest.mark.postgres
@pytest.mark.parametrize("any_sample_session", ["postgres"], indirect=True)
def test_engine_snapshots_are_stored_packed_and_not_compressed_again_on_postgresql(
    any_sample_session,
):
    """Snapshots are stored zstd-packed (38 MB at 40,000 students packs to ~5 MB); PostgreSQL
    keeps them as they are (its own compression took over a second for each)."""
    session = any_sample_session
    compute(session, full=True)
    blobs = session.scalars(text("SELECT data FROM engine_snapshots")).all()
    assert blobs and all(bytes(b).startswith(MAGIC) for b in blobs)
    used = text("SELECT DISTINCT pg_column_compression(data) FROM engine_snapshots")
    assert session.scalars(used).all() == [None]
    newest = max(session.scalars(text("SELECT key FROM engine_snapshots")))
    assert load_snapshot(session, date.fromisoformat(newest)) is not None  # read back


def test_weekly_loads_take_the_enrolments_kept_with_the_snapshot_while_the_store_keeps_them(
    any_sample_session, demo_dir, tmp_path, monkeypatch
):
    """A snapshot keeps the enrolments its compute read, with the store's key of them: a weekly
    load resumes without reading the enrolments again while the key is the same, and reads them
    again (keeping the new ones) once it differs."""
    from lib.compute import service
    from lib.compute.frames import enrolments_key
    from lib.store.models import Enrolment

    session = any_sample_session
    last_week = session.query(func.max(WeeklyMeasure.week_start)).scalar()
    kept = load_snapshot(session, last_week).enrolled
    assert kept is not None and kept.key == enrolments_key(session)
    assert len(kept.s) == session.query(Enrolment).count() > 0
    ids = pd.read_csv(demo_dir / "students.csv", dtype=str)["student_id"].tolist()
    reads: list[int] = []
    real = service.enrolled_frame
    monkeypatch.setattr(service, "enrolled_frame", lambda s: reads.append(1) or real(s))

    def next_week(monday: date) -> str:
        path = tmp_path / f"week_{monday}.csv"
        rows = [f"{sid},vle,{monday + timedelta(days=d)},3,,\n" for sid in ids for d in (0, 4)]
        path.write_text(
            "student_id,source,occurred_at,quantity,minutes,module_code\n" + "".join(rows)
        )
        (report,) = load_files(session, "events", [path], loaded_by="test")
        assert report.status != "rejected", report.as_text()
        return compute(session).mode

    assert next_week(last_week + timedelta(days=7)) == "new_weeks_resumed"
    assert reads == []  # taken from the snapshot
    # an enrolment removed without a load (as an erasure would): the key differs, read again
    session.delete(session.scalars(select(Enrolment).order_by(Enrolment.id).limit(1)).one())
    session.commit()
    assert enrolments_key(session) != kept.key
    assert next_week(last_week + timedelta(days=14)) == "new_weeks_resumed"
    assert reads == [1]
    newest = load_snapshot(session, last_week + timedelta(days=14)).enrolled
    assert newest is not None and newest.key == enrolments_key(session)
    assert len(newest.s) == len(kept.s) - 1
