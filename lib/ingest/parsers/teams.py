"""Microsoft Teams attendance reports -> online attendance (minutes per student) at the timetabled event."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lib.ingest.base import ParseContext, ParsedFile, module_expected, module_timetable
from lib.ingest.errors import RowProblem
from lib.ingest.limits import clip_raw, name_columns, quote
from lib.ingest.parsers.formats import (
    module_code_in,
    parse_datetimes,
    parse_minutes,
    read_export,
    unrecognised,
)
from lib.ingest.parsers.teams_report import Report, split_report
from lib.ingest.readers import ROW
from lib.sources import ONLINE

TRIED = [
    "Teams attendance report with sections '1. Summary', '2. Participants', '3. In-Meeting "
    "Activities' (UTF-16/UTF-8; tab, ',' or ';'; English or German headers)",
    "older Teams attendance list (Full Name, User Action, Timestamp with Joined/Left rows)",
]
MATCH_MINUTES = 60  # a report matches a timetabled event starting at most this far from its start
ORGANISER_ROLES = ("organizer", "organiser", "organisator", "organisateur", "presenter-organizer")


def parse(path: Path, ctx: ParseContext) -> ParsedFile:
    text, encoding = read_export(path, ctx)
    report = split_report(text)
    if report is None:
        raise unrecognised(ctx.file_name, "Teams attendance report", TRIED, text, encoding)
    texts = report.texts()
    parsed = parse_datetimes(pd.Series(texts, dtype=object), year=ctx.year, file_name=ctx.file_name)
    report.times = dict(zip(texts, parsed, strict=True))
    people, problems = _legacy(report, ctx) if report.legacy else _sectioned(report, ctx)
    if people.empty and not problems:
        return ParsedFile(0, {}, [], ["no participants in the report"])
    title = report.summary.get("title") or Path(ctx.file_name).stem
    start = _report_start(report, people, ctx)
    return _attendance(people, problems, title, start, ctx)


def _when(values: list[str], report: Report) -> pd.Series:
    return pd.Series([report.times.get(v, pd.NaT) for v in values], dtype="datetime64[ns]")


def _sectioned(report: Report, ctx: ParseContext) -> tuple[pd.DataFrame, list[RowProblem]]:
    """One row per person: identity, first join and total in-meeting seconds."""
    rows = report.participants or report.activities
    frame = pd.DataFrame(rows).fillna("")
    for column in ("name", "email", "upn", "role", "join", "leave", "duration"):
        if column not in frame.columns:
            frame[column] = ""
    frame["join_at"] = _when(frame["join"].tolist(), report)
    frame["leave_at"] = _when(frame["leave"].tolist(), report)
    seconds = (parse_minutes(frame["duration"]) * 60).round()
    span = (frame["leave_at"] - frame["join_at"]).dt.total_seconds()
    frame["seconds"] = seconds.fillna(span)
    if "_line" not in frame.columns:
        frame["_line"] = "0"
    frame["_line"] = pd.to_numeric(frame["_line"], errors="coerce").fillna(0).astype(int)
    unreadable = frame["join_at"].isna() & (frame["join"] != "")
    problems = [
        RowProblem(
            int(line),
            "First Join",
            f"participant {quote(name)}: unreadable join time {quote(raw)}",
            clip_raw(raw),
        )
        for name, raw, line in zip(
            frame.loc[unreadable, "name"],
            frame.loc[unreadable, "join"],
            frame.loc[unreadable, "_line"],
            strict=True,
        )
    ]
    if report.participants and report.activities:
        frame = _with_activity_totals(frame, report)
    frame["key"] = np.where(frame["email"] != "", frame["email"], frame["upn"]).astype(str)
    frame["key"] = frame["key"].str.lower()
    grouped = (
        frame.assign(key=np.where(frame["key"] != "", frame["key"], frame["name"].str.lower()))
        .groupby("key", sort=False)
        .agg(
            name=("name", "first"),
            email=("email", "first"),
            upn=("upn", "first"),
            role=("role", "first"),
            join_at=("join_at", "min"),
            seconds=("seconds", "sum"),
            _line=("_line", "min"),
        )
        .reset_index(drop=True)
    )
    return grouped, problems


def _with_activity_totals(frame: pd.DataFrame, report: Report) -> pd.DataFrame:
    """Participants whose duration is blank take the sum of their join/leave rows."""
    if frame["seconds"].notna().all():
        return frame
    act = pd.DataFrame(report.activities).fillna("")
    for column in ("email", "name", "duration", "join", "leave"):
        if column not in act.columns:
            act[column] = ""
    seconds = (parse_minutes(act["duration"]) * 60).round()
    span = (
        _when(act["leave"].tolist(), report) - _when(act["join"].tolist(), report)
    ).dt.total_seconds()
    act["seconds"] = seconds.fillna(span)
    act["key"] = np.where(act["email"] != "", act["email"].str.lower(), act["name"].str.lower())
    totals = act.groupby("key")["seconds"].sum()
    key = np.where(frame["email"] != "", frame["email"].str.lower(), frame["name"].str.lower())
    frame["seconds"] = frame["seconds"].fillna(pd.Series(key, index=frame.index).map(totals))
    return frame


def _legacy(report: Report, ctx: ParseContext) -> tuple[pd.DataFrame, list[RowProblem]]:
    """Full Name / User Action / Timestamp rows: pair each Joined with the next Left of that person."""
    frame = pd.DataFrame(report.legacy).fillna("")
    frame["at"] = _when(frame["timestamp"].tolist(), report)
    action = frame["action"].str.lower()
    joined = action.str.startswith(("join", "beigetreten", "rejoint")) | action.str.contains(
        "beitreten"
    )
    left = action.str.startswith(("left", "verlassen", "quitt")) | action.str.contains("verlass")
    lines = pd.to_numeric(frame.get("_line", frame["_n"]), errors="coerce").fillna(0).astype(int)
    frame["_line"] = lines
    problems = [
        RowProblem(
            int(n), "Timestamp", f"is not a readable date-time (value {quote(raw)})", clip_raw(raw)
        )
        for n, raw, bad in zip(lines, frame["timestamp"], frame["at"].isna(), strict=True)
        if bad
    ]
    problems += [
        RowProblem(
            int(n), "User Action", f"must be Joined or Left (value {quote(raw)})", clip_raw(raw)
        )
        for n, raw, ok in zip(lines, frame["action"], joined | left, strict=True)
        if not ok
    ]
    frame = frame[(joined | left) & frame["at"].notna()].assign(joined=joined)
    meeting_end = frame["at"].max()
    people = []
    for name, rows in frame.sort_values("at", kind="stable").groupby("name", sort=False):
        seconds, since, first = 0.0, None, None
        for at, is_join in zip(rows["at"], rows["joined"], strict=True):
            if is_join and since is None:
                since, first = at, first or at
            elif not is_join and since is not None:
                seconds += (at - since).total_seconds()
                since = None
        if since is not None:  # never left: counted to the last action in the report
            seconds += (meeting_end - since).total_seconds()
        if first is not None:
            people.append({"name": name, "email": "", "upn": "", "role": "", "join_at": first,
                           "seconds": seconds, "_line": int(rows["_line"].min())})  # fmt: skip
    columns = ["name", "email", "upn", "role", "join_at", "seconds", "_line"]
    return pd.DataFrame(people, columns=columns), problems


def _report_start(report: Report, people: pd.DataFrame, ctx: ParseContext) -> pd.Timestamp:
    start = report.summary.get("start")
    if start:
        parsed = _when([start], report).iloc[0]
        if pd.notna(parsed):
            return parsed
    return people["join_at"].min()


def _match_event(title: str, start: pd.Timestamp, ctx: ParseContext) -> tuple[str | None, str]:
    """The timetabled online event of the title's module nearest the report's start, and the module."""
    module = module_code_in(title) or module_code_in(Path(ctx.file_name).stem) or ""
    if pd.isna(start):
        return None, module
    pool = module_timetable(ctx, module) if module else ctx.timetable_events()
    online = pool[pool["online"].astype(bool)]
    pool = online if not online.empty else pool
    if pool.empty:
        return None, module
    gap = (pd.to_datetime(pool["start_at"]) - start).abs()
    titles = pool["title"].fillna("").astype(str).str.lower()
    same_title = titles.map(lambda t: bool(t) and _title_overlap(t, title.lower()))
    score = gap.dt.total_seconds() - same_title.astype(float) * 60
    best = score.idxmin()
    if gap[best] > pd.Timedelta(minutes=MATCH_MINUTES):
        return None, module
    return str(pool.loc[best, "event_id"]), str(pool.loc[best, "module_code"] or module)


def _title_overlap(a: str, b: str) -> bool:
    words_a = {w for w in a.replace(":", " ").replace("-", " ").split() if len(w) > 3}
    words_b = {w for w in b.replace(":", " ").replace("-", " ").split() if len(w) > 3}
    return len(words_a & words_b) >= 2


def _student_of(people: pd.DataFrame, module: str, ctx: ParseContext) -> pd.Series:
    """Student id per person: by email/UPN, else by a full name unique among the module's students."""
    emails = ctx.student_emails()
    by_email = people["email"].str.lower().map(emails)
    by_upn = people["upn"].str.lower().map(emails)
    student = by_email.fillna(by_upn)
    todo = student.isna() & (people["email"] == "") & (people["upn"] == "")
    if todo.any():
        names = ctx.student_names()
        if module:
            enrolled = ctx.enrolments()
            ids = set(enrolled.loc[enrolled["module_code"].astype(str) == module, "student_id"])
            names = names[names["student_id"].isin(ids)] if ids else names
        key = names["full_name"].str.lower().str.split().str.join(" ")
        counts = key.value_counts()
        unique = pd.Series(names["student_id"].to_numpy(), index=key.to_numpy())
        unique = unique[key.map(counts).to_numpy() == 1]
        name = people["name"].str.lower().str.split().str.join(" ")
        student = student.where(~todo, name.map(unique))
    return student


