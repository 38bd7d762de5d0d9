"""Working days shared by every wing (SPEC §5, §6): no weekends, the calendar's bank_holiday rows,
the UK nation's bank holidays from the holidays library."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

import holidays
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.store.models import CalendarPeriod, Setting

NATIONS = {
    "ENG": "England and Wales",
    "WLS": "England and Wales",
    "SCT": "Scotland",
    "NIR": "Northern Ireland",
}
DEFAULT_NATION = "ENG"
NATION_SETTING = "uk_nation"
_YEARS = range(2015, 2046)


def nation_holidays(nation: str = DEFAULT_NATION) -> tuple[date, ...]:
    """The bank holidays of one UK nation (holidays library), 2015–2045."""
    if nation not in NATIONS:
        raise ValueError(f"unknown UK nation {nation!r}: use one of {', '.join(NATIONS)}")
    return _nation_holidays(nation)


@lru_cache(maxsize=8)
def _nation_holidays(nation: str) -> tuple[date, ...]:
    return tuple(sorted(holidays.country_holidays("GB", subdiv=nation, years=_YEARS)))


class WorkingDays:
    """Working-day arithmetic over a fixed holiday list (vectorised with numpy's busday functions)."""

    def __init__(self, extra_holidays: Iterable[date] = (), nation: str = DEFAULT_NATION) -> None:
        self.nation = nation
        days = set(nation_holidays(nation)) | set(extra_holidays)
        self.holidays = sorted(days)
        self._calendar = np.busdaycalendar(
            weekmask="1111100", holidays=np.array(self.holidays, dtype="datetime64[D]")
        )

    def is_working(self, day: date) -> bool:
        return bool(np.is_busday(np.datetime64(day, "D"), busdaycal=self._calendar))

    def add_many(self, days: np.ndarray, n: int) -> np.ndarray:
        """The n-th working day after each day (datetime64[D]; NaT stays NaT). The day itself
        never counts: 10 working days after a Friday, or after the Saturday, is the second Friday
        after it."""
        days = np.asarray(days, dtype="datetime64[D]")
        out = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[D]")
        ok = ~np.isnat(days)
        # roll back to the last working day on or before, so that "after" starts from the next one
        out[ok] = np.busday_offset(days[ok], n, roll="backward", busdaycal=self._calendar)
        return out

    def add(self, day: date, n: int) -> date:
        """The n-th working day after `day`."""
        return self.add_many(np.array([day], dtype="datetime64[D]"), n)[0].astype(object)

    def count_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        if end <= start:
            return 0
        return int(
            np.busday_count(
                np.datetime64(start + timedelta(days=1), "D"),
                np.datetime64(end + timedelta(days=1), "D"),
                busdaycal=self._calendar,
            )
        )


def calendar_bank_holidays(session: Session) -> list[date]:
    """Every day inside the store calendar's `bank_holiday` rows."""
    days: list[date] = []
    for start, end in session.execute(
        select(CalendarPeriod.start, CalendarPeriod.end).where(
            CalendarPeriod.kind == "bank_holiday"
        )
    ):
        day = start
        while day <= end:
            days.append(day)
            day += timedelta(days=1)
    return days


def configured_nation(session: Session) -> str:
    """The institution's UK nation (setting `uk_nation`, default England and Wales)."""
    value = session.scalar(select(Setting.value).where(Setting.key == NATION_SETTING))
    return value if isinstance(value, str) and value in NATIONS else DEFAULT_NATION


def working_days(session: Session) -> WorkingDays:
    """Working days for this store: its calendar's bank holidays plus its nation's."""
    return WorkingDays(calendar_bank_holidays(session), configured_nation(session))
