"""Parsers for the canonical CSVs of SPEC §8: students, enrolments, calendar, events (and exemptions)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lib.ingest.base import FRAME_COLUMNS, ParseContext, ParsedFile
from lib.ingest.limits import MAX_MINUTES, MAX_QUANTITY, name_columns
from lib.ingest.readers import ROW, Validator, read_csv_frame, read_text

CALENDAR_KINDS = ("term", "vacation", "reading_week", "exam", "bank_holiday")
EVENT_COLUMNS = ["student_id", "source", "occurred_at", "quantity", "minutes", "module_code"]
EXEMPTION_REASONS = ("illness", "approved_leave", "placement", "interruption")


def _read(path: Path, ctx: ParseContext, columns: list[str]) -> tuple[pd.DataFrame, Validator]:
    text, _ = read_text(path, ctx.file_name)
    frame = read_csv_frame(text, ctx.file_name, columns)
    return frame, Validator(frame, ctx.file_name)


def _result(frame: pd.DataFrame, check: Validator, name: str, out: pd.DataFrame) -> ParsedFile:
    out[ROW] = frame[ROW].to_numpy()
    return ParsedFile(rows_read=len(frame), frames={name: out}, problems=check.problems)


def parse_students(path: Path, ctx: ParseContext) -> ParsedFile:
    columns = FRAME_COLUMNS["students"]
    frame, check = _read(path, ctx, columns)
    # family_name may be empty: many people have a single name (the given name is shown alone)
    check.required("student_id", "given_name", "email", "course_code", "school", "level")
    check.duplicates(["student_id"], "student id")
    out = pd.DataFrame({c: check.text(c) for c in columns})
    out["level"] = check.choice("level", ["ug", "pgt"]).str.upper()
    out["mode"] = check.choice("mode", ["ft", "pt"]).str.upper()
    out["visa_sponsored"] = check.choice("visa_sponsored", ["yes", "no"]) == "yes"
    out["residence"] = check.choice("residence", ["on_campus", "off_campus"])
    year = check.number("year_of_study", optional=False, minimum=1, maximum=8, whole=True)
    out["year_of_study"] = year.fillna(0).astype(int)
    out["start_date"] = check.date("start_date", optional=True).dt.date
    if "status_date" in frame.columns:  # optional (SPEC §8): the date `status` took effect
        out["status_date"] = check.date("status_date", optional=True).dt.date
    out["email"] = out["email"].str.lower()
    for column in ("personal_email", "phone", "tutor_username"):
        out[column] = out[column].where(out[column] != "", None)
    return _result(frame, check, "students", out)


def parse_enrolments(path: Path, ctx: ParseContext) -> ParsedFile:
    columns = FRAME_COLUMNS["enrolments"]
    frame, check = _read(path, ctx, columns)
    check.required("student_id", "module_code")
    check.duplicates(columns, "enrolment")
    year = check.number(
        "academic_year", optional=False, minimum=2000, maximum=2100, whole=True
    )  # and within the store's academic years (lib.ingest.limits)
    out = pd.DataFrame(
        {
            "student_id": check.text("student_id"),
            "module_code": check.text("module_code"),
            "academic_year": year.fillna(0).astype(int),
        }
    )
    return _result(frame, check, "enrolments", out)


def parse_calendar(path: Path, ctx: ParseContext) -> ParsedFile:
    columns = FRAME_COLUMNS["calendar"]
    frame, check = _read(path, ctx, columns)
    kind = check.choice("kind", CALENDAR_KINDS)
    start = check.date("start")
    end = check.date("end")
    check.flag((end < start).fillna(False), "end", "is before start")
    check.duplicates(["kind", "start", "end"], "calendar period")
    out = pd.DataFrame(
        {"kind": kind, "start": start.dt.date, "end": end.dt.date, "label": check.text("label")}
    )
    return _result(frame, check, "calendar", out)


def parse_events(path: Path, ctx: ParseContext) -> ParsedFile:
    """Generic long events: one row per occurrence, aggregated by the pipeline into daily activity."""
    columns = EVENT_COLUMNS
    frame, check = _read(path, ctx, columns)
    check.required("student_id", "source")
    source = check.text("source").str.lower()
    check.flag(~source.str.fullmatch(r"[a-z][a-z0-9_]{0,39}"), "source", "is not a source word")
    occurred = check.datetime("occurred_at")
    quantity = check.number("quantity", optional=False, maximum=MAX_QUANTITY)
    minutes = check.number("minutes", maximum=MAX_MINUTES)
    check.duplicates(columns, "row (a repeated export line?)")
    out = pd.DataFrame(
        {
            "student_id": check.text("student_id"),
            "source": source,
            "day": occurred.dt.normalize(),
            "module_code": check.text("module_code"),
            "quantity": quantity,
            "minutes": minutes,
        }
    )
    name_columns(out, day="occurred_at")
    return _result(frame, check, "activity", out)


def parse_exemptions(path: Path, ctx: ParseContext) -> ParsedFile:
    columns = FRAME_COLUMNS["exemptions"]
    frame, check = _read(path, ctx, columns)
    check.required("student_id")
    reason = check.choice("reason", EXEMPTION_REASONS)
    start = check.date("start")
    end = check.date("end")
    check.flag((end < start).fillna(False), "end", "is before start")
    check.duplicates(["student_id", "reason", "start", "end"], "exemption")
    out = pd.DataFrame(
        {
            "student_id": check.text("student_id"),
            "reason": reason,
            "start": start.dt.date,
            "end": end.dt.date,
            "note": check.text("note"),
        }
    )
    return _result(frame, check, "exemptions", out)


def parse_submissions_canonical(frame: pd.DataFrame, ctx: ParseContext) -> ParsedFile:
    """Canonical submissions (student_id, assignment_id, module_code, due_at, submitted_at)."""
    check = Validator(frame, ctx.file_name)
    check.required("student_id", "assignment_id")
    check.duplicates(["student_id", "assignment_id"], "student and assignment")
    due = check.datetime("due_at")
    submitted = check.datetime("submitted_at", optional=True)
    out = pd.DataFrame(
        {
            "student_id": check.text("student_id"),
            "assignment_id": check.text("assignment_id"),
            "module_code": check.text("module_code"),
            "due_at": due,
            "submitted_at": submitted,
        }
    )
    out["status"] = submission_status(out["due_at"], out["submitted_at"])
    return _result(frame, check, "submissions", out)


def submission_status(due_at: pd.Series, submitted_at: pd.Series) -> pd.Series:
    """on_time, late or missing, by comparing the submission time with the due time."""
    status = pd.Series("missing", index=due_at.index, dtype=object)
    status[submitted_at.notna() & (submitted_at <= due_at)] = "on_time"
    status[submitted_at.notna() & (submitted_at > due_at)] = "late"
    return status