def _attendance(
    people: pd.DataFrame,
    problems: list[RowProblem],
    title: str,
    start: pd.Timestamp,
    ctx: ParseContext,
) -> ParsedFile:
    event_id, module = _match_event(title, start, ctx)
    role = people["role"].str.lower()
    student = _student_of(people, module, ctx)
    organiser = role.isin(ORGANISER_ROLES)
    counted = student.notna() & ~organiser & people["join_at"].notna()
    rows = people[counted]
    minutes = ((rows["seconds"].fillna(0).round() + 30) // 60).astype(float)
    notes = [f"{int(counted.sum())} student(s) of {len(people)} participant(s) counted"]
    others = people[~counted]
    if len(others):
        examples = ", ".join(others["name"].astype(str).head(5))
        notes.append(
            f"{len(others)} participant(s) not counted: organisers, staff and guests without a "
            f"student email or unique student name ({examples})"
        )
    if event_id is None:
        notes.append(
            f"no timetabled online event of module {module or '?'} near {start}: stored as online "
            "activity without an event"
        )
        out = pd.DataFrame(
            {
                "student_id": student[counted].to_numpy(),
                "source": ONLINE,
                "day": rows["join_at"].dt.normalize().to_numpy(),
                "module_code": module,
                "quantity": 1.0,
                "minutes": minutes.to_numpy(),
                ROW: rows["_line"].to_numpy(),
            }
        )
        name_columns(out, day="First Join", minutes="In-Meeting Duration")
        return ParsedFile(len(people), {"activity": out}, problems, notes)
    expected = module_expected(ctx, module) if module else ctx.expected_students()
    expected_ids = set(expected.loc[expected["event_id"].astype(str) == event_id, "student_id"])
    ids = student[counted].astype(str)
    is_expected = ids.isin(expected_ids).to_numpy()
    notes.insert(0, f"matched to timetabled event {event_id} ({module})")
    if (~is_expected).any():
        notes.append(
            f"{int((~is_expected).sum())} attendee(s) not expected at {event_id}: kept as "
            f"unexpected ({', '.join(ids[~is_expected].head(5))})"
        )
    out = pd.DataFrame(
        {
            "student_id": ids.to_numpy(),
            "event_id": event_id,
            "source": ONLINE,
            "first_seen": rows["join_at"].to_numpy(),
            "minutes": minutes.to_numpy(),
            "expected": is_expected,
            ROW: rows["_line"].to_numpy(),
        }
    )
    name_columns(out, first_seen="First Join", minutes="In-Meeting Duration")
    return ParsedFile(len(people), {"attendance": out}, problems, notes)
