"""Working days shared by every wing: no weekends, the calendar's bank holidays, the UK nation's."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import holidays
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.store.models import CalendarPeriod, Setting

NATIONS = ("ENG", "WLS", "SCT", "NIR")
DEFAULT_NATION = "ENG"  # England and Wales
NATION_SETTING = "uk_nation"
_YEARS = range(2015, 2046)


class WorkingDays:
    """Working-day arithmetic over one holiday list (numpy busday functions, vectorised)."""

    def __init__(self, extra_holidays: Iterable[date] = (), nation: str = DEFAULT_NATION) -> None:
        if nation not in NATIONS:
            raise ValueError(f"unknown UK nation {nation!r}: use one of {', '.join(NATIONS)}")
        days = set(holidays.country_holidays("GB", subdiv=nation, years=_YEARS)) | set(
            extra_holidays
        )
        self.holidays = sorted(days)
        self._calendar = np.busdaycalendar(
            weekmask="1111100", holidays=np.array(self.holidays, dtype="datetime64[D]")
        )

    def add_many(self, days: np.ndarray, n: int) -> np.ndarray:
        """The n-th working day after each day (datetime64[D]; NaT stays NaT). The day itself
        never counts: 10 working days after a Friday is the second Friday after it."""
        days = np.asarray(days, dtype="datetime64[D]")
        out = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[D]")
        ok = ~np.isnat(days)
        # roll back to the last working day on or before, so that "after" starts from the next one
        out[ok] = np.busday_offset(days[ok], n, roll="backward", busdaycal=self._calendar)
        return out

    def add(self, day: date, n: int) -> date:
        """The n-th working day after `day`."""
        return self.add_many(np.array([day], dtype="datetime64[D]"), n)[0].astype(object)


def calendar_bank_holidays(session: Session) -> list[date]:
    """Every day inside the store calendar's `bank_holiday` rows."""
    days: list[date] = []
    rows = select(CalendarPeriod.start, CalendarPeriod.end).where(
        CalendarPeriod.kind == "bank_holiday"
    )
    for start, end in session.execute(rows):
        days += [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return days


def working_days(session: Session) -> WorkingDays:
    """Working days for this store: its calendar's bank holidays plus its UK nation's (setting)."""
    nation = session.scalar(select(Setting.value).where(Setting.key == NATION_SETTING))
    return WorkingDays(
        calendar_bank_holidays(session), nation if nation in NATIONS else DEFAULT_NATION
    )
