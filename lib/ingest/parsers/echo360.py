"""Echo360 viewing export (per student and media: views, view time, last viewed) -> lecture capture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lib.ingest.base import ParseContext, ParsedFile
from lib.ingest.limits import name_columns
from lib.ingest.parsers.formats import (
    aliases,
    header_key,
    module_code_in,
    parse_datetimes,
    parse_minutes,
    read_export,
    unrecognised,
)
from lib.ingest.readers import ROW, Validator, read_csv_frame, sniff_delimiter
from lib.sources import LECTURE_CAPTURE

ALIASES = aliases(
    {
        "email": ["student email", "user email", "email", "email address", "student e-mail"],
        "student_id": ["student id", "user id number", "student number"],
        "name": ["student name", "user name", "full name"],
        "course": ["course", "course code", "course name", "section course"],
        "section": ["section", "term"],
        "media": ["media name", "media", "presentation", "lecture", "title"],
        "views": ["total views", "views", "view count", "number of views"],
        "view_time": ["total view time", "view time", "total viewing time", "minutes viewed"],
        "last_viewed": ["last viewed", "last view", "last view date", "last viewed date"],
    }
)
TRIED = [
    "Echo360 student viewing export (Course, Media Name, Student Email, Total Views, "
    "Total View Time, Last Viewed; any order, ',' ';' or tab)"
]
REQUIRED = ["views", "view_time", "last_viewed"]


def parse(path: Path, ctx: ParseContext) -> ParsedFile:
    text, encoding = read_export(path, ctx)
    header = text.split("\n", 1)[0]
    names = {ALIASES.get(header_key(c), "") for c in header.split(sniff_delimiter(header))}
    if not (set(REQUIRED) <= names and names & {"email", "student_id"}):
        raise unrecognised(ctx.file_name, "Echo360 viewing", TRIED, text, encoding)
    frame = read_csv_frame(text, ctx.file_name, REQUIRED, aliases=ALIASES)
    for column in ("email", "student_id", "course", "media"):
        if column not in frame.columns:
            frame[column] = ""
    check = Validator(frame, ctx.file_name)
    views = check.number("views", optional=False)
    minutes = parse_minutes(frame["view_time"], bare_unit="m")
    check.flag(minutes.isna(), "view_time", "is not a duration (HH:MM:SS, 1h 2m 3s or minutes)")
    when = parse_datetimes(
        frame["last_viewed"], year=ctx.year, file_name=ctx.file_name, column="last_viewed"
    )
    check.flag(when.isna(), "last_viewed", "is not a readable date-time")
    student = check.text("student_id").where(lambda s: s != "", None)
    email = check.text("email").str.lower()
    student = student.fillna(email.map(ctx.student_emails()))
    unknown = student.isna()
    check.flag(
        unknown.to_numpy() & (email != "").to_numpy(),
        "email",
        "matches no student's university or personal email",
    )
    check.flag(unknown.to_numpy() & (email == "").to_numpy(), "email", "is empty")
    course = check.text("course")
    module = course.map(lambda c: module_code_in(c) or c)
    module = module.where(module != "", check.text("media").map(lambda m: module_code_in(m) or ""))
    seconds = (minutes * 60).round()
    out = pd.DataFrame(
        {
            "student_id": student,
            "source": LECTURE_CAPTURE,
            "day": when.dt.normalize(),
            "module_code": module,
            "quantity": views,
            "minutes": ((seconds + 30) // 60).astype(float),
            ROW: frame[ROW].to_numpy(),
        }
    )
    name_columns(
        out, day="last_viewed", quantity="views", minutes="view_time", module_code="course"
    )
    zero = (views == 0).to_numpy()
    notes = [
        f"{int((~check.bad).sum())} viewing row(s) of {out['student_id'].nunique()} student(s)"
    ]
    if zero.any():
        notes.append(f"{int(zero.sum())} row(s) with no views")
    out = out[~(np.asarray(check.bad) & unknown.to_numpy())]
    return ParsedFile(len(frame), {"activity": out}, check.problems, notes)
