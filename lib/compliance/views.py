"""The Compliance page's read side and actions, each asking the access policy and logging exports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.access import User, can_view_student, require, scoped_student_ids
from lib.audit import log_access
from lib.compliance import service
from lib.compliance.export import html_page, safe_csv
from lib.compliance.status import COLUMNS, STATUSES

LIST_COLUMNS = [
    "student_id",
    "name",
    "course_code",
    "school",
    *COLUMNS[1:],
    "overdue",
    "withdrawn_on",
]


@dataclass(frozen=True)
class ListFilters:
    """What the visa team narrows the list to."""

    statuses: tuple[str, ...] = ()
    school: str | None = None
    overdue_only: bool = False
    search: str = ""


def compliance_list(session: Session, user: User, as_of: date, f: ListFilters) -> pd.DataFrame:
    """The sponsored students in the user's scope, most urgent first, filtered."""
    require(user, "view_compliance")
    ids = list(session.scalars(scoped_student_ids(user)))
    if not ids:
        return pd.DataFrame(columns=LIST_COLUMNS)
    frame = service.statuses(session, as_of, ids)[LIST_COLUMNS]
    if f.statuses:
        frame = frame[frame["status"].isin([s for s in f.statuses if s in STATUSES])]
    if f.school:
        frame = frame[frame["school"] == f.school]
    if f.overdue_only:
        frame = frame[frame["overdue"]]
    needle = f.search.strip().lower()[:100]
    if needle:
        hay = frame["student_id"].str.lower() + " " + frame["name"].fillna("").str.lower()
        frame = frame[hay.str.contains(needle, regex=False)]
    return frame.reset_index(drop=True)


def student_evidence(session: Session, user: User, student_id: str, as_of: date):
    """(status row, points, records) for one sponsored student in scope, or None."""
    require(user, "view_compliance")
    if not can_view_student(session, user, student_id):
        return None
    try:
        return service.evidence(session, student_id, as_of)
    except ValueError:
        return None


def record_report(session: Session, user: User, student_id: str, on: date, reference: str):
    """Record a report made to UKVI by this user (refusals raise ValueError with a message)."""
    require(user, "record_compliance_report")
    if not can_view_student(session, user, student_id):
        raise PermissionError("this student is not in your scope")
    return service.record_report(session, student_id, on, reference, user.username)


def record_withdrawal(session: Session, user: User, student_id: str, on: date):
    """Record a sponsored student's withdrawal (kept with its date)."""
    require(user, "record_compliance_report")
    if not can_view_student(session, user, student_id):
        raise PermissionError("this student is not in your scope")
    return service.record_withdrawal(session, student_id, on, user.username)


def list_export(session: Session, user: User, frame: pd.DataFrame, as_of: date, kind: str) -> bytes:
    """The list as CSV or printable HTML; the export is access-logged with every student."""
    require(user, "export_compliance")
    ids = frame["student_id"].tolist()
    log_access(session, user, f"compliance list export {kind} as of {as_of}", ids, action="export")
    if kind == "csv":
        return safe_csv(frame)
    return html_page(
        f"Visa compliance as of {as_of}", [("Students", frame)], date.today(), user.username
    )


def student_export(session: Session, user: User, student_id: str, as_of: date, kind: str) -> bytes:
    """One student's evidence (status, every contact point, reports) as CSV or HTML; logged."""
    require(user, "export_compliance")
    found = student_evidence(session, user, student_id, as_of)
    if found is None:
        raise PermissionError("this student is not in your scope")
    row, points, records = found
    log_access(
        session,
        user,
        f"compliance evidence export {kind} as of {as_of}",
        [student_id],
        action="export",
    )
    if kind == "csv":
        evidence = points.assign(student_id=student_id)
        return safe_csv(evidence[["student_id", *points.columns]])
    status = pd.DataFrame([{c: row.get(c) for c in COLUMNS}])
    return html_page(
        f"Compliance evidence for {student_id} as of {as_of}",
        [("Status", status), ("Contact points", points), ("Reports and withdrawal", records)],
        date.today(),
        user.username,
    )


def schools(session: Session, user: User) -> list[str]:
    """The schools of the user's sponsored students (filter options)."""
    from lib.store.models import Student

    return sorted(
        s
        for s in session.scalars(
            select(Student.school)
            .where(Student.student_id.in_(scoped_student_ids(user)))
            .distinct()
        )
        if s
    )
