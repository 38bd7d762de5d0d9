"""Weekly measures stored one wide row per student-week: what readers get back is exactly the
engine's long measures (any source, cold starts, empty values), and migration 0017 converts the
long rows stored before it, both ways."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, text

from lib.compute.measure_rows import wide_measures
from lib.compute.results import persist_measures, publish
from lib.engagement.engine import run
from lib.engagement.explain import measures_frame
from lib.engagement.measures import build_inputs
from lib.store.db import ROOT, get_engine, session_factory
from lib.store.measures import LONG_COLUMNS, long_frame, read_measures
from lib.store.models import WeeklyMeasure, WeeklyMeasureOther
from tests.engine_cases import WEEKS, scenario_frames


def _engine_run():
    """The scenario with a source of no core column ("library") used by two students from
    the fifth week, and one student without any activity before the third week."""
    ids, (act, exp, sub, cal, ex), cfg = scenario_frames()
    library = [
        (sid, "library", week + timedelta(days=1), "", 2.0, None)
        for sid in ids[:2]
        for week in WEEKS[4:]
    ]
    act = pd.concat([act, pd.DataFrame(library, columns=act.columns)], ignore_index=True)
    late = ids[-1]
    early = (act["student_id"] == late) & (pd.to_datetime(act["day"]) < pd.Timestamp(WEEKS[2]))
    act = act[~early]
    exp = exp[
        ~((exp["student_id"] == late) & (pd.to_datetime(exp["day"]) < pd.Timestamp(WEEKS[2])))
    ]
    sub = sub[~((sub["student_id"] == late) & (sub["due_at"] < pd.Timestamp(WEEKS[2])))]
    inp = build_inputs(pd.Index(ids), act, exp, sub, cal, ex, cfg)
    return inp, run(inp, cfg)


def _expected(inp, res, first_week: int = 0) -> pd.DataFrame:
    """measures_frame in the readers' order and types."""
    frame = measures_frame(inp, res, first_week=first_week)
    frame["week_start"] = pd.to_datetime(frame["week_start"]).dt.date
    frame["cold_start"] = frame["cold_start"].astype(bool)
    frame["teaching"] = frame["teaching"].astype(bool)
    frame = frame.sort_values(["student_id", "week_start", "source"], kind="stable")
    return frame[LONG_COLUMNS].reset_index(drop=True)


