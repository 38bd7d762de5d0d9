"""Weekly activity totals kept by compute: each week of daily activity summed once (as the engine
reads it) and stored as one row, refolded only when a load changes that week's days, so a full
compute reads weekly totals and the weekly load's compute sums one week of daily rows."""

from __future__ import annotations

import io
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    case,
    delete,
    distinct,
    false,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import Session

from lib.compute.sql import Window, days, epoch_day_sql, raw_frame, week_sql
from lib.engagement.snapshot import array_parts, unpack_arrays
from lib.engagement.weekly import COUNT_COLUMNS, RATE_COLUMNS, RATE_SOURCES
from lib.store.models import DailyActivity, Load, WeeklyActivity
from lib.store.packed import pack_parts, unpack_view

FORMAT = 1
EPOCH = date(1970, 1, 1)
TEXT = ("student_id", "source", "module_code")
STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' own text dtype (what reads give)
# a week whose changed rows are fewer than this share of its rows refolds only their students
PARTIAL_SHARE = 0.1
STUDENT_CHUNK = 500


def week_of(day: date) -> int:
    """The Monday-start week number of a day (lib.engagement.weekly.week_number)."""
    return ((day - EPOCH).days + 3) // 7


def week_days(week: int) -> tuple[date, date]:
    """The Monday and Sunday of a week number (cut to the dates Python can hold)."""
    monday = (week * 7 - 3) - (date.min - EPOCH).days
    first = date.min + timedelta(days=max(monday, 0))
    last = date.max if (date.max - first).days < 6 else first + timedelta(days=6)
    return first, last


