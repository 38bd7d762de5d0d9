"""The termly assumed-withdrawal review (SPEC §7): who shows no engagement, and each reviewer's decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lib.access import User, can_view_student, require, scoped_student_ids, without_welfare
from lib.audit import log_access
from lib.compliance.export import safe_csv
from lib.compliance.fetch import typed_frame as query_frame
from lib.store.models import CalendarPeriod, DailyActivity, Student, WithdrawalReviewDecision
from lib.store.statuses import LEFT_STATUSES

DECISIONS = ("no_action", "contact", "start_withdrawal")
DECISION_LABELS = {
    "no_action": "No action",
    "contact": "Contact the student",
    "start_withdrawal": "Start the assumed-withdrawal process",
}
MAX_NOTE = 2000
ATTENDANCE_SOURCES = ("attendance", "online")
LIST_COLUMNS = [
    "student_id",
    "name",
    "course_code",
    "school",
    "year_of_study",
    "last_engagement_on",
    "last_attendance_on",
    "days_without_engagement",
    "active_days_in_term",
    "decision",
    "decided_by",
    "decided_at",
]


@dataclass(frozen=True)
class Term:
    """A term of the calendar, named by its label (or its dates when it has none)."""

    label: str
    start: date
    end: date


def terms(session: Session) -> list[Term]:
    """The calendar's terms, newest first."""
    rows = session.execute(
        select(CalendarPeriod.label, CalendarPeriod.start, CalendarPeriod.end)
        .where(CalendarPeriod.kind == "term")
        .order_by(CalendarPeriod.start.desc())
    ).all()
    return [Term((label or f"Term {start}–{end}")[:60], start, end) for label, start, end in rows]


def review_list(
    session: Session, user: User, term: Term, span_days: int, today: date | None = None
) -> pd.DataFrame:
    """Students in scope with no attendance and no engagement for `span_days` up to the term's end
    (or today, inside the term), with the evidence and any decision already made this term."""
    require(user, "review_withdrawal")
    as_of = min(term.end, today or date.today())
    cutoff = as_of - timedelta(days=span_days)
    scope = scoped_student_ids(user)
    engaged = (DailyActivity.quantity > 0) | (DailyActivity.minutes > 0)
    activity = query_frame(
        session,
        select(
            DailyActivity.student_id,
            func.max(DailyActivity.day),
            func.count(func.distinct(DailyActivity.day)).filter(DailyActivity.day >= term.start),
        )
        .where(DailyActivity.student_id.in_(scope), DailyActivity.day <= as_of, engaged)
        .group_by(DailyActivity.student_id),
        ["student_id", "last_engagement_on", "active_days_in_term"],
    )
    attendance = query_frame(
        session,
        select(DailyActivity.student_id, func.max(DailyActivity.day))
        .where(
            DailyActivity.student_id.in_(scope),
            DailyActivity.day <= as_of,
            DailyActivity.source.in_(ATTENDANCE_SOURCES),
            engaged,
        )
        .group_by(DailyActivity.student_id),
        ["student_id", "last_attendance_on"],
    )
    students = query_frame(
        session,
        select(
            Student.student_id,
            Student.given_name,
            Student.family_name,
            Student.course_code,
            Student.school,
            Student.year_of_study,
            Student.start_date,
            Student.status,
        ).where(Student.student_id.in_(scope)),
        [
            "student_id",
            "given_name",
            "family_name",
            "course_code",
            "school",
            "year_of_study",
            "start_date",
            "status",
        ],
    )
    frame = students.merge(activity, on="student_id", how="left").merge(
        attendance, on="student_id", how="left"
    )
    last = pd.to_datetime(frame["last_engagement_on"])
    started = pd.to_datetime(frame["start_date"]).fillna(pd.Timestamp(term.start))
    silent = (last.isna() | (last < pd.Timestamp(cutoff))) & (started <= pd.Timestamp(cutoff))
    silent &= ~frame["status"].astype(str).str.lower().isin(LEFT_STATUSES)  # left: not silent
    frame = frame[silent].copy()
    since = pd.to_datetime(frame["last_engagement_on"]).fillna(started[silent])
    frame["days_without_engagement"] = (pd.Timestamp(as_of) - since).dt.days
    frame["active_days_in_term"] = frame["active_days_in_term"].fillna(0).astype(int)
    frame["name"] = frame["given_name"] + " " + frame["family_name"]
    decided = latest_decisions(session, term.label)
    frame = frame.merge(decided, on="student_id", how="left")
    frame = frame.sort_values(["days_without_engagement", "student_id"], ascending=[False, True])
    return frame[LIST_COLUMNS].reset_index(drop=True)


def latest_decisions(session: Session, term_label: str) -> pd.DataFrame:
    """The newest decision per student for one term (decisions are appended, never overwritten)."""
    frame = query_frame(
        session,
        select(
            WithdrawalReviewDecision.student_id,
            WithdrawalReviewDecision.decision,
            WithdrawalReviewDecision.decided_by,
            WithdrawalReviewDecision.decided_at,
            WithdrawalReviewDecision.id,
        ).where(WithdrawalReviewDecision.term_label == term_label),
        ["student_id", "decision", "decided_by", "decided_at", "id"],
    )
    frame = frame.sort_values("id").drop_duplicates("student_id", keep="last")
    return frame.drop(columns=["id"])


def record_decision(
    session: Session,
    user: User,
    term: Term,
    student_id: str,
    decision: str,
    note: str = "",
    last_engagement: date | None = None,
) -> WithdrawalReviewDecision:
    """Append a reviewer's decision for a student in scope (a later one supersedes it)."""
    require(user, "review_withdrawal")
    if decision not in DECISIONS:
        raise ValueError(f"the decision must be one of {', '.join(DECISIONS)}")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValueError(f"the note is longer than {MAX_NOTE} characters")
    if not can_view_student(session, user, student_id):
        raise PermissionError("this student is not in your scope")
    row = WithdrawalReviewDecision(
        term_label=term.label,
        student_id=student_id,
        decision=decision,
        decided_by=user.username,
        decided_at=datetime.now(),
        last_engagement=last_engagement,
        note=note or None,
    )
    session.add(row)
    session.commit()
    return row


def student_decisions(session: Session, user: User, student_id: str) -> pd.DataFrame:
    """Every review decision about one student in scope, newest first (notes for welfare roles)."""
    columns = ["term_label", "decision", "decided_by", "decided_at", "last_engagement", "note"]
    if not can_view_student(session, user, student_id):
        return pd.DataFrame(columns=columns)
    frame = query_frame(
        session,
        select(*(getattr(WithdrawalReviewDecision, c) for c in columns))
        .where(WithdrawalReviewDecision.student_id == student_id)
        .order_by(WithdrawalReviewDecision.id.desc()),
        columns,
    )
    return without_welfare(user, frame)


def review_export(session: Session, user: User, term: Term, frame: pd.DataFrame) -> bytes:
    """The review list with its decisions as CSV (formula-neutralised); access-logged."""
    require(user, "review_withdrawal")
    ids = frame["student_id"].tolist()
    log_access(session, user, f"withdrawal review export {term.label}", ids, action="export")
    return safe_csv(frame)