def test_wide_rows_read_back_as_the_engines_long_measures_exactly():
    inp, res = _engine_run()
    assert "library" in inp.sources
    for first in (0, 6):
        wide, other = wide_measures(inp, res, np.arange(len(inp.student_ids)), first)
        assert len(other["source"]) and set(other["source"]) == {"library"}
        got = long_frame(pd.DataFrame(wide), pd.DataFrame(other))
        got["week_start"] = pd.to_datetime(got["week_start"]).dt.date
        expected = _expected(inp, res, first)
        if first == 0:  # the late student has no row before their first activity
            assert (got["source"] == "index").sum() < len(inp.student_ids) * len(WEEKS)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_stored_measures_read_back_exactly_on_both_stores(any_session):
    session = any_session
    inp, res = _engine_run()
    written = persist_measures(session, inp, res, None, 0)
    publish(session)
    session.commit()
    stored = session.scalar(select(func.count()).select_from(WeeklyMeasure))
    others = session.scalar(select(func.count()).select_from(WeeklyMeasureOther))
    assert others > 0 and written == stored + others
    expected = _expected(inp, res)
    pd.testing.assert_frame_equal(read_measures(session), expected, check_exact=True)
    # an empty value is NULL in SQL (readers test it there), never a stored NaN
    attendance = expected[expected["source"] == "attendance"]
    empty = select(func.count()).where(
        WeeklyMeasure.measured.op("&")(2) == 2, WeeklyMeasure.attendance_value.is_(None)
    )
    assert session.scalar(empty) == attendance["value"].isna().sum() > 0
    some = read_measures(session, students=["S00", "S03"], sources=["library", "vle"])
    mine = expected[expected["student_id"].isin(["S00", "S03"])]
    mine = mine[mine["source"].isin(["library", "vle"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(some, mine, check_exact=True)


# --- migration 0017 -------------------------------------------------------------------------------

LONG_ROWS = [
    # student, week, source, value, expected, baseline, low, high, cold, teaching, v_from, v_to
    ("S1", 0, "index", 0.8, None, 1.0, 0.6, 1.4, True, True, 1, 2),
    ("S1", 0, "attendance", 0.5, 4.0, 0.75, 0.25, 1.25, True, True, 1, 2),
    ("S1", 0, "vle", 3.0, None, 4.0, 2.5, 5.5, False, True, 1, 2),
    ("S1", 0, "index", 0.9, None, 1.0, 0.5, 1.5, False, True, 2, None),
    ("S1", 0, "attendance", None, None, 0.75, 0.0, 2.0, False, True, 2, None),
    ("S1", 0, "library", 2.0, None, 2.0, 1.0, 3.0, True, True, 2, None),
    ("S1", 1, "index", None, None, None, None, None, True, False, 2, None),
    ("S1", 1, "submission", 1.0, 2.0, 0.5, 0.0, 1.5, True, False, 2, None),
    ("S2", 1, "index", 1.25, None, 1.0, 0.5, 1.5, False, False, 2, None),
    ("S2", 1, "lecture_capture", 30.0, None, 20.0, 10.0, 30.0, False, False, 2, None),
    ("S2", 1, "online", 1.0, 1.0, 1.0, 0.5, 1.5, True, False, 2, None),
]
LONG_NAMES = [*LONG_COLUMNS, "v_from", "v_to"]


def _alembic(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["url"] = url
    return config


def _long(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=LONG_NAMES)
    frame["week_start"] = [date(2025, 9, 22) + timedelta(weeks=w) for w in frame["week_start"]]
    for column in ("value", "expected", "baseline", "baseline_low", "baseline_high"):
        frame[column] = frame[column].astype(float)
    for column in ("cold_start", "teaching"):
        frame[column] = frame[column].astype(bool)
    for column in ("v_from", "v_to"):
        frame[column] = frame[column].astype("Int64")
    return frame.sort_values(["student_id", "week_start", "source", "v_from"], ignore_index=True)


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.sort_values(["student_id", "week_start", "source", "v_from"], ignore_index=True)
    pd.testing.assert_frame_equal(got[LONG_NAMES], want, check_exact=False, rtol=1e-12)


def test_migration_0017_round_trip(store_url):
    config = _alembic(store_url)
    command.downgrade(config, "0016")
    engine = get_engine(store_url)
    want = _long(LONG_ROWS)
    names = ", ".join(LONG_NAMES)
    marks = ", ".join(f":{c}" for c in LONG_NAMES)
    with engine.begin() as conn:
        rows = want.astype(object).where(want.notna(), None).to_dict("records")
        conn.execute(text(f"INSERT INTO weekly_measures ({names}) VALUES ({marks})"), rows)
    command.upgrade(config, "head")
    engine.dispose()
    with get_engine(store_url).connect() as conn:
        wide = conn.execute(text("SELECT count(*) FROM weekly_measures")).scalar()
        other = conn.execute(text("SELECT count(*) FROM weekly_measures_other")).scalar()
    assert (wide, other) == (4, 1)  # S1's week 0 in two versions, S1's and S2's week 1
    with session_factory(store_url)() as session:
        _same(read_measures(session, every_version=True), want)
    command.downgrade(config, "0016")
    get_engine(store_url).dispose()
    with get_engine(store_url).connect() as conn:
        back = pd.DataFrame(conn.execute(text(f"SELECT {names} FROM weekly_measures")).all())
    back.columns = LONG_NAMES
    back["week_start"] = pd.to_datetime(back["week_start"]).dt.date
    for column in ("cold_start", "teaching"):
        back[column] = back[column].astype(bool)
    for column in ("value", "expected", "baseline", "baseline_low", "baseline_high"):
        back[column] = back[column].astype(float)
    for column in ("v_from", "v_to"):
        back[column] = back[column].astype("Int64")
    _same(back, want)
    command.upgrade(config, "head")
