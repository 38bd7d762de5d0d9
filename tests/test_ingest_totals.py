"""A load's weekly totals summed from its own rows equal compute's SQL fold exactly, on both stores:
new weeks from the frame (no SQL sum), weeks written over stored rows (replaced, unchanged or new
days) and loads left unfolded summed again in SQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

import lib.compute.totals as compute_totals
import lib.ingest.pipeline as pipeline
from lib.compute.totals import _loads, daily_totals, fold, week_days, week_of
from lib.engagement.weekly import weekly_activity
from lib.ingest.pipeline import load_file
from lib.ingest.totals import week_totals
from lib.store.models import DailyActivity, WeeklyActivity
from lib.store.packed import MAGIC
from tests.test_compute_totals import as_text

STUDENTS_HEADER = (
    "student_id,given_name,family_name,email,personal_email,phone,course_code,course_name,"
    "school,level,year_of_study,mode,tutor_username,visa_sponsored,residence,status,start_date"
)
IDS = [f"2025{i:04d}" for i in range(12)]
SOURCES = ["attendance", "online", "vle", "library", "lecture_capture", "labs"]
MODULES = ["COMP1001", "MATH1001", ""]
RATE_KEYS = ["student_id", "source", "module_code", "week"]
COUNT_KEYS = ["student_id", "source", "week"]


def events(first: date, last: date, rows: int, seed: int) -> pd.DataFrame:
    """Occurrences on the days first..last (several a key, zero quantities, empty minutes);
    values exact in binary, so that every order of summing gives the same sums."""
    rng = np.random.default_rng(seed)
    span = (last - first).days + 1
    moment = pd.Timestamp(first) + pd.to_timedelta(rng.integers(0, span * 24 * 60, rows), "min")
    return pd.DataFrame(
        {
            "student_id": rng.choice(IDS, rows),
            "source": rng.choice(SOURCES, rows),
            "occurred_at": moment.strftime("%Y-%m-%dT%H:%M"),
            "quantity": rng.choice([0.0, 0.5, 1.0, 2.0, 3.25], rows),
            "minutes": rng.choice(["", "5", "7.5", "30"], rows),
            "module_code": rng.choice(MODULES, rows),
        }
    )


def load_events(session: Session, tmp_path: Path, name: str, frame: pd.DataFrame):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    report = load_file(session, "events", path, loaded_by="test")
    assert report.status == "loaded", report.message
    return report


@pytest.fixture
def store(any_session: Session, tmp_path: Path) -> Session:
    rows = [
        f"{sid},Given,Family,s{sid}@uni.example.ac.uk,,,G400,CS,Computer Science,UG,1,FT,"
        "t.tutor,no,off_campus,enrolled,2025-09-22"
        for sid in IDS
    ]
    (tmp_path / "students.csv").write_text("\n".join([STUDENTS_HEADER, *rows]) + "\n")
    assert load_file(any_session, "students", tmp_path / "students.csv").status == "loaded"
    return any_session


@pytest.fixture
def summed(monkeypatch) -> list[int]:
    """The weeks the fold sums in SQL (daily_totals), in call order."""
    weeks: list[int] = []
    original = compute_totals.daily_totals

    def spy(session, window, students=None):
        weeks.append(week_of(window[0]))
        return original(session, window, students)

    monkeypatch.setattr(compute_totals, "daily_totals", spy)
    return weeks


def _decoded(blob: bytes, week: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stored week's (rate, count) frames, texts as text."""
    got = _loads(blob, week)
    assert got is not None
    return as_text(got[0]), as_text(got[1])


