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
from lib.store.measures import read_measures
from lib.store.models import Case

WINDOW_WEEKS = 4  # teaching weeks on each side of the first contact
MIN_WEEKS = 2  # measured weeks needed on each side for a case to count
CAVEAT = (
    "Descriptive, not causal: students are contacted because their engagement dropped, and "
    "engagement often recovers on its own (regression to the usual level). These figures show "
    "what happened after contacts, not what the contacts caused."
)
SUMMARY_COLUMNS = ["cases", "index_before", "index_after", "change", "improved_share"]


def first_contacts(
    entries: pd.DataFrame, cases: pd.DataFrame, per: str | None = None
) -> pd.DataFrame:
    """The first contact of each case (or, with `per` = "step" or "channel", the first contact of
    each case at each step or by each channel): case, student, day, channel and step. A corrected
    contact counts as its correction."""
    live = effective_entries(entries)
    contacts = live[live["kind"].isin(("contact", "correction")) & live["channel"].notna()]
    contacts = contacts.assign(step=contacts["step"].astype("float64"))
    keys = ["case_id", per] if per else ["case_id"]
    first = contacts.sort_values(["at", "id"], kind="stable").drop_duplicates(keys)
    out = first.merge(cases[["case_id", "student_id"]], on="case_id")
    out = out.assign(day=out["at"].dt.normalize())
    return out[["case_id", "student_id", "day", "channel", "step"]].reset_index(drop=True)


def case_windows(
    contacts: pd.DataFrame, index: pd.DataFrame, weeks: int = WINDOW_WEEKS
) -> pd.DataFrame:
    """Per contact row: mean engagement index over the `weeks` teaching weeks before the contact's
    week and the `weeks` after it (the contact's own week in neither), with the weeks measured;
    rows in the order of `contacts`.

    `index`: student_id, week_start, value (the index, 1 = own usual level), teaching."""
    columns = ["case_id", "before", "after", "weeks_before", "weeks_after"]
    if contacts.empty:
        return pd.DataFrame(columns=columns)
    teaching = index[index["teaching"].astype(bool)][["student_id", "week_start", "value"]]
    teaching = teaching.assign(week_start=pd.to_datetime(teaching["week_start"]))
    rows = contacts[["student_id", "day"]].assign(row=np.arange(len(contacts)))
    pairs = rows.merge(teaching, on="student_id")
    monday = pairs["day"] - pd.to_timedelta(pairs["day"].dt.day_of_week, unit="D")
    pairs["side"] = np.select(
        [pairs["week_start"] < monday, pairs["week_start"] > monday], ["before", "after"], ""
    )
    pairs = pairs[pairs["side"] != ""]
    # nearest teaching weeks first on each side, then keep `weeks` of them
    pairs["distance"] = (pairs["week_start"] - monday).abs()
    pairs = pairs.sort_values(["row", "side", "distance"], kind="stable")
    pairs = pairs[pairs.groupby(["row", "side"]).cumcount() < weeks]
    out = pd.DataFrame({"case_id": contacts["case_id"].to_numpy()})
    for side in ("before", "after"):
        part = pairs[pairs["side"] == side].groupby("row")["value"]
        out[side] = part.mean().reindex(out.index).to_numpy(dtype=float)
        out[f"weeks_{side}"] = part.count().reindex(out.index).fillna(0).to_numpy(dtype=int)
    return out[columns]


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
    """For the user's students (senior tutors and wellbeing only): "overall" (each case's first
    contact), "by_channel" and "by_step" (each case's first contact by that channel / at that
    step), and "pending" (cases whose first contact has too few weeks on a side yet)."""
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
    entries = entries_frame(session, cases["case_id"].tolist())
    firsts = {per: first_contacts(entries, cases, per) for per in (None, "channel", "step")}
    students = firsts[None]["student_id"].unique().tolist()
    index = read_measures(session, students=students, sources=["index"])
    index = index[["student_id", "week_start", "value", "teaching"]]
    windows = {
        per: pd.concat(
            [case_windows(frame, index).drop(columns="case_id"), frame.reset_index(drop=True)],
            axis=1,
        )
        for per, frame in firsts.items()
    }
    first = windows[None]
    usable = (first["weeks_before"] >= MIN_WEEKS) & (first["weeks_after"] >= MIN_WEEKS)
    by_step = windows["step"]
    return {
        "overall": summarise(first, None),
        "by_channel": summarise(windows["channel"], "channel"),
        "by_step": summarise(by_step.assign(step=by_step["step"].astype("Int64")), "step"),
        "pending": pd.DataFrame({"cases": [int((~usable).sum())]}),
    }
