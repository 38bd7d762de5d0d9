"""Compliance statuses from contact points and engagement days, vectorised over all students (SPEC §6).

Counting rules, as SPEC §6 states them:
- days without engagement are calendar days after the last day with any engagement (any source, a
  met contact point, an attended tutorial), leaving out vacation days and the student's exemption
  days; the count starts on the student's start date (or the first day the store holds data, when
  later) when they have not engaged yet;
- a threshold is crossed on the day its count reaches it; the report is due by the n-th working day
  after that day;
- missed points are counted in date order across vacations and reset by any met point (of points
  at the same moment, the met ones count first); points inside an exemption are neither met nor missed;
- at risk: the last `at_risk_weeks` complete teaching weeks (weeks with an exempt weekday skipped)
  had no engagement at all.
A crossing is reported by a report dated on or after it; a later crossing needs a new report. A
withdrawn student keeps the status `withdrawn` from its date on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from lib.compliance.policy import Thresholds
from lib.engagement.calendar import teaching_weeks
from lib.workdays import WorkingDays

STATUSES = ("compliant", "at_risk", "threshold_crossed", "reported", "withdrawn")
COLUMNS = [
    "student_id",
    "status",
    "expected_points",
    "missed_consecutive",
    "days_without_engagement",
    "last_engagement_on",
    "threshold_crossed_on",
    "report_due_by",
    "reported_on",
]
POINT_COLUMNS = ["student_id", "at", "kind", "ref", "met", "evidence"]
POINT_STATES = ["met", "missed", "exempt"]
DAY = np.timedelta64(1, "D")


@dataclass
class ComplianceInputs:
    """Everything the statuses are computed from, as frames (read in bulk by `lib.compliance.read`)."""

    students: pd.DataFrame  # student_id, start_date, withdrawn_on
    points: (
        pd.DataFrame
    )  # POINT_COLUMNS: at datetime, met bool, evidence the source record in words
    activity_days: pd.DataFrame  # student_id, day: days with any engagement
    last_activity: (
        pd.DataFrame
    )  # student_id, day: newest engagement day ever (may precede the window)
    exemptions: pd.DataFrame  # student_id, start, end
    calendar: pd.DataFrame  # kind, start, end
    reports: pd.DataFrame  # student_id, reported_on, reference, recorded_by
    data_start: date | None = None  # first day the store holds data: no data is not no engagement


@dataclass
class ComplianceResult:
    """One row per student (COLUMNS plus helpers) and every contact point with its state."""

    statuses: pd.DataFrame
    points: pd.DataFrame  # POINT_COLUMNS + state (met|missed|exempt) + consecutive_missed


def _days(values, default=None) -> np.ndarray:
    """Dates or datetimes as datetime64[D] (NaT for missing)."""
    series = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series):
        out = series.to_numpy("datetime64[D]")
    else:
        series = pd.Series(values, dtype=object)
        out = pd.to_datetime(series, errors="coerce").to_numpy("datetime64[D]")
    if default is not None:
        out = np.where(np.isnat(out), default, out)
    return out


def _rows_of(ids: pd.Index, values: pd.Series) -> np.ndarray:
    """Row numbers in `ids` of student ids (-1 when unknown); categoricals mapped by category."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        by_category = ids.get_indexer(values.cat.categories.astype(str))
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, by_category[codes], -1)
    return ids.get_indexer(values.astype(str))