def assert_weeks_equal_sql(session: Session) -> set[int]:
    """Every stored week decodes to exactly the SQL sums of its daily rows; the weeks stored."""
    session.expire_all()
    stored = session.execute(select(WeeklyActivity.week, WeeklyActivity.data)).all()
    days = session.execute(select(DailyActivity.day).distinct()).scalars()
    assert {w for w, _ in stored} == {week_of(_day(d)) for d in days}
    for week, blob in stored:
        got = _decoded(blob, week)
        for mine, sql, keys in zip(
            got, daily_totals(session, week_days(week)), (RATE_KEYS, COUNT_KEYS), strict=True
        ):
            mine = mine.sort_values(keys, ignore_index=True)
            sql = sql.sort_values(keys, ignore_index=True)[list(mine.columns)]
            pd.testing.assert_frame_equal(mine, sql, check_exact=True)
    return {w for w, _ in stored}


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def test_new_weeks_fold_from_the_load_and_overlapping_loads_equal_the_sql_fold(
    store: Session, tmp_path: Path, summed: list[int]
):
    session = store
    # A: Wednesday 8 October to Wednesday 22 October, into an empty store: no SQL sums
    first = load_events(
        session, tmp_path, "a.csv", events(date(2025, 10, 8), date(2025, 10, 22), 900, 1)
    )
    assert summed == []
    weeks_a = assert_weeks_equal_sql(session)
    assert weeks_a == {week_of(date(2025, 10, d)) for d in (8, 13, 20)}
    newest = session.scalar(select(func.max(WeeklyActivity.load_id)))
    assert newest == first.load_id
    # B: 20 October to 5 November, replacing some of A's rows (same keys, other values) and
    # repeating others unchanged: the week of 20 October (stored rows) is summed in SQL, the two
    # weeks after it (no stored rows) from B's rows
    stored = pd.read_csv(tmp_path / "a.csv", dtype=str, keep_default_na=False)
    late = stored[stored["occurred_at"] >= "2025-10-20"]
    replaced = late.iloc[::2].assign(quantity="4")
    repeated = late.iloc[1::2]
    more = events(date(2025, 10, 20), date(2025, 11, 5), 900, 2)
    summed.clear()
    load_events(session, tmp_path, "b.csv", pd.concat([replaced, repeated, more]))
    assert summed == [week_of(date(2025, 10, 20))]
    assert assert_weeks_equal_sql(session) == weeks_a | {
        week_of(date(2025, 10, 27)),
        week_of(date(2025, 11, 3)),
    }
    # C: a few rows on the Monday and Tuesday before A's first day: its week refolded in SQL
    summed.clear()
    load_events(session, tmp_path, "c.csv", events(date(2025, 10, 6), date(2025, 10, 7), 5, 3))
    assert set(summed) == {week_of(date(2025, 10, 6))}
    assert_weeks_equal_sql(session)
    # and the same weeks folded afresh from the daily rows, all in SQL: the same bytes' frames
    before = dict(session.execute(select(WeeklyActivity.week, WeeklyActivity.data)).all())
    session.execute(delete(WeeklyActivity))
    session.commit()
    fold(session)
    after = dict(session.execute(select(WeeklyActivity.week, WeeklyActivity.data)).all())
    assert before.keys() == after.keys()
    for week, blob in before.items():
        for mine, sql, keys in zip(
            _decoded(blob, week), _decoded(after[week], week), (RATE_KEYS, COUNT_KEYS), strict=True
        ):
            pd.testing.assert_frame_equal(
                mine.sort_values(keys, ignore_index=True),
                sql.sort_values(keys, ignore_index=True),
                check_exact=True,
            )


def test_a_load_left_unfolded_is_summed_in_sql_by_the_next_loads_fold(
    store: Session, tmp_path: Path, summed: list[int], monkeypatch
):
    session = store
    with monkeypatch.context() as patch:  # A's load folds nothing (as a killed process)
        patch.setattr(pipeline, "fold_after_load", lambda session, loaded=None: {})
        load_events(
            session, tmp_path, "a.csv", events(date(2025, 10, 6), date(2025, 10, 12), 300, 4)
        )
    assert summed == []
    load_events(session, tmp_path, "b.csv", events(date(2025, 10, 13), date(2025, 10, 26), 300, 5))
    assert summed == [week_of(date(2025, 10, 6))]  # A's week; B's two new weeks from its rows
    assert len(assert_weeks_equal_sql(session)) == 3


def test_demo_loads_weekly_totals_equal_the_sql_fold(any_sample_session):
    """The demo folder's loads (QR and Teams attendance deriving activity in several writes of one
    load, Moodle logs as daily rows, submissions, canonical events)."""
    assert len(assert_weeks_equal_sql(any_sample_session)) > 10


