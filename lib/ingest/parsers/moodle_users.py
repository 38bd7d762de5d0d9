"""Moodle user export (id, username, idnumber, email, firstname, lastname): Moodle user -> student id."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lib.ingest.base import ParseContext, ParsedFile
from lib.ingest.errors import IngestError
from lib.ingest.limits import MAX_INTEGER, name_columns
from lib.ingest.parsers.formats import aliases, header_key, read_export, unrecognised
from lib.ingest.readers import ROW, Validator, read_csv_frame, sniff_delimiter

COLUMNS = ["id", "username", "idnumber", "email", "firstname", "lastname"]
ALIASES = aliases(
    {
        "id": ["userid", "user id", "moodle_id"],
        "username": ["user name"],
        "idnumber": ["id number", "id_number"],
        "email": ["email address", "e-mail"],
        "firstname": ["first name", "first_name", "given name"],
        "lastname": ["last name", "surname", "last_name", "family name"],
    }
)


def parse(path: Path, ctx: ParseContext) -> ParsedFile:
    text, encoding = read_export(path, ctx)
    header = text.split("\n", 1)[0]
    names = {ALIASES.get(header_key(c), "") for c in header.split(sniff_delimiter(header))}
    if not {"id", "idnumber"} <= names:
        tried = [f"Moodle user export ({', '.join(COLUMNS)})"]
        raise unrecognised(ctx.file_name, "Moodle user", tried, text, encoding)
    frame = read_csv_frame(text, ctx.file_name, COLUMNS, aliases=ALIASES)
    check = Validator(frame, ctx.file_name)
    check.required("id")
    moodle_id = check.number("id", optional=False, minimum=1, maximum=MAX_INTEGER, whole=True)
    check.duplicates(["id"], "Moodle user id")
    known = ctx.student_ids()
    if not known:
        raise IngestError(ctx.file_name, "no students in the store: load the students file first")
    idnumber = check.text("idnumber")
    is_student = idnumber.isin(known)
    not_student = (idnumber != "") & ~is_student
    full_name = (check.text("firstname") + " " + check.text("lastname")).str.strip()
    out = pd.DataFrame(
        {
            "moodle_id": moodle_id.fillna(0).astype(int),
            "username": check.text("username").where(lambda s: s != "", None),
            "student_id": idnumber.where(is_student, None),
            "email": check.text("email").str.lower().where(lambda s: s != "", None),
            "full_name": full_name.where(full_name != "", None),
            ROW: frame[ROW].to_numpy(),
        }
    )
    name_columns(out, moodle_id="id", student_id="idnumber", full_name="firstname")
    notes = [
        f"{int(is_student.sum())} student account(s), {int((~is_student).sum())} other account(s)"
    ]
    if not_student.any():
        examples = ", ".join(idnumber[not_student].head(5))
        notes.append(
            f"{int(not_student.sum())} account(s) have an ID number that is no known student id "
            f"(staff numbers?): kept as non-student accounts ({examples})"
        )
    return ParsedFile(len(frame), {"moodle_users": out}, check.problems, notes)
