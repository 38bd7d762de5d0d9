"""A load's weekly activity totals summed from its own daily rows, as compute's fold sums them in
SQL (lib.compute.totals.daily_totals), for the weeks that held no daily row before the load."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.compute.totals import TEXT, LoadTotals, week_days
from lib.engagement.weekly import RATE_SOURCES
from lib.store.models import DailyActivity

EPOCH = np.datetime64("1970-01-01", "D")
Totals = dict[int, tuple[pd.DataFrame, pd.DataFrame]]
Coded = dict[str, tuple[np.ndarray, Any]]  # a text column: codes of the rows, values of the codes


@dataclass
class LoadWeeks:
    """What a load's daily activity writes leave to compute's fold: the rows of the weeks that
    held no stored daily row before them (summed here, after the commit), and the weeks written
    over stored rows (replaced or merged there: summed again in SQL)."""

    parts: list[dict] = field(default_factory=list)
    over: set[int] = field(default_factory=set)

    def note(
        self, session: Session, daily: pd.DataFrame, days: np.ndarray, coded: Coded | None
    ) -> None:
        """Before `daily` (rows sorted by the daily key; `days` its datetime64[D] days) is
        written: keep the rows of its weeks that hold no stored row. `coded`: its text columns'
        codes when it was aggregated (then one row per key, each complete)."""
        epoch = (days.astype("datetime64[D]") - EPOCH).astype(np.int64)
        week = (epoch + 3) // 7
        weeks = [int(w) for w in np.unique(week)]
        if coded is None and not _foldable(daily):
            self.over.update(weeks)
            return
        stored: set[int] = set()
        if _holds_rows(session, weeks[0], weeks[-1]):  # (also a week an earlier write noted)
            stored = {w for w in weeks if _holds_rows(session, w, w)}
        self.over |= stored
        keep = ~np.isin(week, list(stored)) if stored else np.ones(len(week), bool)
        if not keep.any():
            return
        if coded is None:
            coded = {name: pd.factorize(daily[name]) for name in TEXT}
        numbers = {
            "day": epoch,
            "quantity": daily["quantity"].to_numpy(dtype=float),
            "minutes": daily["minutes"].to_numpy(dtype=float, na_value=np.nan),
        }
        if not keep.all():
            coded = {name: (codes[keep], values) for name, (codes, values) in coded.items()}
            numbers = {name: values[keep] for name, values in numbers.items()}
        self.parts.append({"texts": coded, **numbers})

    def totals(self, load_id: int) -> LoadTotals:
        """The weeks summed from the load's rows (those later written over left out)."""
        weeks: Totals = {}
        for part in self.parts:
            weeks.update(week_totals(**part))
        ready = {w: t for w, t in weeks.items() if w not in self.over}
        return LoadTotals(load_id, ready, set(self.over))


def _holds_rows(session: Session, first_week: int, last_week: int) -> bool:
    """Whether the store holds a daily row in the days of these weeks."""
    days = DailyActivity.day.between(week_days(first_week)[0], week_days(last_week)[1])
    return session.scalar(select(DailyActivity.day).where(days).limit(1)) is not None


def _foldable(daily: pd.DataFrame) -> bool:
    """Rows the store keeps as they are: complete keys, one row per key, a quantity each."""
    if daily[list(TEXT)].isna().to_numpy().any() or daily["quantity"].isna().any():
        return False
    return not daily.duplicated(["student_id", "source", "day", "module_code"]).any()


def week_totals(texts: Coded, day: np.ndarray, quantity: np.ndarray, minutes: np.ndarray) -> Totals:
    """Week -> (rate, count) rows of daily rows (one per key; texts as codes and values, epoch
    days), each as daily_totals sums them. Rows come sorted by student, source and day (the
    daily key's order), so each (student, source, week) is one run: sums are taken over runs,
    in day order (values not exact in binary may sum to another last bit than in SQL, whose
    order is its plan's, as SQLite's and PostgreSQL's may differ from each other)."""
    student, source, module = (texts[name][0] for name in TEXT)
    same = (student[1:] == student[:-1]) & (source[1:] == source[:-1])
    if (same & (day[1:] < day[:-1])).any():  # not in the key's order: put them in it
        order = np.lexsort((day, source, student))
        student, source, module = student[order], source[order], module[order]
        day, quantity, minutes = day[order], quantity[order], minutes[order]
    week = (day + 3) // 7
    is_rate = np.isin(source, np.flatnonzero(pd.Index(texts["source"][1]).isin(RATE_SOURCES)))
    count = _count_rows(*(v[~is_rate] for v in (student, source, week, day, quantity, minutes)))
    rate = _rate_rows(*(v[is_rate] for v in (student, source, module, week, quantity)))
    rate_weeks, count_weeks = _by_week(rate), _by_week(count)
    return {
        w: (_frame(rate, rate_weeks.get(w), texts), _frame(count, count_weeks.get(w), texts))
        for w in sorted(rate_weeks.keys() | count_weeks.keys())
    }


