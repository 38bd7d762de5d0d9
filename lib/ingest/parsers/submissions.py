"""Submissions: the canonical CSV or Moodle's assignment grading worksheet, told apart by header."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lib.ingest.base import ParseContext, ParsedFile
from lib.ingest.errors import IngestError
from lib.ingest.limits import name_columns
from lib.ingest.parsers.assignments import ASSIGNMENT_COLUMNS, Assignment, find_assignment
from lib.ingest.parsers.canonical import parse_submissions_canonical, submission_status
from lib.ingest.parsers.formats import (
    aliases,
    header_key,
    parse_datetimes,
    read_export,
    unrecognised,
)
from lib.ingest.readers import ROW, Validator, read_csv_frame, sniff_delimiter

CANONICAL = ["student_id", "assignment_id", "module_code", "due_at", "submitted_at"]
# Only these worksheet columns are ever read: Grade, Maximum Grade and Feedback never leave the file.
WORKSHEET = aliases(
    {
        "identifier": ["identifier", "kennung", "identifiant"],
        "full_name": ["full name", "vollständiger name", "nom complet"],
        "idnumber": ["id number", "id-nummer", "matrikelnummer", "numéro d'identification"],
        "email": ["email address", "e-mail-adresse", "adresse de courriel"],
        "status": ["status", "statut"],
        "submitted": [
            "last modified (submission)",
            "zuletzt geändert (abgabe)",
            "dernière modification (remise)",
        ],
    }
)
TRIED = [
    f"canonical submissions CSV ({', '.join(CANONICAL)})",
    "Moodle grading worksheet (Identifier, Full name, ID number, Email address, Status, Grade, ..., "
    "Last modified (submission), ...) with its due date from assignments.csv beside it",
    f"assignments list ({', '.join(ASSIGNMENT_COLUMNS)})",
]
NOT_SUBMITTED = ("no submission", "draft", "new", "keine abgabe", "entwurf", "aucune remise")


def parse(path: Path, ctx: ParseContext) -> ParsedFile:
    text, encoding = read_export(path, ctx)
    header = text.split("\n", 1)[0]
    names = [header_key(c) for c in header.split(sniff_delimiter(header))]
    keys = {k.replace(" ", "_") for k in names}
    if {"student_id", "assignment_id"} <= keys:
        return parse_submissions_canonical(read_csv_frame(text, ctx.file_name, CANONICAL), ctx)
    mapped = {WORKSHEET.get(n) for n in names}
    if {"status", "submitted"} <= mapped and mapped & {"idnumber", "email"}:
        return _worksheet(Path(path), text, ctx)
    if {"assignment_id", "due_at"} <= keys:
        return ParsedFile(
            0,
            {},
            [],
            [
                "an assignments list: it gives due dates to the grading worksheets beside it "
                "(load them with it); it stores nothing itself"
            ],
        )
    raise unrecognised(ctx.file_name, "submissions", TRIED, text, encoding)


def _worksheet(path: Path, text: str, ctx: ParseContext) -> ParsedFile:
    assignment = _assignment_for(path, ctx)
    if not any(line.strip() for line in text.split("\n")[1:]):
        note = f"assignment {assignment.assignment_id}: the worksheet lists no participants"
        return ParsedFile(0, {}, [], [note])
    frame = read_csv_frame(text, ctx.file_name, ["status", "submitted"], aliases=WORKSHEET)
    frame = frame[[c for c in frame.columns if c in set(WORKSHEET.values()) | {ROW}]]
    for column in ("idnumber", "email", "full_name"):
        if column not in frame.columns:
            frame[column] = ""
    check = Validator(frame, ctx.file_name)
    status = check.text("status").str.lower()
    submitted = (status != "") & ~status.str.startswith(NOT_SUBMITTED)
    raw = check.text("submitted")
    when = parse_datetimes(
        raw.where(raw != "-", ""), year=ctx.year, file_name=ctx.file_name, column="submitted"
    )
    check.flag(
        submitted & when.isna(),
        "submitted",
        "is not a readable submission time, but Status says submitted",
    )
    check.flag(status == "", "status", "is empty")
    student = check.text("idnumber").where(lambda s: s != "", None)
    email = check.text("email").str.lower()
    student = student.fillna(email.map(ctx.student_emails()))
    check.flag(student.isna(), "idnumber", "names no student (no ID number, email not known)")
    check.duplicates(["idnumber", "email"], "student")
    submitted_at = when.where(submitted)
    due = pd.Series(assignment.due_at, index=frame.index)
    out = pd.DataFrame(
        {
            "student_id": student,
            "assignment_id": assignment.assignment_id,
            "module_code": assignment.module_code,
            "due_at": due,
            "submitted_at": submitted_at,
            ROW: frame[ROW].to_numpy(),
        }
    )
    out["status"] = submission_status(out["due_at"], out["submitted_at"])
    name_columns(out, submitted_at="submitted", student_id="idnumber")
    counts = out["status"].value_counts()
    notes = [
        f"assignment {assignment.assignment_id} ({assignment.module_code}) due "
        f"{assignment.due_at:%Y-%m-%d %H:%M} ({assignment.found_by}); "
        + ", ".join(f"{int(counts.get(k, 0))} {k}" for k in ("on_time", "late", "missing"))
        + "; grades and feedback dropped"
    ]
    return ParsedFile(len(frame), {"submissions": out}, check.problems, notes)


def _assignment_for(path: Path, ctx: ParseContext) -> Assignment:
    found = find_assignment(path, ctx)
    if found is None:
        raise IngestError(
            ctx.file_name,
            "is a Moodle grading worksheet but its due date is unknown: put an assignments.csv "
            f"({', '.join(ASSIGNMENT_COLUMNS)}) beside it naming this file in the worksheet column",
        )
    return found