def _range_mask(
    rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """(students, days) booleans: True inside any [start, end] column range of that row."""
    diff = np.zeros((shape[0], shape[1] + 1), np.int32)
    starts = np.clip(starts, 0, shape[1])
    ends = np.clip(ends + 1, 0, shape[1])
    keep = (rows >= 0) & (ends > starts)
    np.add.at(diff, (rows[keep], starts[keep]), 1)
    np.add.at(diff, (rows[keep], ends[keep]), -1)
    return np.cumsum(diff, axis=1)[:, : shape[1]] > 0


def _as_dates(days: np.ndarray) -> np.ndarray:
    """datetime64[D] as an object array of `date` (None for NaT)."""
    out = np.full(len(days), None, dtype=object)
    ok = ~np.isnat(days)
    out[ok] = days[ok].astype(object)
    return out


def _row_extreme(rows: np.ndarray, days: np.ndarray, n: int, ufunc) -> np.ndarray:
    """Per row (0..n-1), the max (`np.maximum`) or min (`np.minimum`) day; NaT for rows without."""
    empty = np.iinfo(np.int64).min if ufunc is np.maximum else np.iinfo(np.int64).max
    out = np.full(n, empty, np.int64)
    ok = (rows >= 0) & ~np.isnat(days)
    ufunc.at(out, rows[ok], days[ok].astype(np.int64))
    return np.where(out == empty, np.datetime64("NaT"), out.astype("datetime64[D]"))


def compute(
    inputs: ComplianceInputs, thresholds: Thresholds, as_of: date, workdays: WorkingDays
) -> ComplianceResult:
    """Statuses at `as_of` for every student of `inputs.students` (no loop over students)."""
    t = thresholds
    ids = pd.Index(inputs.students["student_id"].astype(str))
    n = len(ids)
    first = as_of - timedelta(days=t.lookback_days)
    first -= timedelta(days=first.weekday())  # a Monday, so that columns fold into weeks
    d0 = np.datetime64(first, "D")
    end = np.datetime64(as_of, "D")
    width = int((end - d0) / DAY) + 1

    def col(days: np.ndarray) -> np.ndarray:
        return (days.astype("datetime64[D]") - d0).astype(np.int64)

    # days that count: not vacation, not the student's exemption, not before their start
    cal = inputs.calendar
    vac = cal[cal["kind"] == "vacation"] if not cal.empty else cal
    vacation = _range_mask(
        np.zeros(len(vac), np.int64),
        col(_days(vac["start"]) if len(vac) else np.array([], "datetime64[D]")),
        col(_days(vac["end"]) if len(vac) else np.array([], "datetime64[D]")),
        (1, width),
    )[0]
    ex = inputs.exemptions
    ex_rows = _rows_of(ids, ex["student_id"]) if len(ex) else np.array([], np.int64)
    exempt = _range_mask(
        ex_rows,
        col(_days(ex["start"])) if len(ex) else np.array([], np.int64),
        col(_days(ex["end"])) if len(ex) else np.array([], np.int64),
        (n, width),
    )
    start = _days(inputs.students["start_date"], d0)
    if inputs.data_start is not None:  # nothing counts before the store holds any data
        start = np.maximum(start, np.datetime64(inputs.data_start, "D"))
    start_col = np.clip(col(start), 0, width)  # anchor: the count starts on the start date
    counted = ~vacation[None, :] & ~exempt & (np.arange(width)[None, :] >= start_col[:, None])
    cum = np.zeros((n, width + 1), np.int32)  # cum[s, c + 1]: counted days in columns 0..c
    np.cumsum(counted, axis=1, out=cum[:, 1:])

    # contact points inside the window and up to as_of, each met, missed or exempt
    pts = inputs.points
    all_rows = _rows_of(ids, pts["student_id"])
    all_days = _days(pts["at"])
    keep = (all_rows >= 0) & (all_days >= d0) & (all_days <= end)
    at_key = pd.to_datetime(pts["at"]).to_numpy("datetime64[s]").astype(np.int64)
    # date order; of simultaneous points (a timetable clash) the met ones first: the student was
    # there at that moment, and the order no longer depends on the order the store returned
    order = np.lexsort((~pts["met"].to_numpy(bool)[keep], at_key[keep], all_rows[keep]))
    pts = pts[keep].iloc[order].reset_index(drop=True)
    prow = all_rows[keep][order]
    pts["row"] = prow
    pts["day"] = all_days[keep][order]
    pcol = col(pts["day"].to_numpy("datetime64[D]"))
    is_exempt = exempt[prow, pcol] if len(pts) else np.zeros(0, bool)
    met = pts["met"].to_numpy(bool)
    state = pd.Categorical.from_codes(
        np.where(is_exempt, 2, np.where(met, 0, 1)), categories=POINT_STATES
    )
    live = ~is_exempt
    missed_here = (~met & live).astype(np.int64)
    # a run of misses starts at each student's first point and after each met point
    total = np.cumsum(missed_here)
    new_run = np.r_[True, prow[1:] != prow[:-1]] | (met & live) if len(pts) else np.zeros(0, bool)
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(len(pts)), 0))
    streak = total - total[run_start] + missed_here[run_start] if len(pts) else total
    streak = np.where(new_run & (met & live), 0, streak)
    pts = pts.assign(state=state, consecutive_missed=np.where(live, streak, 0))
    point_cross = pts[(missed_here == 1) & (streak == t.missed_points)]

    # engagement: activity days and met points; events = those days plus the anchor (start - 1)
    act = inputs.activity_days
    act_days = _days(act["day"]) if len(act) else np.array([], "datetime64[D]")
    act_rows = _rows_of(ids, act["student_id"]) if len(act) else np.array([], int)
    met_pts = pts[met & live]
    real_rows = np.concatenate([act_rows, met_pts["row"].to_numpy()])
    real_cols = np.concatenate([col(act_days), col(met_pts["day"].to_numpy("datetime64[D]"))])
    ok = (real_rows >= 0) & (real_cols >= 0) & (real_cols < width)
    real_rows, real_cols = real_rows[ok], real_cols[ok]
    # one event per (student, day), sorted: the nonzero cells of a (students, 1 + days) matrix whose
    # column 0 is the day before the window (an anchor may fall there)
    events = np.zeros((n, width + 1), bool)
    events[real_rows, real_cols + 1] = True
    events[np.arange(n), start_col] = True
    erow, ecol = np.nonzero(events)
    ecol = ecol - 1
    nxt = np.append(ecol[1:], width)
    nxt[np.append(erow[1:] != erow[:-1], True)] = width  # last event of a student: open gap
    base = cum[erow, ecol + 1]
    stride = width + 2  # > any count, so that offset rows sort one after another
    flat = (cum + (np.arange(n) * stride)[:, None]).ravel()
    pos = np.searchsorted(flat, erow * stride + base + t.days_without_engagement, side="left")
    hit_col = pos - erow * (width + 1) - 1  # the column where the count reaches the threshold
    hit = (pos < (erow + 1) * (width + 1)) & (hit_col < nxt) & (hit_col > ecol)
    day_cross = pd.DataFrame({"row": erow[hit], "day": d0 + hit_col[hit] * DAY})

    last_event = np.full(n, -1, np.int64)
    newest = np.r_[erow[1:] != erow[:-1], True]  # keys are sorted: a student's last is newest
    last_event[erow[newest]] = ecol[newest]
    days_without = cum[:, width] - cum[np.arange(n), last_event + 1]

    # last engagement shown: newest activity ever or newest met point
    la = inputs.last_activity
    la_rows = _rows_of(ids, la["student_id"]) if len(la) else np.array([], int)
    last_seen = _row_extreme(
        np.concatenate([la_rows, met_pts["row"].to_numpy()]),
        np.concatenate(
            [
                _days(la["day"]) if len(la) else np.array([], "datetime64[D]"),
                met_pts["day"].to_numpy("datetime64[D]"),
            ]
        ),
        n,
        np.maximum,
    )

    # the first crossing after the newest report (reports dated after as_of do not exist yet)
    rep = inputs.reports
    rep_days = _days(rep["reported_on"]) if len(rep) else np.array([], "datetime64[D]")
    rep_rows = _rows_of(ids, rep["student_id"]) if len(rep) else np.array([], int)
    reported = _row_extreme(rep_rows[rep_days <= end], rep_days[rep_days <= end], n, np.maximum)
    cross_rows = np.concatenate([day_cross["row"].to_numpy(), point_cross["row"].to_numpy()])
    cross_days = np.concatenate(
        [
            day_cross["day"].to_numpy("datetime64[D]"),
            point_cross["day"].to_numpy("datetime64[D]"),
        ]
    )
    after = reported[cross_rows]
    still_open = np.isnat(after) | (cross_days > after)
    crossed = _row_extreme(cross_rows[still_open], cross_days[still_open], n, np.minimum)
    due = workdays.add_many(crossed, t.report_working_days)

    # at risk: trailing complete teaching weeks without engagement
    weeks = d0 + np.arange(0, width, 7) * DAY
    full = weeks + 6 * DAY <= end
    teaching = teaching_weeks(weeks, cal) & full
    pad = len(weeks) * 7 - width
    engaged_day = np.zeros((n, width), bool)
    engaged_day[real_rows, real_cols] = True
    engaged_week = np.pad(engaged_day, ((0, 0), (0, pad))).reshape(n, -1, 7).any(axis=2)
    exempt_week = np.pad(exempt, ((0, 0), (0, pad))).reshape(n, -1, 7)[:, :, :5].any(axis=2)
    start_monday = start - ((start.astype(np.int64) + 3) % 7) * DAY  # 1970-01-01 was a Thursday
    started = weeks[None, :] >= start_monday[:, None]
    counts = teaching[None, :] & ~exempt_week & started
    w_idx = np.arange(len(weeks))[None, :]
    last_engaged = np.where(engaged_week, w_idx, -1).max(axis=1)
    weeks_without = (counts & ~engaged_week & (w_idx > last_engaged[:, None])).sum(axis=1)

    withdrawn_on = _days(inputs.students["withdrawn_on"])
    withdrawn = ~np.isnat(withdrawn_on) & (withdrawn_on <= end)
    status = np.select(
        [
            withdrawn,
            ~np.isnat(crossed),
            ~np.isnat(reported),
            weeks_without >= t.at_risk_weeks,
        ],
        ["withdrawn", "threshold_crossed", "reported", "at_risk"],
        "compliant",
    )
    last_streak = np.zeros(n, np.int64)
    if len(pts):
        last_of_row = np.r_[prow[1:] != prow[:-1], True]
        last_streak[prow[last_of_row]] = streak[last_of_row]
    statuses = pd.DataFrame(
        {
            "student_id": ids,
            "status": status,
            "expected_points": np.bincount(prow[live], minlength=n),
            "missed_consecutive": last_streak,
            "days_without_engagement": days_without.astype(np.int64),
            "last_engagement_on": _as_dates(last_seen),
            "threshold_crossed_on": _as_dates(crossed),
            "report_due_by": _as_dates(due),
            "reported_on": _as_dates(reported),
            "weeks_without_engagement": weeks_without,
            "withdrawn_on": _as_dates(np.where(withdrawn, withdrawn_on, np.datetime64("NaT"))),
        }
    )
    statuses["overdue"] = (statuses["status"] == "threshold_crossed") & (due < end)
    return ComplianceResult(statuses.reset_index(drop=True), pts.drop(columns=["row"]))


URGENCY = {"threshold_crossed": 0, "at_risk": 1, "reported": 2, "compliant": 3, "withdrawn": 4}


def by_urgency(statuses: pd.DataFrame) -> pd.DataFrame:
    """Overdue reports first, then crossed thresholds by due date, at risk, reported, the rest."""
    key = statuses.assign(
        _overdue=~statuses["overdue"].astype(bool),
        _rank=statuses["status"].map(URGENCY),
        _due=pd.to_datetime(statuses["report_due_by"]),
    )
    key = key.sort_values(
        ["_overdue", "_rank", "_due", "days_without_engagement", "student_id"],
        ascending=[True, True, True, False, True],
        na_position="last",
    )
    return key.drop(columns=["_overdue", "_rank", "_due"]).reset_index(drop=True)
