"""Submissions: the canonical CSV or Moodle's assignment grading worksheet, told apart by header."""

from __future__ import annotations

from pathlib import Path

from lib.ingest.base import ParseContext, ParsedFile
from lib.ingest.errors import IngestError
from lib.ingest.parsers.canonical import parse_submissions_canonical
from lib.ingest.readers import first_line, read_csv_frame, read_text

CANONICAL = ["student_id", "assignment_id", "module_code", "due_at", "submitted_at"]


def parse(path: Path, ctx: ParseContext) -> ParsedFile:
    text, encoding = read_text(path, ctx.file_name)
    header = first_line(text).lower()
    if "student_id" in header and "assignment_id" in header:
        return parse_submissions_canonical(read_csv_frame(text, ctx.file_name, CANONICAL), ctx)
    raise IngestError(
        ctx.file_name,
        "is not a recognised submissions file; tried: canonical submissions CSV "
        f"({', '.join(CANONICAL)}); first line: {first_line(text)!r}; encoding: {encoding}",
    )
