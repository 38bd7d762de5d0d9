"""The store's weekly GROUP BY read gives the engine exactly the inputs the daily rows give."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.compute.frames import read_daily_frames, read_frames
from lib.compute.service import load_engine_config
from lib.engagement.measures import build_inputs
from lib.engagement.weekly import week_monday, week_number

ARRAYS = ("weeks", "teaching", "exempt", "value", "count", "expected", "vle_events")
ARRAYS += ("vle_last_day", "missed")


def test_week_numbers_start_on_monday():
    days = np.array(["2025-09-21", "2025-09-22", "2025-09-28", "1970-01-01"], "datetime64[D]")
    numbers = week_number((days - np.datetime64("1970-01-01")).astype(np.int64))
    mondays = week_monday(numbers)
    assert [str(m) for m in mondays] == ["2025-09-15", "2025-09-22", "2025-09-22", "1969-12-29"]


def test_weekly_sql_read_equals_daily_rows(any_sample_session):
    session = any_sample_session
    config = load_engine_config(session)
    frames = read_frames(session)
    rate, count = frames["activity"]
    assert set(rate["source"]) <= {"attendance", "online"} and len(rate) and len(count)
    weekly = build_inputs(**frames, config=config)
    daily = build_inputs(**read_daily_frames(session), config=config)
    for name in ARRAYS:
        a, b = getattr(weekly, name), getattr(daily, name)
        assert a.shape == b.shape, name
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)
    assert weekly.sources == daily.sources
    pd.testing.assert_frame_equal(weekly.module_events, daily.module_events)
    assert np.nansum(weekly.count) > 0 and weekly.missed.sum() > 0
