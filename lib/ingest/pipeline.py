"""The one load pipeline: hash, parse, validate, check students, write all-or-nothing with provenance."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from lib.compute.totals import fold_after_load
from lib.ingest import limits, store
from lib.ingest.base import ParseContext, ParsedFile
from lib.ingest.errors import IngestError, RowProblem
from lib.ingest.lock import mark_pending, store_lock
from lib.ingest.parsers import parser_for
from lib.ingest.readers import ROW, scan_file
from lib.ingest.totals import LoadWeeks
from lib.store import lookups
from lib.store.models import Load, QuarantinedRow, Student

LOADED_STATES = ("loaded", "loaded_with_quarantine")
# Sources whose file name carries meaning (a worksheet's assignment, a legacy Teams list's meeting):
# two files with the same bytes but different names are different files.
NAME_MATTERS = ("submissions", "teams")


@dataclass
class LoadReport:
    """What happened to one file."""

    source: str
    file: str
    status: str  # loaded | loaded_with_quarantine | unchanged | rejected | preview
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    students: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    message: str = ""
    load_id: int | None = None

    def as_json(self) -> dict:
        return {
            "source": self.source,
            "file": self.file,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected,
            "students": self.students,
            "status": self.status,
        }

    def as_text(self) -> str:
        head = (
            f"{self.file} [{self.source}]: {self.status} — read {self.rows_read}, "
            f"loaded {self.rows_loaded}, rejected {self.rows_rejected}, students {self.students}"
        )
        lines = [head]
        if self.message:
            lines.append("  " + self.message)
        lines += ["  " + p.describe(self.file) for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"  ... and {len(self.problems) - 20} more problems")
        lines += ["  note: " + n for n in self.notes]
        return "\n".join(lines)


def content_hash(path: Path, file_name: str | None = None) -> str:
    """SHA-256 of a file, read once in blocks; raises IngestError when a line is over the cap."""
    digest = hashlib.sha256()
    scan_file(path, file_name or Path(path).name, digest)
    return digest.hexdigest()


def make_context(session: Session, file_name: str, year: int | None) -> ParseContext:
    """A parse context whose lookups read the store on first use."""
    cache: dict[str, object] = {}

    def once(name: str, build):
        def get():
            if name not in cache:
                cache[name] = build()
            return cache[name]

        return get

    return ParseContext(
        file_name=file_name,
        year=year,
        student_ids=once("ids", lambda: lookups.student_ids(session)),
        sponsored_ids=once("sponsored", lambda: lookups.sponsored_ids(session)),
        student_emails=once("emails", lambda: lookups.student_emails(session)),
        student_names=once("names", lambda: lookups.student_names_frame(session)),
        moodle_users=once("moodle_users", lambda: lookups.moodle_users_frame(session)),
        timetable_events=once("events", lambda: lookups.timetable_frame(session)),
        expected_students=once("expected", lambda: lookups.expected_students_frame(session)),
        enrolments=once("enrolments", lambda: lookups.enrolments_frame(session)),
        explicit_students=once("explicit", lambda: lookups.explicit_frame(session)),
        module_timetable=lambda code: lookups.timetable_frame(session, code),
        module_expected=lambda code: lookups.expected_students_frame(session, code),
    )


def _parse(
    session: Session, source: str, path: Path, year: int | None, extra: dict | None = None
) -> ParsedFile:
    ctx = make_context(session, path.name, year)
    ctx.extra.update(extra or {})
    try:
        parsed = parser_for(source)(path, ctx)
    except (IngestError, LookupError):
        raise
    except Exception as exc:  # a parser bug or a shape we never met: a message, never a traceback
        raise IngestError(
            path.name,
            f"could not be read ({type(exc).__name__}: {limits.quote(exc, 200)}); nothing was "
            "loaded — check that the file is the export named by the source",
        ) from exc
    if source != "students":
        _check_students(parsed, ctx.student_ids())
    _check_limits(session, parsed)
    return parsed


def _check_limits(session: Session, parsed: ParsedFile) -> None:
    """Every value against its column and the plausible window (lib.ingest.limits): row problems."""
    window = limits.store_window(session)
    seen = {(p.row, p.column) for p in parsed.problems}
    for name, frame in parsed.frames.items():
        found = limits.check_frame(name, frame, window)
        # a value the parser refused already (and filled in) is not reported twice
        parsed.problems += [p for p in found if (p.row, p.column) not in seen]
    if len(_bad_rows(parsed)) > limits.MAX_PROBLEMS:
        parsed.problems.append(
            RowProblem(
                0, None, f"more than {limits.MAX_PROBLEMS:,} bad rows: the file is refused whole"
            )
        )


def _check_students(parsed: ParsedFile, known: set[str]) -> None:
    """Rows naming a student the store does not hold are problems: ids are never invented."""
    for frame in parsed.frames.values():
        if "student_id" not in frame.columns or frame.empty:
            continue
        # rows without a student id (e.g. Moodle staff accounts) name nobody: not unknown students
        unknown = ~frame["student_id"].isin(known) & frame["student_id"].notna()
        if not unknown.any():
            continue
        rows = frame[ROW].to_numpy()[unknown.to_numpy()] if ROW in frame.columns else None
        ids = frame["student_id"].to_numpy()[unknown.to_numpy()]
        for i, student_id in enumerate(ids[: limits.MAX_PROBLEMS + 1]):
            row = int(rows[i]) if rows is not None else 0
            parsed.problems.append(
                RowProblem(
                    row,
                    "student_id",
                    f"unknown student id {limits.quote(student_id)} (not in the student records; "
                    "load the students file first — ids are never invented)",
                    limits.clip_raw(str(student_id)),
                )
            )


def _row_students(parsed: ParsedFile) -> dict[int, str]:
    """Row number -> the student id it names (ids that fit the column), for the quarantine."""
    out: dict[int, str] = {}
    for frame in parsed.frames.values():
        if ROW in frame.columns and "student_id" in frame.columns and not frame.empty:
            ids = frame["student_id"]
            fits = ids.notna() & (ids.astype(str).str.len() <= 20) & (frame[ROW] > 0)
            out.update(zip(frame.loc[fits, ROW].astype(int), ids[fits].astype(str), strict=True))
    return out


def _bad_rows(parsed: ParsedFile) -> set[int]:
    return {p.row for p in parsed.problems if p.row}


def _drop_bad_rows(parsed: ParsedFile, bad: set[int]) -> None:
    for name, frame in parsed.frames.items():
        if ROW in frame.columns and bad:
            parsed.frames[name] = frame[~frame[ROW].isin(bad)]


def _students_in(parsed: ParsedFile) -> int:
    ids: set[str] = set()
    for frame in parsed.frames.values():
        if "student_id" in frame.columns:
            ids.update(frame["student_id"].dropna().unique().tolist())
    return len(ids)


def _date_span(parsed: ParsedFile) -> tuple:
    days = []
    for frame in parsed.frames.values():
        for column in ("day", "first_seen", "submitted_at", "start_at", "start", "end"):
            if column in frame.columns and not frame.empty:
                values = pd.to_datetime(pd.Series(frame[column]), errors="coerce").dropna()
                if not values.empty:
                    days += [values.min().date(), values.max().date()]
    return (min(days), max(days)) if days else (None, None)


def preview_file(
    session: Session, source: str, path: Path, year: int | None = None, extra: dict | None = None
) -> LoadReport:
    """Parse and validate a file against the store without storing anything."""
    path = Path(path)
    try:
        scan_file(path, path.name)
        parsed = _parse(session, source, path, year, extra)
    except IngestError as exc:
        return LoadReport(source, path.name, "rejected", message=exc.message, problems=exc.problems)
    bad = _bad_rows(parsed)
    return LoadReport(
        source,
        path.name,
        "preview",
        rows_read=parsed.rows_read,
        rows_loaded=parsed.rows_read - len(bad),
        rows_rejected=len(bad),
        students=_students_in(parsed),
        problems=parsed.problems,
        notes=parsed.notes,
    )


def load_file(
    session: Session,
    source: str,
    path: Path,
    *,
    year: int | None = None,
    loaded_by: str = "cli",
    quarantine: bool = False,
    extra: dict | None = None,
) -> LoadReport:
    """Load one file all-or-nothing. Returns a report; a rejected file leaves the store unchanged.

    extra: per-file facts for the parser, e.g. a grading worksheet's due_at, assignment_id and
    module_code when no assignments.csv lies beside it."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        return LoadReport(source, name, "rejected", message="no such file")
    try:
        digest = content_hash(path, name)
    except IngestError as exc:
        return LoadReport(source, name, "rejected", message=exc.message)
    if source in NAME_MATTERS:
        digest = hashlib.sha256(f"{digest}:{name}".encode()).hexdigest()
    if extra:  # the same bytes with other per-file facts (a due date) are another load
        digest = hashlib.sha256(f"{digest}:{sorted(extra.items())}".encode()).hexdigest()
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        session.rollback()  # a SQLite read snapshot taken before the lock would miss a twin load
    with store_lock(session):
        return _load_locked(session, source, path, name, digest, year, loaded_by, quarantine, extra)


