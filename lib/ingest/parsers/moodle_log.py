"""Moodle course Logs download: student-initiated events -> daily VLE activity per student and module."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from lib.ingest.base import ParseContext, ParsedFile
from lib.ingest.errors import IngestError
from lib.ingest.limits import name_columns
from lib.ingest.parsers.formats import (
    aliases,
    header_key,
    module_code_in,
    parse_datetimes,
    read_export,
    unrecognised,
)
from lib.ingest.readers import ROW, Validator, read_csv_frame, sniff_delimiter
from lib.sources import VLE

ALIASES = aliases(
    {
        "time": ["zeit", "date/time", "datum/uhrzeit", "heure"],
        "user": ["user full name", "full name", "vollständiger name", "nom complet"],
        "affected": ["affected user", "betroffene/r nutzer/in", "betroffener nutzer"],
        "context": [
            "event context",
            "kontext des ereignisses",
            "kontext",
            "contexte de l'événement",
        ],
        "component": ["komponente", "composant"],
        "event": ["event name", "ereignisname", "name des ereignisses", "nom de l'événement"],
        "description": ["beschreibung"],
        "origin": ["herkunft", "origine"],
        "ip": ["ip address", "ip-adresse", "adresse ip"],
        "idnumber": ["id number", "id-nummer", "matrikelnummer"],
        "email": ["email address", "e-mail-adresse", "e-mail", "adresse de courriel"],
        "username": ["anmeldename", "nom d'utilisateur"],
    }
)
TRIED = [
    "Moodle Logs download (Time, User full name, Affected user, Event context, Component, "
    "Event name, Description, Origin, IP address; any column order, English or German headers)"
]
# Events done TO a user, or administration rather than learning: never a student's own engagement.
NOT_LEARNING = re.compile(
    r"graded|grade (?:deleted|updated|overridden|created)|role (?:un)?assigned|enrol|"
    r"logged in as|logged (?:in|out)|user (?:created|deleted|updated)|group member|password|"
    r"bewertet|bewertung|rolle (?:zugewiesen|entfernt)|eingeschrieben|angemeldet|abgemeldet",
    re.I,
)
ACTOR_ID = re.compile(r"user with id '?(\d+)'?")
COURSE_CONTEXT = re.compile(r"^\s*(?:course|kurs|cours)\s*:\s*(.+)$", re.I)


def parse(path: Path, ctx: ParseContext) -> ParsedFile:
    text, encoding = read_export(path, ctx)
    header = text.split("\n", 1)[0]
    names = {ALIASES.get(header_key(c), "") for c in header.split(sniff_delimiter(header))}
    if not ({"time", "event"} <= names and names & {"user", "idnumber", "email", "username"}):
        raise unrecognised(ctx.file_name, "Moodle log", TRIED, text, encoding)
    frame = read_csv_frame(text, ctx.file_name, ["time", "event"], aliases=ALIASES)
    for column in ("user", "affected", "context", "description", "idnumber", "email", "username"):
        if column not in frame.columns:
            frame[column] = ""
    users = ctx.moodle_users()
    if users.empty:
        raise IngestError(
            ctx.file_name, "no Moodle users in the store: load the moodle-users export first"
        )
    check = Validator(frame, ctx.file_name)
    when = parse_datetimes(frame["time"], year=ctx.year, file_name=ctx.file_name, column="time")
    check.flag(when.isna(), "time", "is not a readable date-time")
    student, resolved = _students(frame, check, users, ctx)
    event = check.text("event")
    counted = resolved & student.notna() & ~event.str.contains(NOT_LEARNING) & ~check.bad
    module = _modules(frame, ctx)
    rows = pd.DataFrame(
        {
            "student_id": student,
            "day": when.dt.normalize(),
            "module_code": module,
            ROW: frame[ROW].to_numpy(),
        }
    )[counted.to_numpy()]
    out = (
        rows.groupby(["student_id", "day", "module_code"], sort=True)
        .agg(quantity=(ROW, "size"), _row=(ROW, "min"))
        .reset_index()
        .assign(source=VLE, minutes=np.nan)
    )
    out["quantity"] = out["quantity"].astype(float)
    name_columns(out, day="time", module_code="context")
    notes = _notes(frame, student, resolved, event, counted, check)
    columns = ["student_id", "source", "day", "module_code", "quantity", "minutes", ROW]
    return ParsedFile(len(frame), {"activity": out[columns]}, check.problems, notes)


def _students(
    frame: pd.DataFrame, check: Validator, users: pd.DataFrame, ctx: ParseContext
) -> tuple[pd.Series, pd.Series]:
    """Student id of each row's actor (None for staff) and whether the actor was identified at all."""
    index = frame.index
    student = pd.Series(None, index=index, dtype=object)
    resolved = pd.Series(False, index=index)

    def take(found: pd.Series, values: pd.Series) -> None:
        use = found & ~resolved
        student[use] = values[use]
        resolved[use] = True

    id_map = (
        users.drop_duplicates("moodle_id")
        .assign(key=lambda f: f["moodle_id"].astype(str))
        .set_index("key")["student_id"]
    )
    idnumber = check.text("idnumber")
    known = ctx.student_ids()
    take(idnumber.isin(known), idnumber)
    email = check.text("email").str.lower()
    by_email = (
        users.dropna(subset=["email"]).drop_duplicates("email").set_index("email")["student_id"]
    )
    take(email.isin(by_email.index), email.map(by_email))
    ctx_emails = ctx.student_emails() if (email != "").any() else {}
    take(email.isin(set(ctx_emails)), email.map(ctx_emails))
    username = check.text("username").str.lower()
    by_username = (
        users.dropna(subset=["username"])
        .assign(username=lambda f: f["username"].str.lower())
        .drop_duplicates("username")
        .set_index("username")["student_id"]
    )
    take(username.isin(by_username.index), username.map(by_username))
    actor = check.text("description").str.extract(ACTOR_ID.pattern)[0].fillna("")
    take(actor.isin(id_map.index), actor.map(id_map))
    name = check.text("user").str.lower().str.split().str.join(" ")
    names = users.dropna(subset=["full_name"]).assign(
        key=lambda f: f["full_name"].str.lower().str.split().str.join(" ")
    )
    counts = names["key"].value_counts()
    unique = names[names["key"].map(counts) == 1].set_index("key")["student_id"]
    take(name.isin(unique.index), name.map(unique))
    ambiguous = ~resolved & name.isin(counts[counts > 1].index)
    students_among = names[names["key"].isin(name[ambiguous])].groupby("key")["student_id"].count()
    check.flag(
        ambiguous & name.map(students_among).fillna(0).gt(0),
        "user",
        "matches more than one Moodle user by full name; add the ID number or email identity "
        "column to the log download",
    )
    return student.where(student.notna(), None), resolved


