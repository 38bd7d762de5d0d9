"""Subject access export: every record held about one student, as CSV files plus a readable summary."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.access import User
from lib.audit import entries_about, log_access
from lib.auth import active_staff
from lib.safe_csv import write_csv
from lib.store.models import (
    Attendance,
    Case,
    CaseEntry,
    ComplianceRecord,
    DailyActivity,
    Enrolment,
    Exemption,
    Flag,
    Student,
    SubjectAccessRequest,
    Submission,
    WeeklyMeasure,
    WithdrawalReviewDecision,
)

STATUTORY_DAYS = 30  # UK GDPR: one calendar month; 30 days is the conservative reading


class UnknownStudent(LookupError):
    """The student id is not in the store."""


def _rows(session: Session, model: type, *where) -> pd.DataFrame:
    """All columns of `model` matching `where`, as a frame (provenance columns included)."""
    columns = [c.key for c in model.__table__.columns]
    rows = session.execute(select(*model.__table__.columns).where(*where)).all()
    return pd.DataFrame(rows, columns=columns)


def collect(session: Session, student_id: str) -> dict[str, pd.DataFrame]:
    """Every table's records about the student, keyed by the CSV name they are exported under."""
    student = session.get(Student, student_id)
    if student is None:
        raise UnknownStudent(f"no student with id {student_id!r} in the store")
    case_ids = list(session.scalars(select(Case.id).where(Case.student_id == student_id)))
    return {
        "profile": _rows(session, Student, Student.student_id == student_id),
        "enrolments": _rows(session, Enrolment, Enrolment.student_id == student_id),
        "daily_activity": _rows(session, DailyActivity, DailyActivity.student_id == student_id),
        "attendance": _rows(session, Attendance, Attendance.student_id == student_id),
        "submissions": _rows(session, Submission, Submission.student_id == student_id),
        "weekly_measures": _rows(session, WeeklyMeasure, WeeklyMeasure.student_id == student_id),
        "flags": _rows(session, Flag, Flag.student_id == student_id),
        "exemptions": _rows(session, Exemption, Exemption.student_id == student_id),
        "cases": _rows(session, Case, Case.student_id == student_id),
        "case_entries": _rows(session, CaseEntry, CaseEntry.case_id.in_(case_ids)),
        "compliance_records": _rows(
            session, ComplianceRecord, ComplianceRecord.student_id == student_id
        ),
        "withdrawal_review": _rows(
            session, WithdrawalReviewDecision, WithdrawalReviewDecision.student_id == student_id
        ),
        "subject_access_requests": _rows(
            session, SubjectAccessRequest, SubjectAccessRequest.student_id == student_id
        ),
        "access_log": entries_about(session, student_id),
    }


def summary_text(student: Student, tables: dict[str, pd.DataFrame], made_on: date) -> str:
    """A plain-language cover note listing what is held and what each file contains."""
    activity = tables["daily_activity"]
    span = (
        f"from {activity['day'].min()} to {activity['day'].max()}"
        if not activity.empty
        else "none recorded"
    )
    lines = [
        f"Subject access export for {student.given_name} {student.family_name} "
        f"({student.student_id}), made on {made_on.isoformat()}.",
        "",
        "The Student Engagement Dashboard holds engagement data to offer support; it holds no grades.",
        f"Course: {student.course_name or student.course_code}, year {student.year_of_study}; "
        f"personal tutor: {student.tutor_username or 'none recorded'}.",
        f"Daily engagement records: {len(activity)} ({span}).",
        "",
        "Files in this export (one CSV per kind of record):",
    ]
    lines += [f"- {name}.csv: {len(frame)} row(s)" for name, frame in tables.items()]
    return "\n".join(lines) + "\n"


def write_subject_access_export(
    session: Session, student_id: str, out: Path, *, requested_by: str
) -> Path:
    """Write the zip, record the request as fulfilled (tutor copied) and log the export.

    `requested_by` must name an active staff user (LookupError otherwise): the access log
    records real people only."""
    actor = User.from_staff(active_staff(session, requested_by))
    tables = collect(session, student_id)
    student = session.get(Student, student_id)
    today = date.today()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", summary_text(student, tables, today))
        for name, frame in tables.items():
            buffer = io.StringIO()
            write_csv(frame, buffer)
            archive.writestr(f"{name}.csv", buffer.getvalue())
    open_request = session.scalars(
        select(SubjectAccessRequest).where(
            SubjectAccessRequest.student_id == student_id,
            SubjectAccessRequest.fulfilled_on.is_(None),
        )
    ).first()
    if open_request is None:
        open_request = SubjectAccessRequest(
            student_id=student_id,
            received_on=today,
            due_on=today + timedelta(days=STATUTORY_DAYS),
            logged_by=requested_by,
        )
        session.add(open_request)
    open_request.fulfilled_on = today
    open_request.fulfilled_by = requested_by
    open_request.tutor_copy_to = student.tutor_username
    log_access(session, actor, f"subject access export {out.name}", [student_id], action="sar")
    session.commit()
    return out