def daily_totals(
    session: Session, window: Window, students: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily activity of a window summed in SQL per (student, source, module, week) for
    attendance/online and per (student, source, week), with active days and the last active
    day, for every other source; `n` counts the daily rows of each."""
    dialect = session.get_bind().dialect.name
    a = DailyActivity
    where = days(a.day, window)
    if students is not None:
        where = where & a.student_id.in_(students)
    week = week_sql("daily_activity.day", dialect).label("week")
    positive = a.quantity > 0
    pday = case((positive, literal_column(epoch_day_sql("daily_activity.day", dialect))))
    rate = raw_frame(
        session,
        select(a.student_id, a.source, a.module_code, week, func.sum(a.quantity), func.count())
        .where(a.source.in_(RATE_SOURCES) & where)
        .group_by(a.student_id, a.source, a.module_code, week),
        [*RATE_COLUMNS, "n"],
    )
    count = raw_frame(
        session,
        select(
            a.student_id,
            a.source,
            week,
            func.sum(a.quantity),
            func.sum(case((positive, a.quantity), else_=0.0)),
            func.count(distinct(pday)),
            func.sum(a.minutes),
            func.max(pday),
            func.count(),
        )
        .where(a.source.not_in(RATE_SOURCES) & where)
        .group_by(a.student_id, a.source, week),
        [*COUNT_COLUMNS, "n"],
    )
    return _typed(rate, count)


def _typed(rate: pd.DataFrame, count: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The one set of dtypes of both forms (numbers as the driver gives them vary with NULLs)."""
    rate = rate.astype({"week": np.int64, "quantity": float, "n": np.int64})
    floats = dict.fromkeys(("quantity", "positive", "minutes", "last_day"), float)
    count = count.astype({"week": np.int64, "active_days": np.int64, "n": np.int64, **floats})
    for frame in (rate, count):
        for column in TEXT:
            if column in frame:
                frame[column] = frame[column].astype(STR)
    return rate, count


# --- one week as bytes -----------------------------------------------------------------------------


def _dumps(rate: pd.DataFrame, count: pd.DataFrame) -> bytes:
    """A week's rate and count rows as named raw arrays (`array_parts`: texts as codes of their
    values, no pickled objects), compressed as they come; weeks folded before this form are
    .npz archives, read as they are (an .npz took 0.07 s of a weekly compute to open)."""
    arrays: dict[str, Any] = {"format": np.array(FORMAT)}
    for prefix, frame in (("rate", rate), ("count", count)):
        for column in frame.columns:
            if column == "week":
                continue
            if column in TEXT:
                codes, values = pd.factorize(frame[column], sort=False)
                arrays[f"{prefix}_{column}_codes"] = codes.astype(np.int32)
                arrays[f"{prefix}_{column}_values"] = np.asarray(values, dtype=str)
            else:
                arrays[f"{prefix}_{column}"] = frame[column].to_numpy()
    return pack_parts(array_parts(arrays))


def _empty() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _typed(
        pd.DataFrame(columns=[*RATE_COLUMNS, "n"]), pd.DataFrame(columns=[*COUNT_COLUMNS, "n"])
    )


def _loads(
    blob: bytes, week: int, rate_only: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The rate and count rows of a week from its bytes (None when of another format; with
    rate_only no count rows are decoded)."""
    raw = unpack_view(blob)
    arrays = unpack_arrays(raw)  # a week folded before this form is an .npz archive
    with nullcontext(arrays) if arrays is not None else _npz(raw) as data:
        if int(data["format"]) != FORMAT:
            return None
        frames = []
        parts = [("rate", RATE_COLUMNS)] + ([] if rate_only else [("count", COUNT_COLUMNS)])
        for prefix, columns in parts:
            out = {}
            n = len(data[f"{prefix}_n"])
            for column in [*columns, "n"]:
                if column == "week":
                    out[column] = np.full(n, week, np.int64)
                elif (
                    column in TEXT
                ):  # kept as codes: readers take a categorical's codes as they are
                    values = pd.Index(data[f"{prefix}_{column}_values"], dtype=object)
                    out[column] = pd.Categorical.from_codes(
                        data[f"{prefix}_{column}_codes"], dtype=pd.CategoricalDtype(values)
                    )
                else:
                    out[column] = data[f"{prefix}_{column}"]
            frames.append(pd.DataFrame(out))
    return frames[0], frames[1] if len(frames) > 1 else _empty()[1]


def _npz(raw: memoryview):
    return np.load(io.BytesIO(raw), allow_pickle=False)


# --- folding loads in ------------------------------------------------------------------------------


def _store_week(
    session: Session, week: int, rate: pd.DataFrame, count: pd.DataFrame, load_id: int
) -> None:
    session.execute(delete(WeeklyActivity).where(WeeklyActivity.week == week))
    rows = int(rate["n"].sum() + count["n"].sum())
    if rows:
        values = {"week": week, "load_id": load_id, "rows": rows, "data": _dumps(rate, count)}
        session.execute(insert(WeeklyActivity).values(**values))


def _refold_students(session: Session, week: int, since: int, mark: int) -> bool:
    """Refold only the students whose days of this week changed (False: the week is not stored
    or of another format; then the whole week is refolded)."""
    stored = session.execute(
        select(WeeklyActivity.data).where(WeeklyActivity.week == week)
    ).scalar_one_or_none()
    old = _loads(stored, week) if stored is not None else None
    if old is None:
        return False
    window = week_days(week)
    a = DailyActivity
    changed = select(a.student_id).where((a.load_id > since) & days(a.day, window)).distinct()
    students = sorted(session.scalars(changed))
    parts = [
        daily_totals(session, window, students[i : i + STUDENT_CHUNK])
        for i in range(0, len(students), STUDENT_CHUNK)
    ]
    kept = [frame[~frame["student_id"].isin(students)] for frame in old]
    rate = pd.concat([kept[0], *(p[0] for p in parts)], ignore_index=True)
    count = pd.concat([kept[1], *(p[1] for p in parts)], ignore_index=True)
    _store_week(session, week, rate, count, mark)
    return True


@dataclass
class LoadTotals:
    """A committed load's weekly totals summed from its own frame (lib.ingest.totals): `weeks`
    holds the weeks that had no daily row before the load, so that their rows are exactly the
    load's (each as daily_totals gives it, texts maybe categorical); `over` the weeks it wrote
    over stored rows."""

    load_id: int
    weeks: dict[int, tuple[pd.DataFrame, pd.DataFrame]] = field(default_factory=dict)
    over: set[int] = field(default_factory=set)


def _others_pending(session: Session, since: int | None, load_id: int) -> bool:
    """Whether daily rows of a load other than `load_id` are still to fold."""
    a = DailyActivity
    before = a.load_id < load_id if since is None else a.load_id.between(since + 1, load_id - 1)
    return any(
        session.scalar(select(a.load_id).where(where).limit(1)) is not None
        for where in (before, a.load_id > load_id)
    )


def _changed_weeks(session: Session, since: int | None, loaded: LoadTotals | None) -> dict:
    """Week -> daily rows changed since the last fold. When only one load's rows are new, its
    weeks summed from its frame are not counted again: only those it wrote over stored rows."""
    a = DailyActivity
    # grouped by (load_id, day), as the index on both orders them: grouped by day alone, SQLite
    # walked the (day, source) index through every daily row (9.3M: 5 s) to find none changed
    query = select(a.day, func.count()).group_by(a.load_id, a.day)
    ready = loaded.weeks if loaded is not None else {}
    if loaded is not None and ready and not _others_pending(session, since, loaded.load_id):
        if not loaded.over:
            query = query.where(false())
        else:
            first, last = week_days(min(loaded.over))[0], week_days(max(loaded.over))[1]
            query = query.where((a.load_id == loaded.load_id) & a.day.between(first, last))
    elif since is not None:
        query = query.where(a.load_id > since)
    changed: dict[int, int] = {}
    for day, rows in session.execute(query):
        day = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
        changed[week_of(day)] = changed.get(week_of(day), 0) + int(rows)
    for week, (rate, count) in ready.items():  # every row of such a week is the load's
        changed[week] = int(rate["n"].sum() + count["n"].sum())
    return changed


def fold(session: Session, loaded: LoadTotals | None = None) -> dict:
    """Bring the weekly totals up to date with daily activity: the weeks whose days loads since
    the last fold changed are summed again (only their changed students when few), weeks before
    the first day still stored (retention) are dropped. Each week summed here is written and
    committed on its own (SQLite's write lock is held only for that write). The load pipeline
    folds after each load (`fold_after_load`), so a compute finds nothing left to fold; the weeks
    that load summed from its own frame (`loaded`) are stored as summed, all in one transaction,
    not summed again. The weeks are written marked as of the last fold and marked as of the
    newest load only in the last transaction: a fold stopped part way (a killed process) leaves
    the mark where it was, so the next fold sums every changed week again. Returns what was done."""
    newest = int(session.scalar(select(func.max(Load.id))) or 0)
    since = session.scalar(select(func.max(WeeklyActivity.load_id)))
    mark = since or 0  # the mark of the weeks written before the last transaction
    a = DailyActivity
    first_day = session.scalar(select(func.min(a.day)))
    if first_day is None:
        session.execute(delete(WeeklyActivity))
        session.commit()
        return {"weeks_folded": 0}
    session.execute(delete(WeeklyActivity).where(WeeklyActivity.week < week_of(first_day)))
    session.commit()  # each write in its own short transaction: the sums are read without a lock
    if since is not None and newest <= since:
        return {"weeks_folded": 0}
    changed = _changed_weeks(session, since, loaded)
    ready = loaded.weeks if loaded is not None else {}
    stored = dict(session.execute(select(WeeklyActivity.week, WeeklyActivity.rows)).all())
    for week in sorted(ready):  # summed already: one short transaction (one WAL checkpoint)
        _store_week(session, week, *ready[week], mark)
    session.commit()
    partial = 0
    for week, rows in sorted(changed.items()):
        few = rows < PARTIAL_SHARE * stored.get(week, 0)
        if week in ready:
            continue
        if since is not None and few and _refold_students(session, week, since, mark):
            partial += 1
        else:
            rate, count = daily_totals(session, week_days(week))
            _store_week(session, week, rate, count, mark)
        session.commit()
    if changed:
        written = WeeklyActivity.week.in_(sorted(changed))
        session.execute(update(WeeklyActivity).where(written).values(load_id=newest))
        session.commit()
    return {
        "weeks_folded": len(changed),
        "weeks_folded_partly": partial,
        "weeks_from_load": len(ready),
    }


def fold_after_load(session: Session, loaded: LoadTotals | None = None) -> dict:
    """The load pipeline's hook: fold the weeks a committed load changed (the next compute then
    reads one weekly row per week instead of summing the daily rows); `loaded`: the weeks the
    load summed from its own frame."""
    return fold(session, loaded)


def weekly_totals(
    session: Session, window: tuple[date, date], rate_only: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (rate, count) weekly rows of the days of a window: whole weeks from the stored totals
    (folded first), the days of a week the window cuts summed from daily rows (rate_only: the
    count rows of stored weeks are left out)."""
    fold(session)
    first, last = window
    full_from, full_to = week_of(first), week_of(last)
    if week_days(full_from)[0] != first:
        full_from += 1
    if week_days(full_to)[1] != last:
        full_to -= 1
    ranges: list[tuple[date, date]] = []
    if full_from > full_to:
        ranges.append((first, last))
    else:
        if first < week_days(full_from)[0]:
            ranges.append((first, week_days(full_from)[0] - timedelta(days=1)))
        if last > week_days(full_to)[1]:
            ranges.append((week_days(full_to)[1] + timedelta(days=1), last))
    parts = [daily_totals(session, days_) for days_ in ranges if days_[0] <= days_[1]]
    if full_from <= full_to:
        query = select(WeeklyActivity.week, WeeklyActivity.data).where(
            WeeklyActivity.week.between(full_from, full_to)
        )
        for week, blob in session.execute(query.order_by(WeeklyActivity.week)):
            frames = _loads(blob, week, rate_only)  # None: of another format, summed again
            parts.append(frames or daily_totals(session, week_days(week)))
    if not parts:
        parts.append(_empty())
    return _joined([p[0] for p in parts], RATE_COLUMNS), _joined(
        [p[1] for p in parts], COUNT_COLUMNS
    )


def _categorical(column: pd.Series) -> pd.Categorical:
    """A text column summed from daily rows (a partial week: few rows) as a categorical."""
    values = np.asarray(column, dtype=object)
    categories = pd.Index(pd.unique(values[~pd.isna(values)]), dtype=object)
    return pd.Categorical(values, categories=categories)


def _joined(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The frames one after another, each text column one categorical over all their values
    (each stored week has a dictionary of its own: its codes are mapped, never its texts hashed)."""
    out = {}
    for column in columns:
        parts = [frame[column] for frame in frames]
        if column in TEXT:
            out[column] = _one_dictionary(
                [
                    p.array if isinstance(p.dtype, pd.CategoricalDtype) else _categorical(p)
                    for p in parts
                ]
            )
        else:
            out[column] = (
                np.concatenate([p.to_numpy() for p in parts])
                if len(parts) > 1
                else parts[0].to_numpy()
            )
    return pd.DataFrame(out, columns=columns)


def _one_dictionary(parts: list[pd.Categorical]) -> pd.Categorical:
    """Categoricals one after another over one dictionary: each part's codes mapped onto it (a
    dictionary equal to the part before's, as most weeks' are, is mapped once)."""
    vocabulary = pd.Index(parts[0].categories, dtype=object)
    last: tuple[np.ndarray, np.ndarray] | None = None
    codes = []
    for part in parts:
        values = np.asarray(part.categories, dtype=object)
        if last is None or not np.array_equal(values, last[0]):
            where = vocabulary.get_indexer(values)
            if (where < 0).any():
                vocabulary = vocabulary.append(pd.Index(values[where < 0], dtype=object))
                where = vocabulary.get_indexer(values)
            last = values, np.append(where, -1)  # code -1 (missing) stays -1
        codes.append(last[1][part.codes])
    joined = np.concatenate(codes) if codes else np.zeros(0, np.int64)
    return pd.Categorical.from_codes(joined, dtype=pd.CategoricalDtype(vocabulary))