def _modules(frame: pd.DataFrame, ctx: ParseContext) -> pd.Series:
    """Module of each row: the course named in Event context, else the file's course."""
    context = frame["context"].astype(str)
    course_text = context.str.extract(COURSE_CONTEXT.pattern)[0]
    codes = course_text.map(lambda t: module_code_in(t) or str(t).split()[0], na_action="ignore")
    file_code = module_code_in(Path(ctx.file_name).stem) or ctx.extra.get("module_code")
    if not file_code:
        seen = codes.dropna().unique()
        file_code = seen[0] if len(seen) == 1 else ""
    return codes.astype(object).fillna(file_code).astype(str)


def _notes(
    frame: pd.DataFrame,
    student: pd.Series,
    resolved: pd.Series,
    event: pd.Series,
    counted: pd.Series,
    check: Validator,
) -> list[str]:
    notes = [f"{int(counted.sum())} student learning event(s) counted of {len(frame)} log row(s)"]
    staff = resolved & student.isna()
    if staff.any():
        notes.append(
            f"{int(staff.sum())} row(s) by staff or other non-student accounts not counted"
        )
    done_to = resolved & student.notna() & event.str.contains(NOT_LEARNING)
    if done_to.any():
        notes.append(
            f"{int(done_to.sum())} row(s) of administrative events (grading, enrolment, roles, "
            "log-in) not counted"
        )
    unknown = ~resolved & ~check.bad
    if unknown.any():
        names = ", ".join(repr(n) for n in frame.loc[unknown, "user"].astype(str).unique()[:5])
        notes.append(
            f"{int(unknown.sum())} row(s) by users not in the Moodle user mapping not counted "
            f"(e.g. {names})"
        )
    return notes
