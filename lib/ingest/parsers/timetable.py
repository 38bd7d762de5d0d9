"""Timetable: Jisc UDD-like events (EVENT_ID, EVENT_START, ...) or a student_event list, told apart by header."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lib.ingest.base import ParseContext, ParsedFile
from lib.ingest.parsers.formats import (
    aliases,
    header_key,
    module_code_in,
    parse_datetimes,
    read_export,
    unrecognised,
)
from lib.ingest.readers import ROW, Validator, read_csv_frame, sniff_delimiter

EVENT_ALIASES = aliases(
    {
        "event_id": ["eventid", "event id", "id", "activity_id"],
        "event_type": ["type", "activity_type", "session_type"],
        "start_at": ["event_start", "start", "start_time", "starts", "start_date_time"],
        "end_at": ["event_end", "end", "end_time", "ends", "end_date_time"],
        "module_code": ["mod_instance_id", "module", "module_id", "course_code"],
        "location": ["room", "venue", "room_name"],
        "title": ["event_title", "name", "description", "summary"],
        "student_id": ["studentid", "student id", "student_number", "student"],
    }
)
EVENT_COLUMNS = ["event_id", "event_type", "start_at", "end_at", "module_code"]
TYPE_WORDS = {
    "lecture": "lecture",
    "lec": "lecture",
    "seminar": "seminar",
    "sem": "seminar",
    "lab": "lab",
    "laboratory": "lab",
    "practical": "lab",
    "tutorial": "tutorial",
    "tut": "tutorial",
    "workshop": "workshop",
}
ONLINE_ROOMS = ("teams", "online", "microsoft teams", "ms teams", "zoom", "virtual")
TRIED = [
    "Jisc UDD event (EVENT_ID, EVENT_TYPE, EVENT_START, EVENT_END, MOD_INSTANCE_ID, ROOM, TITLE)",
    "student_event (EVENT_ID, STUDENT_ID)",
]


def parse(path: Path, ctx: ParseContext) -> ParsedFile:
    text, encoding = read_export(path, ctx)
    header = text.split("\n", 1)[0]
    names = {
        EVENT_ALIASES.get(header_key(c), header_key(c))
        for c in header.split(sniff_delimiter(header))
    }
    if {"event_id", "start_at"} <= names:
        return _events(text, ctx)
    if {"event_id", "student_id"} <= names:
        return _student_events(text, ctx)
    raise unrecognised(ctx.file_name, "timetable", TRIED, text, encoding)


def _module_codes(raw: pd.Series, ctx: ParseContext) -> pd.Series:
    """MOD_INSTANCE_ID may carry a suffix (COMP1001-2024-S1): use the module code it starts with."""
    known = set(ctx.enrolments()["module_code"].astype(str))
    prefix = raw.str.split(r"[-_/ ]", n=1, regex=True).str[0]
    if known:
        return raw.where(raw.isin(known) | ~prefix.isin(known), prefix)
    code = raw.map(lambda r: module_code_in(r) or r)
    return code.where(code.str.len() > 0, raw)


def _events(text: str, ctx: ParseContext) -> ParsedFile:
    frame = read_csv_frame(text, ctx.file_name, EVENT_COLUMNS, aliases=EVENT_ALIASES)
    for optional in ("location", "title"):
        if optional not in frame.columns:
            frame[optional] = ""
    check = Validator(frame, ctx.file_name)
    check.required("event_id", "module_code", "event_type")
    check.duplicates(["event_id"], "event id")
    start = parse_datetimes(
        frame["start_at"], year=ctx.year, file_name=ctx.file_name, column="start_at"
    )
    end = parse_datetimes(frame["end_at"], year=ctx.year, file_name=ctx.file_name, column="end_at")
    check.flag(start.isna(), "start_at", "is not a readable date-time")
    check.flag(end.isna(), "end_at", "is not a readable date-time")
    check.flag((end <= start).fillna(False), "end_at", "is not after the start")
    raw_type = check.text("event_type").str.lower()
    event_type = raw_type.map(TYPE_WORDS).fillna(raw_type.str.slice(0, 20))
    location = check.text("location")
    online = location.str.lower().str.startswith(ONLINE_ROOMS)
    stored = ctx.timetable_events()
    already_explicit = set(stored.loc[stored["explicit_list"].astype(bool), "event_id"])
    event_id = check.text("event_id")
    out = pd.DataFrame(
        {
            "event_id": event_id,
            "module_code": _module_codes(check.text("module_code"), ctx),
            "event_type": event_type,
            "title": check.text("title").where(lambda s: s != "", None),
            "start_at": start,
            "end_at": end,
            "location": location.where(location != "", None),
            "online": online.astype(bool),
            "explicit_list": event_id.isin(already_explicit).astype(bool),
            ROW: frame[ROW].to_numpy(),
        }
    )
    return ParsedFile(len(frame), {"timetable_events": out}, check.problems)


def _student_events(text: str, ctx: ParseContext) -> ParsedFile:
    frame = read_csv_frame(text, ctx.file_name, ["event_id", "student_id"], aliases=EVENT_ALIASES)
    check = Validator(frame, ctx.file_name)
    check.required("event_id", "student_id")
    check.duplicates(["event_id", "student_id"], "event and student")
    event_id = check.text("event_id")
    known = set(ctx.timetable_events()["event_id"].astype(str))
    check.flag(
        (event_id != "") & ~event_id.isin(known),
        "event_id",
        "names no timetabled event (load the timetable events file first)",
    )
    out = pd.DataFrame(
        {"event_id": event_id, "student_id": check.text("student_id"), ROW: frame[ROW].to_numpy()}
    )
    notes = [f"explicit student lists for {out['event_id'].nunique()} event(s)"]
    return ParsedFile(len(frame), {"event_expected": out}, check.problems, notes)
