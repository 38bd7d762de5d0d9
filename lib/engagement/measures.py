"""Weekly measures per student, week and source as (students, weeks, sources) arrays, from long frames.

Measures (value; `count`/`expected` keep the raw numbers the explanations quote):
- attendance / online: sessions attended / expected sessions that week (rate 0..1); a student with no
  expected sessions at all is measured by sessions attended.
- vle: active days in the week (events kept as `vle_events`, last active day as `vle_last_day`).
- submission: submissions on time / submissions due that week (NaN when nothing is due).
- lecture_capture: minutes viewed; any other (generic `events`) source: quantity.
Weeks end at the data horizon (the last complete week with activity).
Module-level systemic drops (a module's sessions unattended by most of its students in one week) are
found here, recorded as data-quality events and removed from those students' attendance that week.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lib.engagement.calendar import exempt_matrix, teaching_weeks, week_range
from lib.sources import ATTENDANCE, CORE_ACTIVITY_SOURCES, LECTURE_CAPTURE, ONLINE, SUBMISSION, VLE

RATE_SOURCES = (ATTENDANCE, ONLINE)


@dataclass
class Inputs:
    """Everything the engine needs, aligned on (students, weeks, sources)."""

    student_ids: pd.Index
    weeks: np.ndarray  # datetime64[D] Mondays
    teaching: np.ndarray  # (W,) bool
    exempt: np.ndarray  # (S, W) bool
    sources: list[str]
    value: np.ndarray  # (S, W, K) the measure, NaN when not applicable
    count: np.ndarray  # (S, W, K) raw numerator (sessions, active days, on-time, minutes, quantity)
    expected: np.ndarray  # (S, W, K) sessions/submissions due, NaN for count sources
    vle_events: np.ndarray  # (S, W)
    vle_last_day: np.ndarray  # (S, W) days from weeks[0] of the last VLE activity so far (-1 never)
    missed: np.ndarray  # (S, W) submissions due that week and missing
    module_events: pd.DataFrame = field(default_factory=pd.DataFrame)  # module-level DQ events


def _week_of(days: pd.Series, weeks: np.ndarray) -> np.ndarray:
    d = pd.to_datetime(days).to_numpy("datetime64[D]")
    return ((d - weeks[0]).astype(np.int64)) // 7


def _bincount(rows, cols, weights, shape) -> np.ndarray:
    flat = np.asarray(rows, np.int64) * shape[1] + np.asarray(cols, np.int64)
    return np.bincount(flat, weights=weights, minlength=shape[0] * shape[1]).reshape(shape)


def _module_systemic(
    att: pd.DataFrame, exp: pd.DataFrame, teaching: np.ndarray, config: dict, source: str
) -> pd.DataFrame:
    """Module weeks whose sessions most expected students missed although they usually attend."""
    cols = ["module_code", "w", "students", "share"]
    if exp.empty:
        return pd.DataFrame(columns=cols)
    e = exp.groupby(["module_code", "w", "s"], sort=False).size().rename("expected")
    a = att.groupby(["module_code", "w", "s"], sort=False)["quantity"].sum().rename("attended")
    sm = pd.concat([e, a], axis=1).fillna(0.0)
    sm = sm[sm["expected"] > 0].reset_index()
    sm = sm[teaching[sm["w"].to_numpy()]]
    sm["zero"] = sm["attended"] <= 0
    mw = sm.groupby(["module_code", "w"]).agg(
        students=("s", "size"),
        zero=("zero", "sum"),
        att=("attended", "sum"),
        exp=("expected", "sum"),
    )
    mw["rate"] = mw["att"] / mw["exp"]
    usual = mw.groupby(level="module_code")["rate"].transform("median")
    mw["share"] = mw["zero"] / mw["students"]
    hit = (
        (mw["rate"] < config["systemic_drop_ratio"] * usual)
        & (mw["share"] >= config["systemic_module_share"])
        & (mw["students"] >= config["systemic_module_min_students"])
    )
    out = mw[hit].reset_index()[cols]
    out["source"] = source
    return out


def build_inputs(
    students: pd.Index,
    activity: pd.DataFrame,
    expected: pd.DataFrame,
    submissions: pd.DataFrame,
    calendar: pd.DataFrame,
    exemptions: pd.DataFrame,
    config: dict,
) -> Inputs:
    """Arrays for the engine from long frames (see module docstring for the frames' columns).

    activity: student_id, source, day, module_code, quantity, minutes
    expected: student_id, module_code, day, online (one row per expected session)
    submissions: student_id, due_at, status (on_time | late | missing)
    """
    students = pd.Index(students.astype(str), name="student_id")
    days = [pd.to_datetime(f[c]) for f, c in ((activity, "day"), (expected, "day")) if len(f)]
    days += [pd.to_datetime(submissions["due_at"])] if len(submissions) else []
    if not calendar.empty:
        days += [pd.to_datetime(calendar["start"]), pd.to_datetime(calendar["end"])]
    if not days:
        days = [pd.Series([pd.Timestamp.today()])]
    everything = pd.concat(days)
    # The data horizon: weeks run up to the last week with activity that is complete (its Friday
    # reached); later expected sessions and submissions due are not yet missed.
    horizon = pd.to_datetime(activity["day"]).max() if len(activity) else everything.max()
    if horizon.weekday() < 4:
        horizon = horizon - pd.Timedelta(days=horizon.weekday() + 1)
    weeks = week_range(everything.min().date(), horizon.date())
    end = pd.Timestamp(weeks[-1]) + pd.Timedelta(days=7)
    activity = activity[pd.to_datetime(activity["day"]) < end]
    expected = expected[pd.to_datetime(expected["day"]) < end]
    submissions = submissions[pd.to_datetime(submissions["due_at"]) < end]
    S, W = len(students), len(weeks)
    shape = (S, W)
    teaching = teaching_weeks(weeks, calendar)
    exempt = exempt_matrix(students, weeks, exemptions)

    activity = activity.assign(s=students.get_indexer(activity["student_id"].astype(str)))
    activity = activity[activity["s"] >= 0]
    activity = activity.assign(w=_week_of(activity["day"], weeks))
    extra = sorted(set(activity["source"].unique()) - set(CORE_ACTIVITY_SOURCES))
    sources = list(CORE_ACTIVITY_SOURCES) + extra
    K = len(sources)
    value = np.full((S, W, K), np.nan, np.float64)
    count = np.zeros((S, W, K), np.float64)
    expect = np.full((S, W, K), np.nan, np.float64)

    expected = expected.assign(s=students.get_indexer(expected["student_id"].astype(str)))
    expected = expected[expected["s"] >= 0]
    expected = expected.assign(w=_week_of(expected["day"], weeks))
    online = expected["online"].astype(bool).to_numpy()
    module_events = []
    for k, source in enumerate(sources):
        a = activity[activity["source"] == source]
        if source in RATE_SOURCES:
            e = expected[online == (source == ONLINE)]
            dq = _module_systemic(a, e, teaching, config, source)
            module_events.append(dq)
            if len(dq):  # remove the systemic module weeks from both sides
                drop = pd.MultiIndex.from_frame(dq[["module_code", "w"]])
                a = a[~pd.MultiIndex.from_frame(a[["module_code", "w"]]).isin(drop)]
                e = e[~pd.MultiIndex.from_frame(e[["module_code", "w"]]).isin(drop)]
            n_exp = _bincount(e["s"], e["w"], None, shape)
            n_att = _bincount(a["s"], a["w"], a["quantity"].to_numpy(float), shape)
            count[:, :, k] = n_att
            has_timetable = n_exp.sum(axis=1) > 0
            rate = np.minimum(n_att, n_exp) / np.where(n_exp > 0, n_exp, 1)
            value[:, :, k] = np.where(
                has_timetable[:, None], np.where(n_exp > 0, rate, np.nan), n_att
            )
            expect[:, :, k] = np.where(has_timetable[:, None], n_exp, np.nan)
        elif source == VLE:
            active = a[a["quantity"] > 0].drop_duplicates(["s", "day"])
            count[:, :, k] = _bincount(active["s"], active["w"], None, shape)
            value[:, :, k] = count[:, :, k]
        elif source == SUBMISSION:
            count[:, :, k] = _bincount(a["s"], a["w"], a["quantity"].to_numpy(float), shape)
        elif source == LECTURE_CAPTURE:
            minutes = a["minutes"].astype(float).fillna(0.0).to_numpy()
            count[:, :, k] = _bincount(a["s"], a["w"], minutes, shape)
            value[:, :, k] = count[:, :, k]
        else:
            count[:, :, k] = _bincount(a["s"], a["w"], a["quantity"].to_numpy(float), shape)
            value[:, :, k] = count[:, :, k]

    vle = activity[(activity["source"] == VLE) & (activity["quantity"] > 0)]
    vle_events = _bincount(vle["s"], vle["w"], vle["quantity"].to_numpy(float), shape)
    vday = (pd.to_datetime(vle["day"]).to_numpy("datetime64[D]") - weeks[0]).astype(np.int64)
    last = np.full(S * W, -1, np.int64)
    np.maximum.at(last, vle["s"].to_numpy(np.int64) * W + vle["w"].to_numpy(np.int64), vday)
    vle_last_day = np.maximum.accumulate(last.reshape(shape), axis=1)

    subs = submissions.assign(s=students.get_indexer(submissions["student_id"].astype(str)))
    subs = subs[subs["s"] >= 0]
    subs = subs.assign(w=_week_of(pd.to_datetime(subs["due_at"]).dt.normalize(), weeks))
    k = sources.index(SUBMISSION)
    due = _bincount(subs["s"], subs["w"], None, shape)
    on_time = _bincount(subs["s"], subs["w"], (subs["status"] == "on_time").to_numpy(float), shape)
    missed = _bincount(subs["s"], subs["w"], (subs["status"] == "missing").to_numpy(float), shape)
    value[:, :, k] = np.where(due > 0, on_time / np.where(due > 0, due, 1), np.nan)
    expect[:, :, k] = np.where(due > 0, due, np.nan)
    count[:, :, k] = np.where(due > 0, on_time, count[:, :, k])

    events = pd.concat(module_events, ignore_index=True) if module_events else pd.DataFrame()
    if len(events):
        events["week_start"] = weeks[events["w"].to_numpy(np.int64)]
    return Inputs(
        students,
        weeks,
        teaching,
        exempt,
        sources,
        value,
        count,
        expect,
        vle_events,
        vle_last_day,
        missed,
        events,
    )
