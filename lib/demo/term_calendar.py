"""UK academic-year calendar (terms, vacations, reading/exam weeks, bank holidays) for the demo data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

# Day kinds used by the activity model (one code per day of the academic year).
PRE_TERM, TEACHING, READING, EXAM, VACATION = 0, 1, 2, 3, 4

# One-off England & Wales bank holiday changes: (moved from, moved to) and extra days.
_MOVED = {date(2020, 5, 4): date(2020, 5, 8), date(2022, 5, 30): date(2022, 6, 2)}
_EXTRA = {
    date(2022, 6, 3): "Platinum Jubilee bank holiday",
    date(2022, 9, 19): "State Funeral of Queen Elizabeth II",
    date(2023, 5, 8): "Coronation of King Charles III",
}


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    day = (h + ell - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def _first_monday_on_or_after(d: date) -> date:
    return d + timedelta(days=(7 - d.weekday()) % 7)


def _last_monday(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    d = nxt - timedelta(days=1)
    return d - timedelta(days=d.weekday())


def _weekend_substitute(d: date, taken: set[date]) -> date:
    while d.weekday() >= 5 or d in taken:
        d += timedelta(days=1)
    return d


def bank_holidays(year: int) -> list[tuple[date, str]]:
    """England & Wales bank holidays in calendar year `year`."""
    out: list[tuple[date, str]] = []
    taken: set[date] = set()
    ny = _weekend_substitute(date(year, 1, 1), taken)
    out.append((ny, "New Year's Day" + (" (substitute day)" if ny.day != 1 else "")))
    easter = easter_sunday(year)
    out.append((easter - timedelta(days=2), "Good Friday"))
    out.append((easter + timedelta(days=1), "Easter Monday"))
    early_may = _first_monday_on_or_after(date(year, 5, 1))
    out.append((_MOVED.get(early_may, early_may), "Early May bank holiday"))
    spring = _last_monday(year, 5)
    out.append((_MOVED.get(spring, spring), "Spring bank holiday"))
    out.append((_last_monday(year, 8), "Summer bank holiday"))
    xmas = _weekend_substitute(date(year, 12, 25), taken)
    taken.add(xmas)
    out.append((xmas, "Christmas Day" + (" (substitute day)" if xmas.day != 25 else "")))
    boxing = _weekend_substitute(date(year, 12, 26), taken)
    out.append((boxing, "Boxing Day" + (" (substitute day)" if boxing.day != 26 else "")))
    out += [(d, label) for d, label in _EXTRA.items() if d.year == year]
    return sorted(out)


@dataclass
class AcademicCalendar:
    """Calendar rows plus per-day arrays indexed by days since 1 September of the academic year."""

    year: int
    rows: list[tuple[str, date, date, str]]
    first_day: date
    day_kind: np.ndarray  # int8 per day, one of PRE_TERM..VACATION
    bank_holiday: np.ndarray  # bool per day
    teaching_mondays: list[date]  # Monday of each teaching week, in order
    term_of_week: list[int]  # 0 autumn, 1 spring, 2 summer for each teaching week

    @property
    def n_days(self) -> int:
        return len(self.day_kind)

    def day_index(self, d: date) -> int:
        return (d - self.first_day).days

    def day(self, i: int) -> date:
        return self.first_day + timedelta(days=int(i))


def academic_calendar(year: int) -> AcademicCalendar:
    """Build the calendar of academic year `year` (September `year` to August `year + 1`)."""
    first, last = date(year, 9, 1), date(year + 1, 8, 31)
    day = timedelta(days=1)
    week = timedelta(days=7)
    rows: list[tuple[str, date, date, str]] = []

    autumn = _first_monday_on_or_after(date(year, 9, 22))
    autumn_end = autumn + 12 * week - 3 * day
    reading = autumn + 5 * week
    spring = _first_monday_on_or_after(date(year + 1, 1, 4))
    jan_exam_end = spring + 2 * week - 3 * day
    easter = easter_sunday(year + 1)
    easter_vac = easter - 8 * day
    spring_end = easter_vac - day
    summer = easter_vac + 23 * day
    may_exam = summer + 4 * week
    summer_end = may_exam + 4 * week - 3 * day

    rows.append(("vacation", first, autumn - day, "Summer vacation"))
    rows.append(("term", autumn, autumn_end, "Autumn term"))
    rows.append(("reading_week", reading, reading + 4 * day, "Autumn reading week"))
    rows.append(("vacation", autumn_end + day, spring - day, "Christmas vacation"))
    rows.append(("term", spring, spring_end, "Spring term"))
    rows.append(("exam", spring, jan_exam_end, "January examinations"))
    rows.append(("vacation", easter_vac, summer - day, "Easter vacation"))
    rows.append(("term", summer, summer_end, "Summer term"))
    rows.append(("exam", may_exam, summer_end, "May-June examinations"))
    rows.append(("vacation", summer_end + day, last, "Summer vacation"))
    for y in (year, year + 1):
        for d, label in bank_holidays(y):
            if first <= d <= last:
                rows.append(("bank_holiday", d, d, label))
    rows.sort(key=lambda r: (r[1], r[0]))

    n = (last - first).days + 1
    kind = np.full(n, VACATION, dtype=np.int8)
    kind[: (autumn - first).days] = PRE_TERM
    for k, s, e, _ in rows:
        if k == "term":
            kind[(s - first).days : (e - first).days + 1] = TEACHING
    # Weekends inside a term week stay TEACHING (they belong to the teaching week).
    for k, s, e, _ in rows:
        if k in ("reading_week", "exam"):
            code = READING if k == "reading_week" else EXAM
            kind[(s - first).days : (e - first).days + 3] = code
    bank = np.zeros(n, dtype=bool)
    for k, s, _, _ in rows:
        if k == "bank_holiday":
            bank[(s - first).days] = True

    mondays: list[date] = []
    terms: list[int] = []
    for t, (s, e) in enumerate(((autumn, autumn_end), (spring, spring_end), (summer, summer_end))):
        m = s
        while m <= e:
            if kind[(m - first).days] == TEACHING:
                mondays.append(m)
                terms.append(t)
            m += week
    return AcademicCalendar(year, rows, first, kind, bank, mondays, terms)
