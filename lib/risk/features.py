"""Weekly engagement features per student and academic year, read from the engine's stored results."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.compute.frames import query_frame
from lib.store.models import Flag, Student, Submission, WeeklyMeasure
from lib.store.results_version import measures_visible

WINDOW_WEEKS = 8  # teaching weeks before the cut-off that the features describe
RECENT_WEEKS = 3
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
    session: Session, year: int, cutoff: int, students: list[str] | None = None
) -> pd.DataFrame:
    """One row per student measured in the WINDOW_WEEKS teaching weeks of `year` before its
    teaching week number `cutoff` (the cut-off week itself excluded), indexed by student_id."""
    weeks = teaching_weeks(session)
    mine = weeks[(weeks["year"] == year) & (weeks["number"] < cutoff)]
    mine = mine[mine["number"] >= cutoff - WINDOW_WEEKS]
    if mine.empty:
        return pd.DataFrame(columns=list(FEATURES))
    first, last = mine["week_start"].min().date(), mine["week_start"].max().date()
    recent_from = mine["week_start"].iloc[-min(RECENT_WEEKS, len(mine))]
    wm = WeeklyMeasure
    query = select(wm.student_id, wm.week_start, wm.source, wm.value, wm.baseline).where(
        wm.teaching.is_(True), wm.week_start >= first, wm.week_start <= last, measures_visible()
    )
    if students is not None:
        query = query.where(wm.student_id.in_(students))
    m = query_frame(session, query, ["student_id", "week_start", "source", "value", "baseline"])
    m["week_start"] = pd.to_datetime(m["week_start"])
    m["ratio"] = m["value"] / m["baseline"].where(m["baseline"] > 0)
    idx = m[m["source"] == "index"]
    if idx.empty:
        return pd.DataFrame(columns=list(FEATURES))
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
    flags = query_frame(
        session,
        select(Flag.student_id, Flag.severity).where(
            Flag.week_start >= first, Flag.week_start <= last
        ),
        ["student_id", "severity"],
    )
    flags["weight"] = flags["severity"].map(SEVERITY_WEIGHT).fillna(1)
    out["flag_score"] = flags.groupby("student_id")["weight"].sum()
    subs = query_frame(
        session,
        select(Submission.student_id, Submission.status).where(
            Submission.due_at >= pd.Timestamp(first).to_pydatetime(),
            Submission.due_at < (pd.Timestamp(last) + pd.Timedelta(days=7)).to_pydatetime(),
        ),
        ["student_id", "status"],
    )
    out["missed"] = subs[subs["status"] == "missing"].groupby("student_id").size()
    out["late"] = subs[subs["status"] == "late"].groupby("student_id").size()
    out = out.reindex(columns=list(FEATURES))
    for column in ("flag_score", "missed", "late"):
        out[column] = out[column].fillna(0.0)
    for source in SOURCES:  # a source never used: at the usual level, with no activity
        out[f"{source}_recent"] = out[f"{source}_recent"].fillna(1.0)
        out[f"{source}_level"] = out[f"{source}_level"].fillna(0.0)
    out = out.fillna({"index_recent": out["index_mean"], "index_trend": 0.0})
    out.index.name = "student_id"
    return out.dropna(subset=["index_mean"])


def cutoff_date(session: Session, year: int, cutoff: int) -> date | None:
    """The Monday of teaching week `cutoff` of `year` (None when the year has fewer weeks)."""
    weeks = teaching_weeks(session)
    rows = weeks[(weeks["year"] == year) & (weeks["number"] == cutoff)]
    return rows["week_start"].iloc[0].date() if len(rows) else None


def rule_score(frame: pd.DataFrame) -> np.ndarray:
    """The rule-based order: severity-weighted flags, then missed submissions, then the lower
    recent index first."""
    recent = frame["index_recent"].clip(0, 2).fillna(1.0)
    return (
        frame["flag_score"].to_numpy(float)
        + 0.5 * frame["missed"].to_numpy(float)
        + 0.01 * (2 - recent.to_numpy(float))
    )
