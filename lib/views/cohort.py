"""The Cohort page's reads: size, flag counts and trend, the flagged list, the heatmap page, the CSV export."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lib.access import PROFILE_FIELDS, User, fields_for, require
from lib.compute.flags import in_force
from lib.safe_csv import to_csv
from lib.store.models import DataQualityEvent, Flag, Student
from lib.views.data_quality import COLUMNS as DQ_COLUMNS
from lib.views.filters import (
    SEVERITY_ORDER,
    CohortFilters,
    describe,
    student_clauses,
    worst_flags,
)


def cohort_size(session: Session, user: User, f: CohortFilters) -> int:
    """How many students match the filters in the user's scope."""
    return (
        session.scalar(select(func.count()).select_from(Student).where(*student_clauses(user, f)))
        or 0
    )


def flag_counts(session: Session, user: User, f: CohortFilters) -> pd.DataFrame:
    """Students with a flag in force per kind (and severity) in the last selected week."""
    query = (
        select(Flag.kind, Flag.severity, func.count(func.distinct(Flag.student_id)))
        .join(Student, Student.student_id == Flag.student_id)
        .where(*student_clauses(user, f), in_force(f.week_to))
        .group_by(Flag.kind, Flag.severity)
    )
    rows = session.execute(query).all()
    return pd.DataFrame(rows, columns=["kind", "severity", "students"])


def flagged_students(session: Session, user: User, f: CohortFilters) -> int:
    """How many of the filtered students have at least one flag in force in the last selected week."""
    return (
        session.scalar(
            select(func.count(func.distinct(Flag.student_id)))
            .join(Student, Student.student_id == Flag.student_id)
            .where(*student_clauses(user, f), in_force(f.week_to))
        )
        or 0
    )


def flag_trend(session: Session, user: User, f: CohortFilters) -> pd.DataFrame:
    """New flags raised per week and kind over the selected weeks."""
    query = (
        select(Flag.week_start, Flag.kind, func.count(func.distinct(Flag.student_id)))
        .join(Student, Student.student_id == Flag.student_id)
        .where(*student_clauses(user, f))
        .group_by(Flag.week_start, Flag.kind)
        .order_by(Flag.week_start)
    )
    if f.week_from:
        query = query.where(Flag.week_start >= f.week_from)
    if f.week_to:
        query = query.where(Flag.week_start <= f.week_to)
    return pd.DataFrame(session.execute(query).all(), columns=["week_start", "kind", "students"])


def flagged_list(
    session: Session, user: User, f: CohortFilters, *, limit: int = 50, offset: int = 0
) -> tuple[pd.DataFrame, int]:
    """One page of the flags in force in the last selected week for the filtered students, most
    severe first, and the total."""
    base = (
        select(
            Flag.student_id,
            Student.given_name,
            Student.family_name,
            Student.course_code,
            Student.year_of_study,
            Flag.kind,
            Flag.severity,
            Flag.week_start,
            Flag.explanation,
        )
        .join(Student, Student.student_id == Flag.student_id)
        .where(*student_clauses(user, f), in_force(f.week_to))
    )
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(
        base.order_by(SEVERITY_ORDER, Flag.week_start.desc(), Flag.student_id)
        .limit(limit)
        .offset(offset)
    ).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "student_id",
            "given_name",
            "family_name",
            "course",
            "year",
            "kind",
            "severity",
            "week_start",
            "explanation",
        ],
    )
    name = frame.pop("given_name") + " " + frame.pop("family_name")
    frame.insert(1, "name", name.str.strip())  # a single-name student: the given name alone
    return frame, total


def heatmap_students(
    session: Session, user: User, f: CohortFilters, *, limit: int = 50, offset: int = 0
) -> tuple[list[str], int]:
    """One page of filtered student ids, flagged (most severe) first, and the total."""
    worst = worst_flags(f.week_to)
    clauses = student_clauses(user, f)
    total = session.scalar(select(func.count()).select_from(Student).where(*clauses)) or 0
    ids = session.scalars(
        select(Student.student_id)
        .where(*clauses)
        .outerjoin(worst, worst.c.student_id == Student.student_id)
        .order_by(func.coalesce(worst.c.worst, 9), Student.student_id)
        .limit(limit)
        .offset(offset)
    )
    return list(ids), total


def data_quality_events(
    session: Session,
    user: User,
    week_from: date | None,
    week_to: date | None,
    *,
    limit: int = 200,
) -> pd.DataFrame:
    """Systemic drops (not student problems) in the selected weeks, newest first."""
    require(user, "view_data_quality")
    query = select(*(getattr(DataQualityEvent, c) for c in DQ_COLUMNS)).order_by(
        DataQualityEvent.week_start.desc(), DataQualityEvent.source
    )
    if week_from:
        query = query.where(DataQualityEvent.week_start >= week_from)
    if week_to:
        query = query.where(DataQualityEvent.week_start <= week_to)
    return pd.DataFrame(session.execute(query.limit(limit)).all(), columns=DQ_COLUMNS)


EXPORT_FIELDS = tuple(f for f in PROFILE_FIELDS if f not in ("course_name", "start_date"))


def cohort_export(session: Session, user: User, f: CohortFilters) -> pd.DataFrame:
    """The filtered students (profile fields the user may see) with their flags in force, for CSV."""
    allowed = [c for c in fields_for(user) if c in EXPORT_FIELDS]
    if not allowed:
        return pd.DataFrame()
    columns = [getattr(Student, c) for c in allowed]
    students = pd.DataFrame(
        session.execute(
            select(*columns).where(*student_clauses(user, f)).order_by(Student.student_id)
        ).all(),
        columns=allowed,
    )
    flags = pd.DataFrame(
        session.execute(
            select(Flag.student_id, Flag.kind, Flag.severity, Flag.week_start, Flag.explanation)
            .join(Student, Student.student_id == Flag.student_id)
            .where(*student_clauses(user, f), in_force(f.week_to))
        ).all(),
        columns=["student_id", "kind", "severity", "week_start", "explanation"],
    )
    if flags.empty:
        students["flags"] = ""
        return students
    flags["text"] = (
        flags["kind"] + " (" + flags["severity"] + ", " + flags["week_start"].astype(str) + ")"
    )
    summary = flags.groupby("student_id")["text"].agg("; ".join).rename("flags")
    return students.merge(summary, how="left", left_on="student_id", right_index=True).fillna(
        {"flags": ""}
    )


def cohort_csv(session: Session, user: User, f: CohortFilters) -> bytes:
    """The filtered students as CSV; the export is written to the access log with every id."""
    from lib.audit import log_access

    require(user, "export_csv")
    frame = cohort_export(session, user, f)
    ids = frame["student_id"].tolist() if "student_id" in frame else []
    log_access(session, user, f"cohort export ({describe(f)})", ids, action="export")
    return to_csv(frame).encode("utf-8")
