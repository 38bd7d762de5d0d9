"""Store rows for tests (a student, a load record) with plain defaults, any field overridden by name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lib.store.models import Load, Student


def student(student_id: str, **fields: Any) -> Student:
    """A UG full-time Science student of tutor `tut`, not sponsored, enrolled; `fields` override."""
    values: dict[str, Any] = dict(
        student_id=student_id,
        given_name="G",
        family_name=student_id,
        email=f"{student_id}@uni.example",
        course_code="C1",
        course_name="Course",
        school="Science",
        level="UG",
        year_of_study=1,
        mode="FT",
        tutor_username="tut",
        visa_sponsored=False,
        residence="off_campus",
        status="enrolled",
    )
    values.update(fields)
    return Student(**values)


def load_row(**fields: Any) -> Load:
    """A finished load record (rows loaded by a test, not from a file); `fields` override."""
    values: dict[str, Any] = dict(
        source="test",
        file_name="t",
        content_hash="h" * 64,
        loaded_at=datetime(2025, 9, 1),
        loaded_by="test",
        status="loaded",
    )
    values.update(fields)
    return Load(**values)
