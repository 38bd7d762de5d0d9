"""Weekly engagement features per student and academic year, read from the engine's stored results."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.compute.flags import in_force
from lib.compute.frames import query_frame
from lib.store.measures import read_measures
from lib.store.models import Flag, Student, Submission, WeeklyMeasure
from lib.store.results_version import measures_visible

WINDOW_WEEKS = 8  # teaching weeks before the cut-off that the features describe
RECENT_WEEKS = 3
SLOPE_WEEKS = 4  # the trajectory: the index's slope over the last teaching weeks
FIRST_WEEKS = 4  # the year's first teaching weeks (how a student started)
SEVERITY_CODE = {"low": 1, "medium": 2, "high": 3}  # the worst flag in force; 0 = none
SOURCES = ("attendance", "online", "vle", "lecture_capture")
SEVERITY_WEIGHT = {"low": 1, "medium": 2, "high": 3}
# feature name: plain-language reason shown when it raises a student's risk
FEATURES = {
    "index_mean": "engagement index over the last {w} teaching weeks was {v:.0%} of usual",
    "index_recent": "engagement index in the last {r} teaching weeks was {v:.0%} of usual",
    "index_low_share": "{v:.0%} of the last {w} teaching weeks were below half the usual level",
    "index_trend": "engagement index fell by {v:.0%} of usual within the last {w} teaching weeks",
    "flag_score": "flags raised in the last {w} teaching weeks (severity-weighted): {v:.0f}",
    "missed": "submissions missed in the last {w} teaching weeks: {v:.0f}",
    "late": "submissions late in the last {w} teaching weeks: {v:.0f}",
    "index_slope": "engagement index falling by {v:.0%} of usual a week over the last {s} "
    "teaching weeks",
    "weeks_since_active": "no activity measured for {v:.0f} teaching weeks",
    "silent_share": "{v:.0%} of the sources the student used went silent in the last 2 teaching "
    "weeks",
    "first_weeks": "engagement in the year's first {f} teaching weeks at {v:.0%} of the expected level",
    "severity_now": "a flag in force now (severity {v:.0f} of 3)",
    **{
        f"{s}_recent": s.replace("_", " ") + " in the last {r} teaching weeks at {v:.0%} of usual"
        for s in SOURCES
    },
    **{
        f"{s}_level": s.replace("_", " ") + " level {v:.2f} (absolute, cohort-scaled)"
        for s in SOURCES
    },
}


def academic_year(days: pd.Series) -> pd.Series:
    """The academic year (its first calendar year) of dates: September starts a year."""
    days = pd.to_datetime(days)
    return days.dt.year - (days.dt.month < 9).astype(int)


def teaching_weeks(session: Session) -> pd.DataFrame:
    """Every teaching week computed: week_start, year, number (0-based within its year)."""
    weeks = query_frame(
        session,
        select(WeeklyMeasure.week_start)
        .where(WeeklyMeasure.teaching.is_(True), measures_visible())
        .distinct(),
        ["week_start"],
    )
    weeks["week_start"] = pd.to_datetime(weeks["week_start"])
    weeks = weeks.sort_values("week_start", ignore_index=True)
    weeks["year"] = academic_year(weeks["week_start"])
    weeks["number"] = weeks.groupby("year").cumcount()
    return weeks


def outcomes(session: Session) -> pd.DataFrame:
    """student_id, withdrawn_on (NaT unless the student's status is withdrawn with its date)."""
    rows = query_frame(
        session,
        select(Student.student_id, Student.status, Student.status_date),
        ["student_id", "status", "status_date"],
    )
    withdrawn = rows["status"].astype(str).str.lower().str.startswith("withdr")
    rows["withdrawn_on"] = pd.to_datetime(rows["status_date"].where(withdrawn))
    return rows[["student_id", "withdrawn_on"]]


def features(
    session: Session,
    year: int,
    cutoff: int,
    students: list[str] | None = None,
    weeks: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per student measured in the WINDOW_WEEKS teaching weeks of `year` before its
    teaching week number `cutoff` (the cut-off week itself excluded), indexed by student_id: the
    FEATURES columns and `ratio_now` (the last week's index against the student's usual level,
    NaN when not measured), which with `severity_now` is the Home worklist's rule order.
    `weeks`: teaching_weeks(session), when the caller has it."""
    weeks = teaching_weeks(session) if weeks is None else weeks
    year_weeks = weeks[(weeks["year"] == year) & (weeks["number"] < cutoff)]
    mine = year_weeks[year_weeks["number"] >= cutoff - WINDOW_WEEKS]
    columns = [*FEATURES, "ratio_now"]
    if mine.empty:
        return pd.DataFrame(columns=columns)
    first, last = mine["week_start"].min().date(), mine["week_start"].max().date()
    recent_from = mine["week_start"].iloc[-min(RECENT_WEEKS, len(mine))]
    year_m = read_measures(
        session,
        students=students,
        week_from=year_weeks["week_start"].min().date(),
        week_to=last,
        teaching=True,
    )[["student_id", "week_start", "source", "value", "baseline"]]
    year_m["week_start"] = pd.to_datetime(year_m["week_start"])
    year_m["ratio"] = year_m["value"] / year_m["baseline"].where(year_m["baseline"] > 0)
    m = year_m[year_m["week_start"] >= pd.Timestamp(first)]
    idx = m[m["source"] == "index"]
    if idx.empty:
        return pd.DataFrame(columns=columns)
    recent = idx["week_start"] >= recent_from
    half = len(mine) // 2
    early = idx["week_start"] < mine["week_start"].iloc[max(half, 1) - 1] + pd.Timedelta(days=1)
    g = idx.groupby("student_id")
    out = pd.DataFrame(
        {
            "index_mean": g["ratio"].mean(),
            "index_recent": idx[recent].groupby("student_id")["ratio"].mean(),
            "index_low_share": g["ratio"].apply(lambda r: float((r < 0.5).mean())),
            "index_trend": idx[early].groupby("student_id")["ratio"].mean()
            - idx[~early].groupby("student_id")["ratio"].mean(),
        }
    )
    for source in SOURCES:
        rows = m[m["source"] == source]
        out[f"{source}_recent"] = (
            rows[rows["week_start"] >= recent_from].groupby("student_id")["ratio"].mean()
        )
        out[f"{source}_level"] = rows.groupby("student_id")["value"].mean()
    out = out.join(_trajectory(year_m, year_weeks, mine))
    flags = query_frame(
        session,
        select(Flag.student_id, Flag.severity, Flag.week_start, Flag.ended_week).where(
            Flag.week_start >= first, Flag.week_start <= last
        ),
        ["student_id", "severity", "week_start", "ended_week"],
    )
    flags["weight"] = flags["severity"].map(SEVERITY_WEIGHT).fillna(1)
    out["flag_score"] = flags.groupby("student_id")["weight"].sum()
    out["severity_now"] = _in_force(session, last)
    cut = (pd.Timestamp(last) + pd.Timedelta(days=7)).to_pydatetime()  # the cut-off's Monday
    subs = query_frame(
        session,
        select(Submission.student_id, Submission.due_at, Submission.submitted_at).where(
            Submission.due_at >= pd.Timestamp(first).to_pydatetime(), Submission.due_at < cut
        ),
        ["student_id", "due_at", "submitted_at"],
    )
    # as known at the cut-off (a submission made after it was still missing then), not as the
    # stored status knows it in the end
    made = pd.to_datetime(subs["submitted_at"])
    made = made.where(made < pd.Timestamp(cut))
    out["missed"] = subs[made.isna()].groupby("student_id").size()
    out["late"] = subs[made > pd.to_datetime(subs["due_at"])].groupby("student_id").size()
    out = out.reindex(columns=columns)
    for column in ("flag_score", "missed", "late", "severity_now", "silent_share"):
        out[column] = out[column].fillna(0.0)
    for source in SOURCES:  # a source never used: at the usual level, with no activity
        out[f"{source}_recent"] = out[f"{source}_recent"].fillna(1.0)
        out[f"{source}_level"] = out[f"{source}_level"].fillna(0.0)
    out = out.fillna(
        {
            "index_recent": out["index_mean"],
            "index_trend": 0.0,
            "index_slope": 0.0,
            "weeks_since_active": 0.0,
            "first_weeks": 1.0,
        }
    )
    out.index.name = "student_id"
    return out.dropna(subset=["index_mean"])


def _trajectory(year_m: pd.DataFrame, year_weeks: pd.DataFrame, mine: pd.DataFrame) -> pd.DataFrame:
    """Per student: index_slope (the fall of the index against the usual level per week over the
    last SLOPE_WEEKS, positive when falling), weeks_since_active (teaching weeks since the last
    with any activity, at most WINDOW_WEEKS), silent_share (of the sources with a usual level
    above zero, the share with nothing in the last two weeks), first_weeks (the index in the
    year's first FIRST_WEEKS teaching weeks) and ratio_now (the last week's index ratio)."""
    number = dict(zip(year_weeks["week_start"], year_weeks["number"], strict=True))
    m = year_m.assign(number=year_m["week_start"].map(number))
    now = int(mine["number"].max())
    idx = m[m["source"] == "index"]
    out = pd.DataFrame(index=pd.Index(idx["student_id"].unique(), name="student_id"))
    tail = idx[(idx["number"] > now - SLOPE_WEEKS) & idx["ratio"].notna()]
    x = tail["number"].astype(float)
    y = tail["ratio"].clip(0, 2)
    frame = pd.DataFrame({"s": tail["student_id"], "x": x, "y": y, "xy": x * y, "xx": x * x})
    sums = frame.groupby("s").agg(
        n=("x", "size"), x=("x", "sum"), y=("y", "sum"), xy=("xy", "sum"), xx=("xx", "sum")
    )
    var = sums["n"] * sums["xx"] - sums["x"] ** 2
    slope = (sums["n"] * sums["xy"] - sums["x"] * sums["y"]) / var.where(var > 0)
    out["index_slope"] = -slope
    activity = m[m["source"].isin(SOURCES) & (m["value"] > 0)]
    last_active = activity.groupby("student_id")["number"].max()
    out["weeks_since_active"] = (now - last_active).clip(upper=WINDOW_WEEKS)
    out["weeks_since_active"] = out["weeks_since_active"].fillna(float(min(now + 1, WINDOW_WEEKS)))
    src = m[m["source"].isin(SOURCES) & (m["number"] > now - 2)]
    used = src[src["number"] == now].set_index(["student_id", "source"])["baseline"] > 0
    quiet = src.groupby(["student_id", "source"])["value"].max() <= 0
    silent = (quiet.reindex(used.index).fillna(False) & used).groupby(level=0).sum()
    out["silent_share"] = silent / used.groupby(level=0).sum().where(lambda n: n > 0)
    early = idx[idx["number"] < FIRST_WEEKS]
    out["first_weeks"] = early.groupby("student_id")["value"].mean()
    out["ratio_now"] = idx[idx["number"] == now].set_index("student_id")["ratio"]
    return out


def _in_force(session: Session, week: date) -> pd.Series:
    """The worst flag in force in `week` per student (SEVERITY_CODE; missing = none), as the Home
    worklist reads it."""
    flags = query_frame(
        session,
        select(Flag.student_id, Flag.severity).where(in_force(week)),
        ["student_id", "severity"],
    )
    return flags["severity"].map(SEVERITY_CODE).fillna(1).groupby(flags["student_id"]).max()


def cutoff_date(weeks: pd.DataFrame, year: int, cutoff: int) -> date | None:
    """The Monday of teaching week `cutoff` of `year` in teaching_weeks() (None when the year has
    fewer weeks)."""
    rows = weeks[(weeks["year"] == year) & (weeks["number"] == cutoff)]
    return rows["week_start"].iloc[0].date() if len(rows) else None


def rule_score(frame: pd.DataFrame) -> np.ndarray:
    """The Home worklist's rule order as a score (higher first): the worst flag in force (high,
    medium, low, none), then the lowest index against the student's usual level in the last week
    (a student not measured that week last within their severity)."""
    ratio = frame["ratio_now"].astype(float).fillna(99.0).clip(0, 99).to_numpy()
    return frame["severity_now"].to_numpy(float) * 1000.0 + (99.0 - ratio)
