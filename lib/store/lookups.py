"""Lookups more than one wing reads: students, e-mails, Moodle users, timetable, enrolments, who is expected."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.store.models import (
    Enrolment,
    EventExpectedStudent,
    MoodleUser,
    Student,
    TimetableEvent,
)


def student_ids(session: Session) -> set[str]:
    return set(session.scalars(select(Student.student_id)))


def sponsored_ids(session: Session) -> set[str]:
    """Students on a sponsored (visa) route: the only ones the visa track is about."""
    return set(session.scalars(select(Student.student_id).where(Student.visa_sponsored.is_(True))))


def student_emails(session: Session) -> dict[str, str]:
    rows = session.execute(select(Student.email, Student.student_id, Student.personal_email))
    mapping: dict[str, str] = {}
    for email, student_id, personal in rows:
        if personal:
            mapping[personal.lower()] = student_id
        if email:
            mapping[email.lower()] = student_id
    return mapping


def frame_of(session: Session, statement) -> pd.DataFrame:
    """The rows of a SELECT as a frame with its column names."""
    result = session.execute(statement)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def student_names_frame(session: Session) -> pd.DataFrame:
    """(student_id, full_name) of every student, full name = given and family name."""
    frame = frame_of(session, select(Student.student_id, Student.given_name, Student.family_name))
    full = frame["given_name"].fillna("") + " " + frame["family_name"].fillna("")
    return pd.DataFrame({"student_id": frame["student_id"], "full_name": full.str.strip()})


def moodle_users_frame(session: Session) -> pd.DataFrame:
    return frame_of(
        session,
        select(
            MoodleUser.moodle_id,
            MoodleUser.username,
            MoodleUser.student_id,
            MoodleUser.email,
            MoodleUser.full_name,
        ),
    )


def timetable_frame(session: Session, module_code: str | None = None) -> pd.DataFrame:
    """Timetabled events, all or those of one module."""
    statement = select(
        TimetableEvent.event_id,
        TimetableEvent.module_code,
        TimetableEvent.event_type,
        TimetableEvent.title,
        TimetableEvent.start_at,
        TimetableEvent.end_at,
        TimetableEvent.location,
        TimetableEvent.online,
        TimetableEvent.explicit_list,
    )
    if module_code is not None:
        statement = statement.where(TimetableEvent.module_code == module_code)
    frame = frame_of(session, statement)
    for column in ("start_at", "end_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def explicit_frame(session: Session) -> pd.DataFrame:
    """(event_id, student_id) of the explicit student-event lists."""
    return frame_of(session, select(EventExpectedStudent.event_id, EventExpectedStudent.student_id))


def enrolments_frame(session: Session) -> pd.DataFrame:
    return frame_of(
        session, select(Enrolment.student_id, Enrolment.module_code, Enrolment.academic_year)
    )


def academic_year_of(moment: pd.Series) -> pd.Series:
    """Academic year (first calendar year) of each date: September starts a new year."""
    moment = pd.to_datetime(moment)
    return moment.dt.year - (moment.dt.month < 9).astype(int)


def expected_students_frame(session: Session, module_code: str | None = None) -> pd.DataFrame:
    """(event_id, student_id) for every timetabled event (or one module's): its explicit list, else
    its module's cohort."""
    events = timetable_frame(session, module_code)
    statement = select(EventExpectedStudent.event_id, EventExpectedStudent.student_id)
    if module_code is not None:
        statement = statement.join(
            TimetableEvent, TimetableEvent.event_id == EventExpectedStudent.event_id
        ).where(TimetableEvent.module_code == module_code)
    explicit = frame_of(session, statement)
    by_module = events[~events["explicit_list"].astype(bool)][
        ["event_id", "module_code", "start_at"]
    ]
    by_module = by_module.assign(academic_year=academic_year_of(by_module["start_at"]))
    cohort = by_module.merge(enrolments_frame(session), on=["module_code", "academic_year"])
    return pd.concat([explicit, cohort[["event_id", "student_id"]]], ignore_index=True)