def _load_locked(
    session: Session,
    source: str,
    path: Path,
    name: str,
    digest: str,
    year: int | None,
    loaded_by: str,
    quarantine: bool,
    extra: dict | None,
) -> LoadReport:
    """load_file once it holds the store's writer lock: the same file loading twice at once is
    recorded once (the second sees the first's load), and the load marks a compute as pending."""
    previous = session.scalar(
        select(Load.id)
        .where(Load.source == source, Load.content_hash == digest, Load.status.in_(LOADED_STATES))
        .limit(1)
    )
    if previous is not None:
        return LoadReport(
            source,
            name,
            "unchanged",
            message=f"this exact file was already loaded (load #{previous}); nothing changed",
            load_id=previous,
        )
    try:
        parsed = _parse(session, source, path, year, extra)
    except IngestError as exc:
        session.rollback()
        return LoadReport(source, name, "rejected", message=exc.message, problems=exc.problems)

    bad = _bad_rows(parsed)
    file_level = [p for p in parsed.problems if not p.row]
    if parsed.problems and (not quarantine or file_level):
        return LoadReport(
            source,
            name,
            "rejected",
            rows_read=parsed.rows_read,
            rows_rejected=len(bad),
            problems=parsed.problems,
            notes=parsed.notes,
            message=(
                f"{len(bad)} bad row(s); nothing was loaded. Fix the file, or load it with "
                "quarantine to keep the bad rows aside."
                if bad
                else "nothing was loaded"
            ),
        )
    student_of = _row_students(parsed) if bad else {}
    _drop_bad_rows(parsed, bad)
    first, last = _date_span(parsed)
    load = Load(
        source=source,
        file_name=name[:500],
        content_hash=digest,
        loaded_at=datetime.now().replace(microsecond=0),
        loaded_by=loaded_by[:100],
        rows_read=parsed.rows_read,
        rows_loaded=parsed.rows_read - len(bad),
        rows_rejected=len(bad),
        students=_students_in(parsed),
        status="loaded_with_quarantine" if bad else "loaded",
        first_date=first,
        last_date=last,
        message="\n".join(parsed.notes)[:4000] or None,
    )
    try:
        session.add(load)
        session.flush()
        if parsed.problems:
            session.execute(
                insert(QuarantinedRow),
                [
                    {
                        "load_id": load.id,
                        "row_number": p.row,
                        "column": (p.column or "")[:100] or None,
                        "problem": p.problem,
                        "raw": limits.clip_raw(p.raw),
                        "student_id": student_of.get(p.row),
                    }
                    for p in parsed.problems
                ],
            )
        weeks = LoadWeeks()
        store.write_parsed(session, parsed.frames, load.id, weeks)
        mark_pending(session, load.id)
        load_id = load.id
        session.commit()
    except SQLAlchemyError as exc:  # the checks above should make this unreachable
        session.rollback()
        first = (str(getattr(exc, "orig", None) or exc).splitlines() or [""])[0]
        return LoadReport(
            source,
            name,
            "rejected",
            rows_read=parsed.rows_read,
            message=f"the store refused the file ({limits.quote(first, 200)}); nothing was loaded",
        )
    except Exception:
        session.rollback()
        raise
    # compute's weekly activity totals (lib.compute.totals), those of the load's new weeks summed
    # from its own rows after the commit (the write lock is not held meanwhile)
    fold_after_load(session, weeks.totals(load_id))
    return LoadReport(
        source,
        name,
        load.status,
        rows_read=load.rows_read,
        rows_loaded=load.rows_loaded,
        rows_rejected=load.rows_rejected,
        students=load.students,
        problems=parsed.problems,
        notes=parsed.notes,
        load_id=load.id,
    )


def load_files(
    session: Session,
    source: str,
    paths: list[Path],
    *,
    year: int | None = None,
    loaded_by: str = "cli",
    quarantine: bool = False,
    extra: dict | None = None,
) -> list[LoadReport]:
    """Load several files of one source, each all-or-nothing on its own."""
    return [
        load_file(
            session,
            source,
            Path(p),
            year=year,
            loaded_by=loaded_by,
            quarantine=quarantine,
            extra=extra,
        )
        for p in paths
    ]


def store_is_empty(session: Session) -> bool:
    return (session.scalar(select(func.count()).select_from(Student)) or 0) == 0
