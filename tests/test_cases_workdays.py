"""Working days: weekends, the nation's bank holidays, the store calendar's bank_holiday rows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from lib.store.models import CalendarPeriod, Setting
from lib.workdays import WorkingDays, working_days


def test_weekends_are_skipped():
    days = WorkingDays()
    assert days.add(date(2025, 11, 14), 1) == date(2025, 11, 17)  # Friday -> Monday
    assert days.add(date(2025, 11, 17), 5) == date(2025, 11, 24)
    assert days.add(date(2025, 11, 15), 1) == date(2025, 11, 18)  # Saturday rolls to Monday first
    assert days.count_between(date(2025, 11, 14), date(2025, 11, 17)) == 1
    assert days.count_between(date(2025, 11, 17), date(2025, 11, 17)) == 0


def test_england_and_wales_bank_holidays_by_default():
    days = WorkingDays()
    # Christmas Day and Boxing Day 2025 (Thursday, Friday), then the weekend
    assert days.add(date(2025, 12, 24), 1) == date(2025, 12, 29)
    # Easter 2026: Good Friday 3 April, Easter Monday 6 April
    assert days.add(date(2026, 4, 2), 1) == date(2026, 4, 7)
    assert not days.is_working(date(2026, 8, 31))  # summer bank holiday (England and Wales)


def test_scotland_differs():
    scotland = WorkingDays(nation="SCT")
    assert scotland.is_working(date(2026, 8, 31))
    assert not scotland.is_working(date(2026, 8, 3))  # Scottish summer bank holiday
    assert not scotland.is_working(date(2026, 1, 2))
    with pytest.raises(ValueError):
        WorkingDays(nation="XX")


def test_extra_holidays_and_vectorised_add():
    days = WorkingDays([date(2025, 11, 18)])
    assert days.add(date(2025, 11, 17), 1) == date(2025, 11, 19)
    out = days.add_many(np.array(["2025-11-17", "NaT", "2025-11-21"], dtype="datetime64[D]"), 1)
    assert list(out.astype(str)) == ["2025-11-19", "NaT", "2025-11-24"]


def test_store_calendar_rows_and_nation_setting(session):
    from datetime import datetime

    session.add(
        CalendarPeriod(kind="bank_holiday", start=date(2025, 11, 18), end=date(2025, 11, 19))
    )
    session.add(
        CalendarPeriod(kind="reading_week", start=date(2025, 11, 24), end=date(2025, 11, 28))
    )
    session.commit()
    days = working_days(session)
    assert days.add(date(2025, 11, 17), 1) == date(2025, 11, 20)
    assert days.is_working(date(2025, 11, 24))  # a reading week is a working week
    session.add(
        Setting(key="uk_nation", value="SCT", updated_at=datetime(2025, 1, 1), updated_by="t")
    )
    session.commit()
    assert working_days(session).nation == "SCT"
