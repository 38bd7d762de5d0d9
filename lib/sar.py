"""Subject access: requests logged with their due date, and one zip of every record held about a
student (every table keyed by the student or linked to one that is, found by walking the schema)."""

from __future__ import annotations

import calendar as month_calendar
import io
import re
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Select, Table, select
from sqlalchemy.orm import Session

from lib.access import User, can
from lib.audit import entries_about, log_access
from lib.auth import active_staff
from lib.safe_csv import to_csv
from lib.store.measures import read_measures
from lib.store.models import Base, QuarantinedRow, Student, SubjectAccessRequest

DEFAULT_DUE_DAYS = 14
# the student's own row reads as their profile; the weekly measures (stored one wide row per
# week, other sources beside) as one row per source, as pages show them
CSV_NAMES = {"students": "profile", "weekly_measures_other": "weekly_measures"}
MEASURE_TABLES = ("weekly_measures", "weekly_measures_other")
SPECIAL = {"access_log", "quarantined_rows"}  # found by content, not by a key column


class UnknownStudent(LookupError):
    """The student id is not in the store."""


def statutory_due(received: date) -> date:
    """One calendar month after receipt (the corresponding day, else the month's last day)."""
    year, month = (
        (received.year + 1, 1) if received.month == 12 else (received.year, received.month + 1)
    )
    last = month_calendar.monthrange(year, month)[1]
    return date(year, month, min(received.day, last))


def student_selects(student_id: str) -> dict[str, Select]:
    """For every table holding records about a student, the SELECT of this student's rows: tables
    with a `student_id` column, then (to a fixed point) tables with a foreign key into those."""
    tables: dict[str, Table] = dict(Base.metadata.tables)
    selects: dict[str, Select] = {}
    for name, table in tables.items():
        if "student_id" in table.c and name not in SPECIAL:
            selects[name] = select(table).where(table.c.student_id == student_id)
    changed = True
    while changed:
        changed = False
        for name, table in tables.items():
            if name in selects or name in SPECIAL:
                continue
            for fk in table.foreign_keys:
                parent = fk.column.table
                if parent.name in selects:
                    keys = selects[parent.name].with_only_columns(fk.column)
                    selects[name] = select(table).where(fk.parent.in_(keys))
                    changed = True
                    break
    return selects


def _quarantined(session: Session, student_id: str) -> pd.DataFrame:
    """Quarantined rows naming the student: by the student id the load recorded for the row, or
    by raw text holding the student id as a whole field."""
    columns = [c.key for c in QuarantinedRow.__table__.columns]
    named = QuarantinedRow.student_id == student_id
    rows = session.execute(
        select(*QuarantinedRow.__table__.columns).where(
            named | QuarantinedRow.raw.contains(student_id)
        )
    ).all()
    frame = pd.DataFrame(rows, columns=columns)
    whole = re.compile(rf"(?<![0-9A-Za-z]){re.escape(student_id)}(?![0-9A-Za-z])")
    by_text = frame["raw"].fillna("").map(lambda raw: bool(whole.search(raw)))
    return frame[(frame["student_id"] == student_id) | by_text]


def collect(session: Session, student_id: str) -> dict[str, pd.DataFrame]:
    """Every table's records about the student, keyed by the CSV name they are exported under."""
    if session.get(Student, student_id) is None:
        raise UnknownStudent(f"no student with id {student_id!r} in the store")
    out: dict[str, pd.DataFrame] = {}
    for name, query in sorted(student_selects(student_id).items()):
        if name in MEASURE_TABLES:  # every stored version, as the rows of the old long table
            out["weekly_measures"] = read_measures(
                session, students=[student_id], every_version=True
            )
            continue
        columns = [c.key for c in query.selected_columns]
        out[CSV_NAMES.get(name, name)] = pd.DataFrame(session.execute(query).all(), columns=columns)
    out["quarantined_rows"] = _quarantined(session, student_id)
    out["access_log"] = entries_about(session, student_id)
    return out


