""" "Did contact help?": the engagement index in the teaching weeks after each case's first contact
against the weeks before, by channel and by step, with counts. Descriptive, not causal: students
are contacted because their engagement dropped, and many recover without any contact."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.access import User, can, scoped_student_ids, visible_tracks
from lib.cases.queries import effective_entries, entries_frame
from lib.store.models import Case, WeeklyMeasure

WINDOW_WEEKS = 4  # teaching weeks on each side of the first contact
MIN_WEEKS = 2  # measured weeks needed on each side for a case to count
CAVEAT = (
    "Descriptive, not causal: students are contacted because their engagement dropped, and "
    "engagement often recovers on its own (regression to the usual level). These figures show "
    "what happened after contacts, not what the contacts caused."
)
SUMMARY_COLUMNS = ["cases", "index_before", "index_after", "change", "improved_share"]


def first_contacts(entries: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """One row per case with a contact: student, the first contact's day, channel and step (a
    corrected contact counts as its correction)."""
    live = effective_entries(entries)
    contacts = live[live["kind"].isin(("contact", "correction")) & live["channel"].notna()]
    first = contacts.sort_values(["at", "id"], kind="stable").drop_duplicates("case_id")
    out = first.merge(cases[["case_id", "student_id"]], on="case_id")
    out = out.assign(day=out["at"].dt.normalize(), step=out["step"].astype("float64"))
    return out[["case_id", "student_id", "day", "channel", "step"]].reset_index(drop=True)


def case_windows(
    contacts: pd.DataFrame, index: pd.DataFrame, weeks: int = WINDOW_WEEKS
) -> pd.DataFrame:
    """Per case: mean engagement index over the `weeks` teaching weeks before the first contact's
    week and the `weeks` after it (the contact's own week in neither), with the weeks measured.

    `index`: student_id, week_start, value (the index, 1 = own usual level), teaching."""
    columns = ["case_id", "before", "after", "weeks_before", "weeks_after"]
    if contacts.empty or index.empty:
        return pd.DataFrame(columns=columns)
    teaching = index[index["teaching"].astype(bool)][["student_id", "week_start", "value"]]
    teaching = teaching.assign(week_start=pd.to_datetime(teaching["week_start"]))
    pairs = contacts[["case_id", "student_id", "day"]].merge(teaching, on="student_id")
    monday = pairs["day"] - pd.to_timedelta(pairs["day"].dt.day_of_week, unit="D")
    pairs["side"] = np.select(
        [pairs["week_start"] < monday, pairs["week_start"] > monday], ["before", "after"], ""
    )
    pairs = pairs[pairs["side"] != ""]
    # nearest teaching weeks first on each side, then keep `weeks` of them
    pairs["distance"] = (pairs["week_start"] - monday).abs()
    pairs = pairs.sort_values(["case_id", "side", "distance"], kind="stable")
    pairs = pairs[pairs.groupby(["case_id", "side"]).cumcount() < weeks]
    grouped = pairs.groupby(["case_id", "side"])["value"]
    means = grouped.mean().unstack("side")
    counts = grouped.count().unstack("side")
    out = pd.DataFrame(
        {
            "before": means.get("before"),
            "after": means.get("after"),
            "weeks_before": counts.get("before"),
            "weeks_after": counts.get("after"),
        }
    ).reindex(contacts["case_id"])
    out[["weeks_before", "weeks_after"]] = (
        out[["weeks_before", "weeks_after"]].fillna(0).astype(int)
    )
    return out.rename_axis("case_id").reset_index()[columns]


def summarise(frame: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """Cases, mean index before and after, mean change and the share of cases whose index rose,
    over cases with MIN_WEEKS measured weeks on each side; by a column or overall."""
    usable = frame[(frame["weeks_before"] >= MIN_WEEKS) & (frame["weeks_after"] >= MIN_WEEKS)]
    usable = usable.assign(
        change=usable["after"] - usable["before"], improved=usable["after"] > usable["before"]
    )
    keys = usable[by] if by else pd.Series("all contacts", index=usable.index)
    grouped = usable.groupby(keys)
    out = pd.DataFrame(
        {
            "cases": grouped.size(),
            "index_before": grouped["before"].mean(),
            "index_after": grouped["after"].mean(),
            "change": grouped["change"].mean(),
            "improved_share": grouped["improved"].mean(),
        }
    )
    return out[SUMMARY_COLUMNS].rename_axis(by or "group").reset_index()


def contact_impact(session: Session, user: User, track: str = "welfare") -> dict[str, pd.DataFrame]:
    """For the user's students (senior tutors and wellbeing only): "overall", "by_channel",
    "by_step" summaries and "pending" (first contacts without enough weeks on a side yet)."""
    if not can(user, "view_contact_impact") or track not in visible_tracks(user):
        raise PermissionError("Only senior tutors and the wellbeing team see this summary.")
    cases = pd.DataFrame(
        session.execute(
            select(Case.id, Case.student_id).where(
                Case.track == track, Case.student_id.in_(scoped_student_ids(user))
            )
        ).all(),
        columns=["case_id", "student_id"],
    )
    entries = entries_frame(session, cases["case_id"].tolist()) if len(cases) else None
    contacts = (
        first_contacts(entries, cases)
        if entries is not None and len(entries)
        else pd.DataFrame(columns=["case_id", "student_id", "day", "channel", "step"])
    )
    students = contacts["student_id"].unique().tolist()
    index = pd.DataFrame(
        session.execute(
            select(
                WeeklyMeasure.student_id,
                WeeklyMeasure.week_start,
                WeeklyMeasure.value,
                WeeklyMeasure.teaching,
            ).where(WeeklyMeasure.source == "index", WeeklyMeasure.student_id.in_(students))
        ).all(),
        columns=["student_id", "week_start", "value", "teaching"],
    )
    windows = case_windows(contacts, index).merge(contacts[["case_id", "channel", "step"]])
    usable = (windows["weeks_before"] >= MIN_WEEKS) & (windows["weeks_after"] >= MIN_WEEKS)
    return {
        "overall": summarise(windows, None),
        "by_channel": summarise(windows, "channel"),
        "by_step": summarise(windows.assign(step=windows["step"].astype("Int64")), "step"),
        "pending": pd.DataFrame({"cases": [int((~usable).sum())]}),
    }