def _by_week(rows: dict[str, np.ndarray]) -> dict[int, slice]:
    """The rows put in week order (stable: each week's keep theirs); week -> its slice."""
    order = np.argsort(rows["week"], kind="stable")
    for name, values in rows.items():
        rows[name] = values[order]
    starts = _runs(rows["week"])
    ends = np.append(starts[1:], len(order))[: len(starts)]
    return {int(rows["week"][a]): slice(a, b) for a, b in zip(starts, ends, strict=True)}


def _frame(rows: dict[str, np.ndarray], at: slice | None, texts: Coded) -> pd.DataFrame:
    """One week's rows as a frame, as daily_totals' but texts categorical (stored the same way,
    as codes and values, without a string made per row)."""
    at = at or slice(0, 0)
    out = {}
    for name, values in rows.items():
        if name in texts:
            out[name] = pd.Categorical.from_codes(values[at], pd.Index(texts[name][1]))
        else:
            out[name] = values[at]
    return pd.DataFrame(out)


def _runs(*keys: np.ndarray) -> np.ndarray:
    """The start of each run of rows equal in every key."""
    new = np.zeros(len(keys[0]), bool)
    new[:1] = True
    for key in keys:
        new[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(new)


def _group_of_rows(starts: np.ndarray, rows: int) -> np.ndarray:
    """The run number of each row, from the runs' starts."""
    first = np.zeros(rows, np.int64)
    first[starts] = 1
    return np.cumsum(first) - 1


def _count_rows(
    student: np.ndarray,
    source: np.ndarray,
    week: np.ndarray,
    day: np.ndarray,
    quantity: np.ndarray,
    minutes: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per (student, source, week): sums, positive sum, distinct positive days, minutes (NaN when
    none), last positive day (NaN when none), rows."""
    starts = _runs(student, source, week)
    positive = quantity > 0
    has_minutes = ~np.isnan(minutes)
    summed_minutes = np.add.reduceat(np.where(has_minutes, minutes, 0.0), starts)
    summed_minutes[~np.logical_or.reduceat(has_minutes, starts)] = np.nan
    group = _group_of_rows(starts, len(week))
    at = np.flatnonzero(positive)  # a positive row on a day its group had not yet: a new day
    new_day = np.ones(len(at), bool)
    new_day[1:] = (group[at][1:] != group[at][:-1]) | (day[at][1:] != day[at][:-1])
    return {
        "student_id": student[starts],
        "source": source[starts],
        "week": week[starts],
        "quantity": np.add.reduceat(quantity, starts),
        "positive": np.add.reduceat(np.where(positive, quantity, 0.0), starts),
        "active_days": np.bincount(group[at], new_day, len(starts)).astype(np.int64),
        "minutes": summed_minutes,
        "last_day": np.fmax.reduceat(np.where(positive, day, np.nan), starts),
        "n": np.diff(np.append(starts, len(week))).astype(np.int64),
    }


def _rate_rows(
    student: np.ndarray,
    source: np.ndarray,
    module: np.ndarray,
    week: np.ndarray,
    quantity: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per (student, source, module, week): sums and rows."""
    run = _group_of_rows(_runs(student, source, week), len(week))
    order = np.lexsort((module, run))  # stable: each module's days stay in order
    student, source, module = student[order], source[order], module[order]
    week, quantity = week[order], quantity[order]
    starts = _runs(run[order], module)
    return {
        "student_id": student[starts],
        "source": source[starts],
        "module_code": module[starts],
        "week": week[starts],
        "quantity": np.add.reduceat(quantity, starts),
        "n": np.diff(np.append(starts, len(week))).astype(np.int64),
    }
