"""Home worklists per role (who needs what this week), computed for the user's whole scope at once
from the case rows' derived columns, the flags in force and the students in scope."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from lib.access import User, scoped_student_ids, student_filter, visible_tracks
from lib.cases import ladder
from lib.compute.flags import in_force
from lib.store.models import Case, CaseEntry, Flag, Student
from lib.workdays import WorkingDays, working_days

# Columns shown to people (never the code's names).
LABELS = {
    "student_id": "Student",
    "name": "Name",
    "tutor": "Personal tutor",
    "flag": "Flag",
    "since": "Flagged since",
    "why": "Why flagged",
    "step": "Step",
    "state": "State",
    "next_action": "Next action",
    "next_due": "Due",
    "overdue": "Overdue",
    "owner": "With",
    "last_entry_on": "Last entry",
    "recovery": "What changed",
}
RECENT_RECOVERY_WEEKS = 4


def cases_version(session: Session) -> str:
    """A key that changes whenever a case or a case entry is added (for caches)."""
    last_entry = session.scalar(select(func.max(CaseEntry.id))) or 0
    last_case = session.scalar(select(func.max(Case.id))) or 0
    return f"{last_case}:{last_entry}"


def week_end(today: date) -> date:
    """The Sunday ending today's week ('due this week')."""
    return today + timedelta(days=6 - today.weekday())


def _frame(session: Session, statement, columns: list[str]) -> pd.DataFrame:
    """A Core read (no ORM row handling) into a frame, column by column."""
    rows = session.connection().execute(statement).fetchall()
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    data = list(zip(*rows, strict=True))
    return pd.DataFrame({c: list(v) for c, v in zip(columns, data, strict=True)}, columns=columns)


def _name_columns(frame: pd.DataFrame) -> pd.DataFrame:
    frame.insert(1, "name", frame.pop("given") + " " + frame.pop("family"))
    return frame


