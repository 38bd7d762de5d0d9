"""The contract between parsers and the load pipeline: what a parser gets (context) and returns (frames)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lib.ingest.errors import RowProblem

# Column layout of each frame a parser may return; the pipeline writes them to the matching table.
FRAME_COLUMNS: dict[str, list[str]] = {
    # daily_activity: day is a datetime.date (or datetime64 normalised); module_code "" when none
    "activity": ["student_id", "source", "day", "module_code", "quantity", "minutes"],
    # attendance at timetabled events; the pipeline derives daily activity from it
    "attendance": ["student_id", "event_id", "source", "first_seen", "minutes", "expected"],
    # submissions: status on_time | late | missing
    "submissions": [
        "student_id",
        "assignment_id",
        "module_code",
        "due_at",
        "submitted_at",
        "status",
    ],
    "students": [
        "student_id",
        "given_name",
        "family_name",
        "email",
        "personal_email",
        "phone",
        "course_code",
        "course_name",
        "school",
        "level",
        "year_of_study",
        "mode",
        "tutor_username",
        "visa_sponsored",
        "residence",
        "status",
        "start_date",
    ],
    "enrolments": ["student_id", "module_code", "academic_year"],
    "calendar": ["kind", "start", "end", "label"],
    "timetable_events": [
        "event_id",
        "module_code",
        "event_type",
        "title",
        "start_at",
        "end_at",
        "location",
        "online",
        "explicit_list",
    ],
    "event_expected": ["event_id", "student_id"],
    "moodle_users": ["moodle_id", "username", "student_id", "email", "full_name"],
    "exemptions": ["student_id", "reason", "start", "end", "note"],
}


@dataclass
class ParsedFile:
    """What a parser made of one file: frames keyed as FRAME_COLUMNS, plus the bad rows it found.

    problems are row-level: with them the pipeline rejects the file, or (quarantine mode) loads the
    rest and keeps them. A parser raises IngestError instead when the file as a whole is unusable
    (unreadable encoding, unrecognised format, missing columns, empty).
    notes are things worth telling the loader that are not errors (e.g. scans by unexpected students).
    """

    rows_read: int
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ParseContext:
    """What a parser may need from outside the file. Lookups are lazy: only the ones used hit the store.

    year: academic year hint (first calendar year) for dates without a year, or None.
    file_name: the name to use in messages.
    """

    file_name: str
    year: int | None = None
    student_ids: Callable[[], set[str]] = lambda: set()
    # students on a sponsored (visa) route
    sponsored_ids: Callable[[], set[str]] = lambda: set()
    # university email (lower-case) -> student_id
    student_emails: Callable[[], dict[str, str]] = lambda: {}
    # frame (student_id, full_name) of every student: given and family name
    student_names: Callable[[], pd.DataFrame] = lambda: pd.DataFrame(
        columns=["student_id", "full_name"]
    )
    # frame of moodle_users rows (FRAME_COLUMNS["moodle_users"])
    moodle_users: Callable[[], pd.DataFrame] = lambda: pd.DataFrame(
        columns=FRAME_COLUMNS["moodle_users"]
    )
    # frame of timetable_events rows (FRAME_COLUMNS["timetable_events"])
    timetable_events: Callable[[], pd.DataFrame] = lambda: pd.DataFrame(
        columns=FRAME_COLUMNS["timetable_events"]
    )
    # frame (event_id, student_id) of who is expected at each event: explicit lists and enrolments
    expected_students: Callable[[], pd.DataFrame] = lambda: pd.DataFrame(
        columns=["event_id", "student_id"]
    )
    # timetable_events and expected_students of one module only (cheaper for one-event files)
    module_timetable: Callable[[str], pd.DataFrame] | None = None
    module_expected: Callable[[str], pd.DataFrame] | None = None
    # frame (event_id, student_id) of the explicit student-event lists only
    explicit_students: Callable[[], pd.DataFrame] = lambda: pd.DataFrame(
        columns=["event_id", "student_id"]
    )
    # frame of enrolments rows
    enrolments: Callable[[], pd.DataFrame] = lambda: pd.DataFrame(
        columns=FRAME_COLUMNS["enrolments"]
    )
    # assignments side file for submissions worksheets: assignment_id -> (module_code, due_at) or None
    extra: dict = field(default_factory=dict)


def module_timetable(ctx: ParseContext, module_code: str) -> pd.DataFrame:
    """The timetabled events of one module, through the cheap lookup when the context has one."""
    if ctx.module_timetable is not None:
        return ctx.module_timetable(module_code)
    events = ctx.timetable_events()
    return events[events["module_code"].astype(str) == module_code]


def module_expected(ctx: ParseContext, module_code: str) -> pd.DataFrame:
    """(event_id, student_id) expected at the events of one module."""
    if ctx.module_expected is not None:
        return ctx.module_expected(module_code)
    events = module_timetable(ctx, module_code)
    expected = ctx.expected_students()
    return expected[expected["event_id"].isin(set(events["event_id"]))]


# A parser: reads the file at path and returns a ParsedFile, or raises IngestError.
Parser = Callable[[Path, ParseContext], ParsedFile]