def test_a_week_folded_as_an_npz_archive_before_reads_as_the_raw_arrays_do(any_sample_session):
    """Weeks folded before the raw-array form (an .npz archive of the same arrays) still read,
    equal to the form written now: no refold needed after an upgrade."""
    import io

    from lib.engagement.snapshot import unpack_arrays
    from lib.store.packed import pack, unpack_view

    week, blob = any_sample_session.execute(
        select(WeeklyActivity.week, WeeklyActivity.data).order_by(WeeklyActivity.rows.desc())
    ).first()
    arrays = unpack_arrays(unpack_view(blob))
    assert arrays is not None and int(arrays["format"]) == compute_totals.FORMAT
    archive = io.BytesIO()
    np.savez(archive, **arrays)
    older = pack(archive.getvalue())
    assert unpack_view(older)[:2] == b"PK"
    now, before = _decoded(blob, week), _decoded(older, week)
    assert len(now[0]) + len(now[1]) > 0
    for mine, theirs in zip(now, before, strict=True):
        pd.testing.assert_frame_equal(mine, theirs, check_exact=True)


@pytest.mark.parametrize("shuffle", [False, True])
def test_week_totals_equal_the_engines_weekly_sums(shuffle: bool):
    """Against lib.engagement.weekly.weekly_activity; rows in the key's order or not."""
    rng = np.random.default_rng(6)
    rows = 4_000
    daily = pd.DataFrame(
        {
            "student_id": rng.choice(IDS, rows),
            "source": rng.choice(SOURCES, rows),
            "day": pd.Timestamp("2025-09-29") + pd.to_timedelta(rng.integers(0, 40, rows), "D"),
            "module_code": rng.choice(MODULES, rows),
            "quantity": rng.choice([0.0, 0.5, 1.0, 4.0], rows),
            "minutes": rng.choice([np.nan, 2.5, 10.0], rows),
        }
    ).drop_duplicates(["student_id", "source", "day", "module_code"])
    daily = daily.sort_values(["student_id", "source", "day", "module_code"])
    if shuffle:
        daily = daily.sample(frac=1.0, random_state=1)
    epoch = (daily["day"].to_numpy("datetime64[D]") - np.datetime64("1970-01-01", "D")).astype(
        np.int64
    )
    got = week_totals(
        {name: pd.factorize(daily[name]) for name in ("student_id", "source", "module_code")},
        epoch,
        daily["quantity"].to_numpy(float),
        daily["minutes"].to_numpy(float),
    )
    rate, count = weekly_activity(daily)
    assert sorted(got) == sorted(set(rate["week"]) | set(count["week"]))
    for week, (mine_rate, mine_count) in got.items():
        for mine, want, keys in (
            (mine_rate, rate, RATE_KEYS),
            (mine_count, count, COUNT_KEYS),
        ):
            texts = {k: object for k in keys if k != "week"}
            want = want[want["week"] == week].astype(texts).sort_values(keys, ignore_index=True)
            mine = mine.drop(columns="n").astype(texts).sort_values(keys, ignore_index=True)
            pd.testing.assert_frame_equal(
                mine, want[list(mine.columns)], check_exact=True, check_dtype=False
            )
    first = next(iter(got.values()))
    assert first[1]["n"].dtype == np.int64 and first[1]["active_days"].dtype == np.int64


def test_weeks_are_stored_packed_and_not_compressed_again_on_postgresql(
    store: Session, tmp_path: Path
):
    """A week's totals are stored zstd-packed (lib.store.packed); PostgreSQL keeps them out of
    line as they are (STORAGE EXTERNAL: its own compression of packed bytes would be wasted)."""
    session = store
    # a week's bytes over the ~2 kB past which PostgreSQL moves a value out of line
    load_events(session, tmp_path, "a.csv", events(date(2025, 10, 6), date(2025, 10, 12), 900, 7))
    blobs = session.scalars(text("SELECT data FROM weekly_activity")).all()
    assert blobs and all(bytes(b).startswith(MAGIC) for b in blobs)
    if session.get_bind().dialect.name == "postgresql":
        used = text("SELECT DISTINCT pg_column_compression(data) FROM weekly_activity")
        assert session.scalars(used).all() == [None]
        stored = text(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = 'weekly_activity'::regclass "
            "AND attname = 'data'"
        )
        assert session.scalar(stored) == "e"