def summary_text(student: Student, tables: dict[str, pd.DataFrame], made_on: date) -> str:
    """A plain-language cover note listing what is held and what each file contains."""
    activity = tables.get("daily_activity", pd.DataFrame(columns=["day"]))
    span = (
        f"from {activity['day'].min()} to {activity['day'].max()}"
        if not activity.empty
        else "none recorded"
    )
    lines = [
        f"Subject access export for {f'{student.given_name} {student.family_name}'.strip()} "
        f"({student.student_id}), made on {made_on.isoformat()}.",
        "",
        "The Student Engagement Dashboard holds engagement data to offer support; it holds no grades.",
        f"Course: {student.course_name or student.course_code}, year {student.year_of_study}; "
        f"personal tutor: {student.tutor_username or 'none recorded'}.",
        f"Daily engagement records: {len(activity)} ({span}).",
        "A copy of this export goes to your personal tutor.",
        "",
        "Files in this export (one CSV per kind of record):",
    ]
    lines += [f"- {name}.csv: {len(frame)} row(s)" for name, frame in tables.items()]
    return "\n".join(lines) + "\n"


def export_bytes(session: Session, student_id: str, made_on: date) -> bytes:
    """The zip: README.txt plus one CSV per table."""
    tables = collect(session, student_id)
    student = session.get(Student, student_id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", summary_text(student, tables, made_on))
        for name, frame in tables.items():
            archive.writestr(f"{name}.csv", to_csv(frame))
    return buffer.getvalue()


def log_request(
    session: Session,
    user: User,
    student_id: str,
    received: date,
    due: date | None = None,
    today: date | None = None,
) -> SubjectAccessRequest:
    """Log a request: due by default 14 days after receipt, never past the statutory month."""
    if not can(user, "handle_sar"):
        raise PermissionError("your role does not handle subject access requests")
    today = today or date.today()
    student_id = (student_id or "").strip()[:20]
    if session.get(Student, student_id) is None:
        raise UnknownStudent(f"no student with id {student_id!r} in the store")
    if received > today:
        raise ValueError("a request cannot be received in the future")
    limit = statutory_due(received)
    due = due or min(received + timedelta(days=DEFAULT_DUE_DAYS), limit)
    if due < received or due > limit:
        raise ValueError(
            f"the due date must fall between receipt and the statutory limit ({limit.isoformat()})"
        )
    request = SubjectAccessRequest(
        student_id=student_id, received_on=received, due_on=due, logged_by=user.username
    )
    session.add(request)
    session.commit()
    return request


def open_requests(session: Session, user: User) -> pd.DataFrame:
    """Requests not yet fulfilled, soonest due first."""
    if not can(user, "handle_sar"):
        raise PermissionError("your role does not handle subject access requests")
    columns = ["id", "student_id", "received_on", "due_on", "logged_by"]
    rows = session.execute(
        select(*(getattr(SubjectAccessRequest, c) for c in columns))
        .where(SubjectAccessRequest.fulfilled_on.is_(None))
        .order_by(SubjectAccessRequest.due_on, SubjectAccessRequest.id)
    ).all()
    return pd.DataFrame(rows, columns=columns)


def fulfil(session: Session, user: User, student_id: str, today: date | None = None) -> bytes:
    """Make the export, record the open request (or a new one) as fulfilled with the personal
    tutor copied, and log it."""
    if not can(user, "handle_sar"):
        raise PermissionError("your role does not handle subject access requests")
    return _fulfil(session, user, student_id, today or date.today())


def _fulfil(session: Session, user: User, student_id: str, today: date) -> bytes:
    data = export_bytes(session, student_id, today)
    student = session.get(Student, student_id)
    request = session.scalars(
        select(SubjectAccessRequest)
        .where(
            SubjectAccessRequest.student_id == student_id,
            SubjectAccessRequest.fulfilled_on.is_(None),
        )
        .order_by(SubjectAccessRequest.due_on)
    ).first()
    if request is None:
        request = SubjectAccessRequest(
            student_id=student_id,
            received_on=today,
            due_on=today + timedelta(days=DEFAULT_DUE_DAYS),
            logged_by=user.username,
        )
        session.add(request)
    request.fulfilled_on = today
    request.fulfilled_by = user.username
    request.tutor_copy_to = student.tutor_username
    log_access(session, user, f"subject access export {student_id}", [student_id], action="sar")
    session.commit()
    return data


def write_subject_access_export(
    session: Session, student_id: str, out: Path, *, requested_by: str
) -> Path:
    """`python -m lib sar`: the zip written to `out` by an operator at the command line;
    `requested_by` must name an active staff user (LookupError otherwise): the access log records
    real people only."""
    actor = User.from_staff(active_staff(session, requested_by))
    if session.get(Student, student_id) is None:
        raise UnknownStudent(f"no student with id {student_id!r} in the store")
    data = _fulfil(session, actor, student_id, date.today())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out
