"""What the Case page and the Student page's case section show, checked by the access policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.access import User, can, can_on_track, can_view_student, visible_tracks
from lib.cases import ladder
from lib.cases.queries import cases_frame, entries_frame
from lib.cases.service import wellbeing_colleagues
from lib.compute.flags import in_force
from lib.store.models import Case, Flag, Student
from lib.workdays import WorkingDays, working_days

ENTRY_LABELS = {
    "when": "When",
    "what": "What",
    "step": "Step",
    "by": "Who",
    "channel": "Channel",
    "outcome": "Outcome",
    "note": "Note",
    "next_action": "Next action",
    "next_due": "Due",
}
KIND_LABELS = {
    "open": "Case opened",
    "contact": "Contact attempt",
    "handover": "Handed over to the wellbeing team",
    "referral": "Referral",
    "emergency_decision": "Emergency contact decision",
    "close": "Case closed",
    "reopen": "Case reopened",
    "correction": "Correction",
}


@dataclass
class CaseView:
    """One case as its page shows it."""

    case_id: int
    student_id: str
    student_name: str
    track: str
    owner: str
    state: str
    step: int
    next_action: str | None
    next_due: date | None
    due_words: str
    opened_on: date
    closed: bool
    close_outcome: str | None
    referral_team: str | None
    contact: dict[str, str | None]
    entries: pd.DataFrame
    contacts: dict[int, dict]  # the contact attempts in force (a correction may replace one)
    actions: dict[str, bool] = field(default_factory=dict)
    contact_steps: tuple[int, ...] = ()
    referral: ladder.Referral | None = None
    colleagues: list[str] = field(default_factory=list)


def due_in_words(due: date | None, today: date, days: WorkingDays) -> str:
    """'due today', 'due in 3 working days (Wed 19 Nov 2025)', 'overdue by 2 working days (...)'."""
    if due is None:
        return "no due date"
    shown = due.strftime("%a %d %b %Y")
    if due == today:
        return f"due today ({shown})"
    if due > today:
        n = days.count_between(today, due)
        return f"due in {n} working day{'s' if n != 1 else ''} ({shown})"
    n = days.count_between(due, today)
    return f"overdue by {n} working day{'s' if n != 1 else ''} ({shown})"


def _entries_for_people(entries: pd.DataFrame, show_notes: bool) -> pd.DataFrame:
    when = entries["contacted_at"].fillna(entries["recorded_at"])
    what = entries["kind"].map(KIND_LABELS).fillna(entries["kind"])
    corrected = entries["corrects_entry_id"].dropna().astype("int64")
    what = what.where(~entries["id"].isin(corrected), what + " (corrected by a later entry)")
    outcome = entries["outcome"].map(
        {
            **ladder.OUTCOME_LABELS,
            **ladder.CLOSE_OUTCOME_LABELS,
            **ladder.EMERGENCY_DECISION_LABELS,
        }
    )
    by = entries["staff_username"].fillna(entries["recorded_by"])
    by = by.where(
        entries["authorised_by"].isna(),
        by + ", authorised by " + entries["authorised_by"].fillna(""),
    )
    team = entries["team"].fillna("")
    out = pd.DataFrame(
        {
            "entry": entries["id"],
            "when": when.dt.strftime("%Y-%m-%d %H:%M"),
            "what": what + team.where(team == "", " → " + team),
            "step": [ladder.step_title(int(s)) if pd.notna(s) else "" for s in entries["step"]],
            "by": by,
            "channel": entries["channel"].map(ladder.CHANNEL_LABELS).fillna(""),
            "outcome": outcome.fillna(""),
            "note": entries["note"].fillna("") if show_notes else "(welfare note hidden)",
            "next_action": entries["next_action"].fillna(""),
            "next_due": pd.to_datetime(entries["next_due"]).dt.date,
        }
    )
    return out.iloc[::-1].reset_index(drop=True).rename(columns=ENTRY_LABELS)


def _contacts_in_force(entries: pd.DataFrame) -> dict[int, dict]:
    """Contact attempts not yet corrected, newest first, with their fields for a correction."""
    corrected = set(entries["corrects_entry_id"].dropna().astype("int64"))
    live = entries[entries["kind"].isin(("contact", "correction")) & ~entries["id"].isin(corrected)]
    out: dict[int, dict] = {}
    for row in live.iloc[::-1].itertuples():
        out[int(row.id)] = {
            "step": int(row.step) if pd.notna(row.step) else 1,
            "contacted_at": row.contacted_at.to_pydatetime(),
            "channel": row.channel,
            "outcome": row.outcome,
            "note": row.note or "",
            "next_action": row.next_action or "",
            "next_due": row.next_due.date() if pd.notna(row.next_due) else None,
        }
    return out


def case_view(
    session: Session, user: User, case_id: int, today: date | None = None
) -> CaseView | None:
    """The case when the user may see it (its track and its student in scope), else None."""
    if not can(user, "view_case"):
        return None
    case = session.get(Case, case_id)
    if case is None or not can_on_track(user, "view_case", case.track):
        return None
    if not can_view_student(session, user, case.student_id):
        return None
    today = today or date.today()
    days = working_days(session)
    row = cases_frame(session, as_of=None, case_ids=[case_id], days=days).iloc[0]
    student = session.get(Student, case.student_id)
    contact = {"University e-mail": student.email}
    if can(user, "view_contact_details"):
        contact["Personal e-mail"] = student.personal_email
        contact["Phone"] = student.phone
    entries = entries_frame(session, [case_id])
    show_notes = can(user, "view_welfare_notes") or case.track == "visa"
    closed = bool(row["closed"])
    next_due = row["next_due"] if isinstance(row["next_due"], date) else None
    actions = {
        action: can_on_track(user, action, case.track)
        for action in (
            "record_contact",
            "correct_entry",
            "handover",
            "refer",
            "emergency_decision",
            "close_case",
            "reopen_case",
        )
    }
    step = int(row["step"])
    return CaseView(
        case_id=case_id,
        student_id=case.student_id,
        student_name=f"{student.given_name} {student.family_name}",
        track=case.track,
        owner=case.owner_username,
        state=row["state"],
        step=step,
        next_action=row["next_action"] if isinstance(row["next_action"], str) else None,
        next_due=next_due,
        due_words=due_in_words(next_due, today, days),
        opened_on=row["opened_on"],
        closed=closed,
        close_outcome=row["close_outcome"] if closed else None,
        referral_team=row["referral_team"] if isinstance(row["referral_team"], str) else None,
        contact=contact,
        entries=_entries_for_people(entries, show_notes),
        contacts=_contacts_in_force(entries),
        actions={
            "record_contact": actions["record_contact"] and not closed,
            "correct_entry": actions["correct_entry"],
            "handover": actions["handover"] and not closed and step < 4,
            "refer": actions["refer"] and not closed and step == 4,
            "emergency_decision": actions["emergency_decision"] and not closed and step >= 5,
            "close_case": actions["close_case"] and not closed,
            "reopen_case": actions["reopen_case"] and closed,
        },
        contact_steps=ladder.contact_steps_for(case.track, user.role),
        referral=ladder.referral_for(student.residence) if case.track == "welfare" else None,
        colleagues=wellbeing_colleagues(session, user) if user.role == "wellbeing" else [],
    )


def student_cases(
    session: Session, user: User, student_id: str, today: date | None = None
) -> pd.DataFrame | None:
    """The student's cases on the tracks the user sees (None when the student is out of scope)."""
    if not can_view_student(session, user, student_id):
        return None
    ids = list(
        session.scalars(
            select(Case.id).where(
                Case.student_id == student_id, Case.track.in_(visible_tracks(user))
            )
        )
    )
    if not ids:
        return pd.DataFrame(
            columns=["case_id", "track", "state", "step", "next_action", "next_due"]
        )
    days = working_days(session)
    frame = cases_frame(session, as_of=None, case_ids=ids, days=days)
    today = today or date.today()
    frame["due_words"] = [
        due_in_words(d if isinstance(d, date) else None, today, days) for d in frame["next_due"]
    ]
    return frame.sort_values(["closed", "case_id"], ascending=[True, False]).reset_index(drop=True)


def open_flag_id(session: Session, student_id: str) -> int | None:
    """The student's most severe flag in force (the flag a case opens from), if any."""
    return session.scalar(
        select(Flag.id)
        .where(Flag.student_id == student_id, in_force(None))
        .order_by(Flag.week_start.desc())
        .limit(1)
    )
