"""The Student page's reads: search, profile fields, weekly measures, flags, exemptions, course median."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lib.access import (
    User,
    can,
    can_see_welfare,
    can_view_student,
    fields_for,
    student_filter,
    without_welfare,
)
from lib.compute.flags import in_force
from lib.store.measures import LONG_COLUMNS, read_measures
from lib.store.models import Exemption, Flag, Student


def search_students(session: Session, user: User, text: str, *, limit: int = 20) -> pd.DataFrame:
    """Students in the user's scope whose id, name or e-mail contains the text."""
    text = (text or "").strip()
    columns = ["student_id", "name", "course", "year"]
    if len(text) < 2 or not can(user, "search_students"):
        return pd.DataFrame(columns=columns)
    like = f"%{text.lower()}%"
    full_name = func.lower(Student.given_name + " " + Student.family_name)
    rows = session.execute(
        select(
            Student.student_id,
            func.trim(
                Student.given_name + " " + Student.family_name
            ),  # single names: no trailing blank
            Student.course_code,
            Student.year_of_study,
        )
        .where(
            student_filter(user),
            or_(
                func.lower(Student.student_id).like(like),
                full_name.like(like),
                func.lower(Student.email).like(like),
            ),
        )
        .order_by(Student.student_id)
        .limit(limit)
    ).all()
    return pd.DataFrame(rows, columns=columns)


def probed_students(session: Session, user: User, text: str, *, limit: int = 20) -> list[str]:
    """Students outside the user's scope whose id, e-mail or full name is exactly the text searched
    (a probe, written to the access log as refused; never shown)."""
    text = (text or "").strip().lower()
    if len(text) < 2 or not can(user, "search_students"):
        return []
    full_name = func.lower(Student.given_name + " " + Student.family_name)
    return list(
        session.scalars(
            select(Student.student_id)
            .where(
                Student.student_id.not_in(select(Student.student_id).where(student_filter(user))),
                or_(
                    func.lower(Student.student_id) == text,
                    func.lower(Student.email) == text,
                    full_name == text,
                ),
            )
            .order_by(Student.student_id)
            .limit(limit)
        )
    )


def student_profile(session: Session, user: User, student_id: str) -> dict | None:
    """The fields of one student the user may see, or None when out of scope or unknown."""
    if not can_view_student(session, user, student_id):
        return None
    student = session.get(Student, student_id)
    if student is None:
        return None
    return {c: getattr(student, c) for c in fields_for(user) if hasattr(Student, c)}


MEASURE_COLUMNS = LONG_COLUMNS[1:]  # one student: without student_id


def student_measures(session: Session, user: User, student_id: str) -> pd.DataFrame:
    """Every weekly measure of one student (empty when out of scope)."""
    if not can_view_student(session, user, student_id):
        return pd.DataFrame(columns=MEASURE_COLUMNS)
    return _measures(session, student_id)


def _measures(session: Session, student_id: str) -> pd.DataFrame:
    return read_measures(session, students=[student_id])[MEASURE_COLUMNS]


def weekly_values(measures: pd.DataFrame) -> pd.DataFrame:
    """One student's values as a row per week (newest first) and a column per source, weeks
    and sources with no value left out (pivot_table's table, at half its cost: one value per
    week and source)."""
    table = measures.set_index(["week_start", "source"])["value"].unstack("source")
    table = table.dropna(how="all").dropna(axis=1, how="all")
    return table.sort_index(ascending=False)


FLAG_COLUMNS = [
    "week_start",
    "ended_week",
    "kind",
    "severity",
    "explanation",
    "recovery_explanation",
]


def _flags(session: Session, user: User, student_id: str, *clauses) -> pd.DataFrame:
    if not can_view_student(session, user, student_id):
        return pd.DataFrame(columns=FLAG_COLUMNS)
    return _flag_rows(session, student_id, *clauses)


def _flag_rows(session: Session, student_id: str, *clauses) -> pd.DataFrame:
    rows = session.execute(
        select(*(getattr(Flag, c) for c in FLAG_COLUMNS))
        .where(Flag.student_id == student_id, *clauses)
        .order_by(Flag.week_start.desc())
    ).all()
    return pd.DataFrame(rows, columns=FLAG_COLUMNS)


def student_flags(session: Session, user: User, student_id: str) -> pd.DataFrame:
    """Every flag of one student, newest first (empty when out of scope)."""
    return _flags(session, user, student_id)


def student_flags_in_force(
    session: Session, user: User, student_id: str, as_of: date | None
) -> pd.DataFrame:
    """One student's flags in force on `as_of` (the Cohort page's definition), newest first."""
    return _flags(session, user, student_id, in_force(as_of))


def student_exemptions(session: Session, user: User, student_id: str) -> pd.DataFrame:
    """One student's exemptions (empty when out of scope); reason and note only for a role that
    may see welfare information, the others see that an authorised absence exists and its dates."""
    if not can_view_student(session, user, student_id):
        return _exemptions(session, user, None)
    return _exemptions(session, user, student_id)


def _exemptions(session: Session, user: User, student_id: str | None) -> pd.DataFrame:
    columns = ["start", "end", "reason", "note", "created_by", "created_at"]
    if not can_see_welfare(user):
        columns = ["start", "end", "created_by", "created_at"]
    if student_id is None:
        return pd.DataFrame(columns=columns)
    rows = session.execute(
        select(*(getattr(Exemption, c) for c in columns))
        .where(Exemption.student_id == student_id)
        .order_by(Exemption.start)
    ).all()
    return without_welfare(user, pd.DataFrame(rows, columns=columns))


def student_page(
    session: Session, user: User, student_id: str, as_of: date | None
) -> dict[str, object] | None:
    """What the Student page shows of one student (profile, measures, flags, the flags in force on
    `as_of`, exemptions) after one scope check; None when out of scope or unknown."""
    profile = student_profile(session, user, student_id)
    if profile is None:
        return None
    return {
        "profile": profile,
        "measures": _measures(session, student_id),
        "flags": _flag_rows(session, student_id),
        "in_force": _flag_rows(session, student_id, in_force(as_of)),
        "exemptions": _exemptions(session, user, student_id),
    }


def cohort_median(session: Session, user: User, student_id: str) -> pd.DataFrame:
    """Median weekly value per source of the student's course-mates (context only, never a flag)."""
    columns = ["week_start", "source", "median"]
    if not can_view_student(session, user, student_id):
        return pd.DataFrame(columns=columns)
    student = session.get_one(Student, student_id)
    mates = select(Student.student_id).where(
        Student.course_code == student.course_code, Student.year_of_study == student.year_of_study
    )
    frame = read_measures(session, students=mates)[["week_start", "source", "value"]]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    return frame.groupby(["week_start", "source"])["value"].median().rename("median").reset_index()
