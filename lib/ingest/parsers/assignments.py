"""The small assignments file that gives grading worksheets their assignment id, module and due date."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lib.ingest.base import ParseContext
from lib.ingest.errors import IngestError
from lib.ingest.parsers.formats import module_code_in, parse_datetimes
from lib.ingest.readers import normalise_newlines, read_text

ASSIGNMENT_COLUMNS = ["assignment_id", "module_code", "due_at", "worksheet"]
SIDE_FILES = ("assignments.csv", "assignments.CSV")


@dataclass(frozen=True)
class Assignment:
    """One assignment due: id, module, due date-time, and how the worksheet was matched to it."""

    assignment_id: str
    module_code: str
    due_at: pd.Timestamp
    found_by: str


def _from_extra(path: Path, ctx: ParseContext) -> Assignment | None:
    """A due date given for this file by the caller (ctx.extra due_at, assignment_id, module_code)."""
    due = ctx.extra.get("due_at")
    if not due:
        return None
    when = parse_datetimes(pd.Series([str(due)]), year=ctx.year).iloc[0]
    if pd.isna(when):
        raise IngestError(ctx.file_name, f"the given due date {due!r} is not a readable date-time")
    module = ctx.extra.get("module_code") or module_code_in(path.stem) or ""
    assignment_id = ctx.extra.get("assignment_id") or path.stem
    return Assignment(str(assignment_id), str(module), when, "due date given for the file")


def _table(side: Path, ctx: ParseContext) -> pd.DataFrame:
    text, _ = read_text(side, side.name)
    table = pd.read_csv(
        io.StringIO(normalise_newlines(text).lstrip("\ufeff")), dtype=str, keep_default_na=False
    )
    table.columns = [str(c).strip().lower().replace(" ", "_") for c in table.columns]
    missing = [c for c in ("assignment_id", "due_at") if c not in table.columns]
    if missing:
        raise IngestError(
            ctx.file_name,
            f"{side.name} beside the worksheet lacks column(s) {', '.join(missing)}; expected "
            f"{', '.join(ASSIGNMENT_COLUMNS)}",
        )
    for column in ("module_code", "worksheet", "moodle_cmid", "assignment_name"):
        if column not in table.columns:
            table[column] = ""
    return table


def find_assignment(path: Path, ctx: ParseContext) -> Assignment | None:
    """The worksheet's assignment: given for the file, else its row in assignments.csv beside it
    (by worksheet file name, then by the Moodle course-module id at the end of the file name)."""
    given = _from_extra(path, ctx)
    if given is not None:
        return given
    side = next((path.parent / n for n in SIDE_FILES if (path.parent / n).is_file()), None)
    if side is None:
        return None
    table = _table(side, ctx)
    name = ctx.file_name
    row = table[table["worksheet"].str.strip() == name]
    how = f"{side.name}, by file name"
    if row.empty:
        cmid = re.search(r"-(\d+)$", Path(name).stem)
        if cmid:
            row = table[table["moodle_cmid"].str.strip() == cmid.group(1)]
            how = f"{side.name}, by Moodle course module id {cmid.group(1)}"
    if row.empty:
        return None
    first = row.iloc[0]
    due = parse_datetimes(pd.Series([first["due_at"]]), year=ctx.year).iloc[0]
    if pd.isna(due):
        raise IngestError(
            ctx.file_name,
            f"{side.name}: due_at {first['due_at']!r} of {first['assignment_id']} is not a "
            "readable date-time",
        )
    module = first["module_code"].strip() or module_code_in(name) or ""
    return Assignment(first["assignment_id"].strip(), module, due, how)