def flags_in_force(session: Session, user: User) -> pd.DataFrame:
    """One row per student in scope with a flag in force: worst flag, since, explanation(s),
    the student's name and personal tutor."""
    frame = _frame(
        session,
        select(
            Flag.student_id,
            Student.given_name,
            Student.family_name,
            Student.tutor_username,
            Flag.id,
            Flag.kind,
            Flag.severity,
            Flag.week_start,
            Flag.explanation,
        )
        .join(Student, Student.student_id == Flag.student_id)
        .where(in_force(None), student_filter(user)),
        [
            "student_id",
            "given",
            "family",
            "tutor",
            "flag_id",
            "kind",
            "severity",
            "week_start",
            "explanation",
        ],
    )
    frame = _name_columns(frame)
    columns = ["student_id", "name", "tutor", "flag_id", "flag", "since", "why", "rank"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame["rank"] = frame["severity"].map({"high": 0, "medium": 1, "low": 2}).fillna(3)
    frame["week_start"] = pd.to_datetime(frame["week_start"])
    frame = frame.sort_values(["student_id", "rank", "week_start"], kind="stable")
    frame["label"] = frame["kind"].str.replace("_", " ") + " (" + frame["severity"] + ")"
    first = frame.drop_duplicates("student_id").set_index("student_id")
    out = pd.DataFrame(
        {
            "name": first["name"],
            "tutor": first["tutor"],
            "flag_id": first["flag_id"],  # the worst flag: a case opens from it
            "flag": first["label"],
            "since": frame.groupby("student_id")["week_start"].min().dt.date,
            "why": first["explanation"],
            "rank": first["rank"],
        }
    )
    several = frame[frame["student_id"].duplicated(keep=False)]  # few: joined in Python
    if not several.empty:
        grouped = several.groupby("student_id")
        out.loc[grouped.groups.keys(), "flag"] = grouped["label"].agg(", ".join)
        out.loc[grouped.groups.keys(), "why"] = grouped["explanation"].agg(" ".join)
    return out.reset_index()[columns]


CASE_ROW_COLUMNS = [
    "case_id",
    "student_id",
    "given",
    "family",
    "tutor",
    "track",
    "owner",
    "state",
    "step",
    "opened_at",
    "last_entry_at",
    "next_action",
    "next_due",
]


def case_rows(session: Session, user: User, *, open_only: bool = False) -> pd.DataFrame:
    """The cases of students in scope on the tracks the user sees (derived columns as stored),
    with the student's name and personal tutor."""
    statement = (
        select(
            Case.id,
            Case.student_id,
            Student.given_name,
            Student.family_name,
            Student.tutor_username,
            Case.track,
            Case.owner_username,
            Case.state,
            Case.ladder_step,
            Case.opened_at,
            Case.last_entry_at,
            Case.next_action,
            Case.next_due,
        )
        .join(Student, Student.student_id == Case.student_id)
        .where(student_filter(user), Case.track.in_(visible_tracks(user)))
    )
    if open_only:
        statement = statement.where(Case.state != "closed")
    frame = _name_columns(_frame(session, statement, CASE_ROW_COLUMNS))
    frame["opened_at"] = pd.to_datetime(frame["opened_at"])
    frame["last_entry_at"] = pd.to_datetime(frame["last_entry_at"]).fillna(frame["opened_at"])
    frame["next_due"] = pd.to_datetime(frame["next_due"])
    return frame


def _with_status(cases: pd.DataFrame, days: WorkingDays, today: date) -> pd.DataFrame:
    """Adds overdue, stalled, last_entry_on and the step in words."""
    open_ = (cases["state"] != "closed").to_numpy()
    due = cases["next_due"].to_numpy(dtype="datetime64[D]")
    now = np.datetime64(today, "D")
    last = cases["last_entry_at"].to_numpy(dtype="datetime64[D]")
    return cases.assign(
        overdue=open_ & ~np.isnat(due) & (due < now),
        stalled=open_ & (days.add_many(last, ladder.STALLED_WORKING_DAYS) <= now),
        last_entry_on=cases["last_entry_at"].dt.date,
        next_due=cases["next_due"].dt.date,
        step=[ladder.step_title(int(s)) for s in cases["step"]],
    )


def _recovered(session: Session, user: User, today: date) -> pd.DataFrame:
    """Students in scope whose flag ended in the last few weeks, with what changed."""
    frame = _frame(
        session,
        select(Flag.student_id, Flag.ended_week, Flag.recovery_explanation).where(
            and_(
                Flag.ended_week.is_not(None),
                Flag.ended_week >= today - timedelta(weeks=RECENT_RECOVERY_WEEKS),
                Flag.student_id.in_(scoped_student_ids(user)),
            )
        ),
        ["student_id", "ended_week", "recovery"],
    )
    return frame.sort_values("ended_week").drop_duplicates("student_id", keep="last")


def worklist(
    session: Session, user: User, today: date | None = None, days: WorkingDays | None = None
) -> dict[str, pd.DataFrame]:
    """The sections of the user's Home worklist, each a frame with people's column names
    (see LABELS) plus `case_id`/`student_id` for the links."""
    today = today or date.today()
    days = days or working_days(session)
    flags = flags_in_force(session, user)
    open_cases = _with_status(case_rows(session, user, open_only=True), days, today)
    welfare_open = open_cases[open_cases["track"] == "welfare"]
    track_open = open_cases[open_cases["track"].isin(visible_tracks(user))]
    no_case = flags[~flags["student_id"].isin(track_open["student_id"])]
    no_case = no_case.sort_values(["rank", "since", "student_id"])
    sections: dict[str, pd.DataFrame] = {}
    due_cols = ["case_id", "student_id", "name", "step", "next_action", "next_due", "overdue"]
    if user.role == "tutor":
        sections["new_flags"] = no_case[["student_id", "name", "flag", "since", "why", "flag_id"]]
        mine = welfare_open[
            (welfare_open["owner"] == user.username)
            & (welfare_open["next_due"].notna())
            & (pd.to_datetime(welfare_open["next_due"]) <= pd.Timestamp(week_end(today)))
        ].sort_values(["next_due", "case_id"])
        sections["due"] = mine[due_cols]
        recovered = _recovered(session, user, today)
        back = welfare_open.merge(recovered, on="student_id")
        back = back[~back["student_id"].isin(flags["student_id"])]
        sections["re_engaged"] = back[["case_id", "student_id", "name", "step", "recovery"]]
    elif user.role == "wellbeing":
        queue = welfare_open[welfare_open["state"] != "open"].sort_values(["next_due", "case_id"])
        sections["queue"] = queue[[*due_cols, "state"]]
    elif user.role == "senior_tutor":
        sections["new_flags"] = no_case[
            ["student_id", "name", "tutor", "flag", "since", "why", "flag_id"]
        ]
        stalled = open_cases[open_cases["stalled"]].sort_values(["last_entry_on", "case_id"])
        sections["stalled"] = stalled[
            ["case_id", "student_id", "name", "tutor", "owner", "step", "last_entry_on"]
        ]
        per_tutor = (
            flags.assign(unanswered=lambda f: ~f["student_id"].isin(track_open["student_id"]))
            .groupby("tutor", dropna=False)
            .agg(flagged=("student_id", "size"), unanswered=("unanswered", "sum"))
            .reset_index()
            .sort_values(["unanswered", "flagged"], ascending=False)
        )
        per_tutor["tutor"] = per_tutor["tutor"].fillna("(no tutor)")
        sections["per_tutor"] = per_tutor
    elif user.role == "visa":
        visa_open = open_cases[open_cases["track"] == "visa"]
        due = visa_open[
            visa_open["next_due"].notna()
            & (pd.to_datetime(visa_open["next_due"]) <= pd.Timestamp(week_end(today)))
        ].sort_values(["next_due", "case_id"])
        sections["due"] = due[due_cols]
        sections["new_flags"] = no_case[["student_id", "name", "flag", "since", "flag_id"]]
    return {name: frame.reset_index(drop=True) for name, frame in sections.items()}


SECTION_TITLES = {
    "new_flags": "New flags with no case",
    "due": "Next actions due this week or overdue",
    "re_engaged": "Students who re-engaged (flag ended; close the case?)",
    "queue": "Escalated cases, by due date",
    "stalled": "Stalled cases (no entry for 10 working days)",
    "per_tutor": "Unanswered flags per personal tutor",
}
