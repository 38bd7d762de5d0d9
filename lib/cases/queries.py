"""Read side of cases: the entries frame and the cases frame at an as-of date, for all cases at once."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lib.cases.ladder import STALLED_WORKING_DAYS, WELLBEING_QUEUE
from lib.store.models import Case, CaseEntry
from lib.workdays import WorkingDays, working_days

ENTRY_COLUMNS = (
    "id",
    "case_id",
    "recorded_at",
    "recorded_by",
    "kind",
    "contacted_at",
    "channel",
    "outcome",
    "note",
    "next_action",
    "next_due",
    "authorised_by",
    "corrects_entry_id",
    "step",
    "staff_username",
    "team",
)
CASE_COLUMNS = (
    "case_id",
    "student_id",
    "track",
    "owner",
    "state",
    "step",
    "opened_on",
    "last_entry_on",
    "next_action",
    "next_due",
    "overdue",
)
# the entry kinds whose next action and due date become the case's (a close clears them)
_ACTION_KINDS = (
    "open",
    "contact",
    "correction",
    "handover",
    "referral",
    "emergency_decision",
    "reopen",
)


def _frame(session: Session, statement: Select, columns: tuple[str, ...]) -> pd.DataFrame:
    rows = session.execute(statement).all()
    return pd.DataFrame.from_records(rows, columns=list(columns))


def entries_frame(session: Session, case_ids: list[int] | None = None) -> pd.DataFrame:
    """Case entries (every column but the idempotency key), oldest first."""
    statement = select(*(getattr(CaseEntry, c) for c in ENTRY_COLUMNS)).order_by(CaseEntry.id)
    if case_ids is not None:
        statement = statement.where(CaseEntry.case_id.in_(case_ids))
    frame = _frame(session, statement, ENTRY_COLUMNS)
    for column in ("recorded_at", "contacted_at"):
        frame[column] = pd.to_datetime(frame[column])
    frame["next_due"] = pd.to_datetime(frame["next_due"])
    frame["step"] = frame["step"].astype("Float64")
    frame["corrects_entry_id"] = frame["corrects_entry_id"].astype("Float64")
    return frame


def case_rows_frame(session: Session, case_ids: list[int] | None = None) -> pd.DataFrame:
    """The cases table's identity columns: id, student, track, owner (now and at opening), opened,
    flag."""
    columns = ("case_id", "student_id", "track", "owner", "first_owner", "opened_at", "flag_id")
    statement = select(
        Case.id,
        Case.student_id,
        Case.track,
        Case.owner_username,
        Case.first_owner,
        Case.opened_at,
        Case.flag_id,
    ).order_by(Case.id)
    if case_ids is not None:
        statement = statement.where(Case.id.in_(case_ids))
    frame = _frame(session, statement, columns)
    frame["opened_at"] = pd.to_datetime(frame["opened_at"])
    return frame


def effective_entries(entries: pd.DataFrame, as_of: date | None = None) -> pd.DataFrame:
    """Entries in force at the as-of date: each entry's date (contact time, else recording time) on
    or before it, and an entry replaced by a later correction left out (the correction stands in)."""
    at = entries["contacted_at"].fillna(entries["recorded_at"])
    frame = entries.assign(at=at)
    if as_of is not None:
        frame = frame[frame["at"].dt.normalize() <= pd.Timestamp(as_of)]
    corrected = set(frame["corrects_entry_id"].dropna().astype("int64"))
    return frame[~frame["id"].isin(corrected)]


def _positions(entries: pd.DataFrame) -> pd.Series:
    """Each entry's place in the case's order (id -> position): its own id, or for a correction
    the id of the first entry in the chain of corrections it ends."""
    corrects = entries.set_index("id")["corrects_entry_id"]
    position = pd.Series(entries["id"].to_numpy(dtype="float64"), index=entries["id"])
    target = corrects.copy()
    for _ in range(20):  # follow correction chains back to their first entry
        known = target.notna()
        if not known.any():
            break
        position[known] = target[known]
        target = target.map(corrects).where(known)
    return position


def _owner_at(cases: pd.DataFrame, step: pd.Series) -> pd.Series:
    """The owner at the as-of date: the wellbeing team's queue once a welfare case reached step 4
    (a hand-over), before that the owner it was opened with."""
    now = cases["owner"]
    first = cases["first_owner"].fillna(now) if "first_owner" in cases else now
    before = now.where(now != WELLBEING_QUEUE, first)
    queued = (cases["track"] == "welfare") & (step >= 4)
    return before.where(~queued, WELLBEING_QUEUE)


def derive_cases(
    cases: pd.DataFrame, entries: pd.DataFrame, days: WorkingDays, as_of: date | None
) -> pd.DataFrame:
    """One row per case (CASE_COLUMNS plus closed/stalled/close_outcome/referral_team), derived
    from the entries in force at the as-of date (None: every entry, overdue as of today);
    vectorised over every case at once."""
    today = as_of or date.today()
    if as_of is not None:
        cases = cases[cases["opened_at"].dt.normalize() <= pd.Timestamp(as_of)]
    live = effective_entries(entries, as_of)
    # recording order decides which entry is the latest (a contact may be dated a little before
    # the case's opening entry was recorded); a correction takes the place of what it corrects
    live = live.assign(pos=_positions(entries).reindex(live["id"]).to_numpy())
    live = live.sort_values(["pos", "id"], kind="stable")
    by_case = live.groupby("case_id", sort=False)
    step = by_case["step"].max()
    last_at = by_case["at"].max()
    team = (
        live.dropna(subset=["team"])
        .drop_duplicates("case_id", keep="last")
        .set_index("case_id")["team"]
    )
    toggles = live[live["kind"].isin(("close", "reopen"))].drop_duplicates("case_id", keep="last")
    closes = toggles[toggles["kind"] == "close"].set_index("case_id")
    actions = (
        live[live["kind"].isin(_ACTION_KINDS)]
        .drop_duplicates("case_id", keep="last")
        .set_index("case_id")
    )

    out = cases.set_index("case_id")
    ids = out.index
    out = pd.DataFrame(
        {
            "student_id": out["student_id"],
            "track": out["track"],
            "owner": _owner_at(out, step.reindex(ids).fillna(1)),
            "flag_id": out["flag_id"],
            "opened_on": out["opened_at"].dt.date,
            "step": step.reindex(ids).fillna(1).astype("int64"),
            "last_entry_at": last_at.reindex(ids).fillna(out["opened_at"]),
            "closed": ids.isin(closes.index),
            "close_outcome": closes["outcome"].reindex(ids),
            "closed_on": closes["at"].reindex(ids).dt.date,
            "referral_team": team.reindex(ids),
            "next_action": actions["next_action"].reindex(ids),
            "next_due": actions["next_due"].reindex(ids),
        },
        index=ids,
    )
    out.loc[out["closed"], ["next_action", "next_due"]] = None
    out["next_due"] = pd.to_datetime(out["next_due"]).dt.date
    steps = out["step"].to_numpy()
    out["last_entry_on"] = out["last_entry_at"].dt.date
    out["state"] = np.where(
        out["closed"],
        "closed",
        np.select(
            [steps >= 6, steps == 5, steps == 4], ["emergency", "referred", "escalated"], "open"
        ),
    )
    due = pd.to_datetime(out["next_due"]).to_numpy(dtype="datetime64[D]")
    open_ = ~out["closed"].to_numpy()
    out["overdue"] = open_ & ~np.isnat(due) & (due < np.datetime64(today, "D"))
    last = pd.to_datetime(out["last_entry_on"]).to_numpy(dtype="datetime64[D]")
    stall_day = days.add_many(last, STALLED_WORKING_DAYS)
    out["stalled"] = open_ & (stall_day <= np.datetime64(today, "D"))
    out = out.reset_index().rename(columns={"index": "case_id"})
    for column in ("next_due", "next_action", "close_outcome", "closed_on", "referral_team"):
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    extra = ["closed", "stalled", "close_outcome", "referral_team", "flag_id", "last_entry_at"]
    return out[[*CASE_COLUMNS, *extra]]


def cases_frame(
    session: Session,
    as_of: date | None = None,
    case_ids: list[int] | None = None,
    days: WorkingDays | None = None,
) -> pd.DataFrame:
    """Every case (or the given ones) at the as-of date (default today): see `derive_cases`."""
    return derive_cases(
        case_rows_frame(session, case_ids),
        entries_frame(session, case_ids),
        days or working_days(session),
        as_of or date.today(),
    )


def filter_state(frame: pd.DataFrame, state: str) -> pd.DataFrame:
    """Cases in a CLI state: open (not closed), overdue, stalled, closed or all."""
    if state == "all":
        return frame
    if state == "open":
        return frame[~frame["closed"]]
    if state == "closed":
        return frame[frame["closed"]]
    if state in ("overdue", "stalled"):
        return frame[frame[state]]
    raise ValueError(f"unknown state {state!r}: use open, overdue, stalled, closed or all")


def cli_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The `cases` command's columns (SPEC §8), dates ISO, overdue yes/no."""
    out = frame[list(CASE_COLUMNS)].copy()
    out["overdue"] = np.where(out["overdue"], "yes", "no")
    for column in ("opened_on", "last_entry_on", "next_due"):
        out[column] = [d.isoformat() if isinstance(d, date) else "" for d in out[column]]
    out["next_action"] = out["next_action"].fillna("")
    return out
