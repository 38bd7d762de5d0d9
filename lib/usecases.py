"""Actions spanning wings, used by the CLI, the pages and the sample loader: load then recompute,
the sample folder, exemptions and calendar periods, an uploaded file's first lines."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.access import NotAllowed, User, can_view_student, require
from lib.auth import add_user, create_demo_users, set_active
from lib.cases.sample import close_sample_cases
from lib.compute.service import (
    ComputeSummary,
    compute,
    load_engine_config,
    save_engine_config,
)
from lib.ingest.errors import IngestError
from lib.ingest.pipeline import LoadReport, load_files, preview_file, store_is_empty
from lib.ingest.readers import decode_bytes, normalise_newlines
from lib.store.models import CalendarPeriod, Exemption

# --- load then recompute ---------------------------------------------------------------------------


@dataclass
class LoadOutcome:
    """What loading some files did: one report per file, and the compute summary (None when the
    compute was skipped or nothing loaded)."""

    reports: list[LoadReport]
    summary: ComputeSummary | None = None

    @property
    def failed(self) -> bool:
        return any(r.status == "rejected" for r in self.reports)


def load_and_recompute(
    session: Session,
    files: Sequence[tuple[str, Path]],
    *,
    year: int | None = None,
    loaded_by: str = "cli",
    quarantine: bool = False,
    extra: dict | None = None,
    recompute: bool = True,
    full: bool = False,
    stop_on_reject: bool = False,
) -> LoadOutcome:
    """Load (source, file) pairs in order, each all-or-nothing, then bring flags up to date when
    anything loaded. With stop_on_reject the first rejected file ends the loading, uncomputed."""
    outcome = LoadOutcome([])
    for source, path in files:
        outcome.reports += load_files(
            session,
            source,
            [Path(path)],
            year=year,
            loaded_by=loaded_by,
            quarantine=quarantine,
            extra=extra,
        )
        if stop_on_reject and outcome.failed:
            return outcome
    if recompute and any(r.status != "rejected" for r in outcome.reports):
        outcome.summary = compute(session, full=full)
    return outcome


# Order matters: students before anything naming them; the timetable before attendance.
CANONICAL_ORDER = [
    ("students", "students.csv"),
    ("enrolments", "enrolments.csv"),
    ("calendar", "calendar.csv"),
    ("exemptions", "exemptions.csv"),
    ("timetable", "timetable/events.csv"),
    ("timetable", "timetable/student_event.csv"),
    ("events", "events.csv"),
    ("submissions", "submissions.csv"),
    ("contacts", "contacts.csv"),  # mail wing: sample welfare cases (lib.cases.sample)
]


def load_sample_folder(session: Session, folder: Path, *, force: bool = False) -> str:
    """Load the canonical files of a demo-data folder, compute, and print demo users' passwords."""
    folder = Path(folder)
    if not force and not store_is_empty(session):
        return (
            "the store already holds students: sample data not loaded (use --force to load anyway)"
        )
    files = [
        (source, folder / name) for source, name in CANONICAL_ORDER if (folder / name).exists()
    ]
    outcome = load_and_recompute(
        session, files, loaded_by="sample-data", full=True, stop_on_reject=True
    )
    lines = [report.as_text().splitlines()[0] for report in outcome.reports]
    if outcome.failed:
        raise ValueError(outcome.reports[-1].as_text())
    lines.append(f"computed: {outcome.summary.as_dict() if outcome.summary else None}")
    staff = folder / "staff.csv"
    passwords = create_demo_users(session, staff if staff.exists() else None)
    session.commit()
    lines.append(
        f"sample cases closed: {close_sample_cases(session, folder / 'case_closures.csv')}"
    )
    lines.append("")
    lines.append(
        "Demo users for this sample data (shown once; `make clean-store run` starts afresh with new ones):"
    )
    lines += [f"  {user:<24} {password}" for user, password in passwords.items()]
    return "\n".join(lines)


def recompute(session: Session, *, full: bool = False) -> ComputeSummary:
    """Bring measures and flags up to date after a change a page made. Exemptions are noticed by
    the next compute; a calendar period added by hand is not a load, so it asks for full."""
    return compute(session, full=full)


# --- exemptions and calendar periods ----------------------------------------------------------------

EXEMPTION_REASONS = ("illness", "approved_leave", "placement", "interruption", "other")


def add_exemption(
    session: Session,
    user: User,
    student_id: str,
    *,
    reason: str,
    start: date,
    end: date,
    note: str | None = None,
) -> Exemption:
    """Record an exemption for a student the user may see and may add exemptions for."""
    require(user, "add_exemption")
    if not can_view_student(session, user, student_id):
        raise NotAllowed("you may not add exemptions for this student")
    if reason not in EXEMPTION_REASONS:
        raise ValueError(f"reason must be one of {', '.join(EXEMPTION_REASONS)}")
    if end < start:
        raise ValueError("the exemption ends before it starts")
    exemption = Exemption(
        student_id=student_id,
        reason=reason,
        start=start,
        end=end,
        note=(note or "").strip() or None,
        created_by=user.username,
        created_at=datetime.now(),
    )
    session.add(exemption)
    session.commit()
    return exemption


CALENDAR_KINDS = ("term", "vacation", "reading_week", "exam", "bank_holiday")


def add_calendar_period(
    session: Session, user: User, *, kind: str, start: date, end: date, label: str | None = None
) -> CalendarPeriod:
    """Add one period to the term calendar (admins); an identical period is not added twice."""
    require(user, "edit_calendar")
    if kind not in CALENDAR_KINDS:
        raise ValueError(f"kind must be one of {', '.join(CALENDAR_KINDS)}")
    if end < start:
        raise ValueError("the period ends before it starts")
    period = session.scalar(
        select(CalendarPeriod).where(
            CalendarPeriod.kind == kind, CalendarPeriod.start == start, CalendarPeriod.end == end
        )
    )
    if period is None:
        period = CalendarPeriod(kind=kind, start=start, end=end)
        session.add(period)
    period.label = (label or "").strip() or None
    session.commit()
    return period


def file_head(path, lines: int = 8, width: int = 300) -> str:
    """The first lines of an uploaded file as text (any of the encodings the loaders accept)."""
    path = Path(path)
    try:
        text, encoding = decode_bytes(path.read_bytes()[:200_000], path.name)
    except IngestError as exc:
        return str(exc)
    except UnicodeDecodeError:  # a multi-byte character cut at the sample's end
        text, encoding = decode_bytes(path.read_bytes(), path.name)
    head = normalise_newlines(text).split("\n")[:lines]
    return f"({encoding})\n" + "\n".join(line[:width] for line in head)


# --- uploads on the Data page ----------------------------------------------------------------------


@dataclass(frozen=True)
class UploadPreview:
    """An uploaded file saved for its preview: what it is, where it waits, what validation said."""

    source: str
    name: str
    path: Path
    head: str
    report: LoadReport


def preview_upload(
    session: Session, user: User, source: str, name: str, data: bytes, *, year: int | None
) -> UploadPreview:
    """Save an uploaded file to a private temporary folder and validate it (nothing stored)."""
    require(user, "upload_data")
    folder = Path(tempfile.mkdtemp(prefix="dashboard_upload_"))
    path = folder / (Path(name).name or "upload")
    path.write_bytes(data)
    try:
        report = preview_file(session, source, path, year=year)
    except BaseException:
        discard_upload(path)
        raise
    return UploadPreview(source, name, path, file_head(path), report)


def load_upload(
    session: Session, user: User, preview: UploadPreview, *, year: int | None, quarantine: bool
) -> LoadOutcome:
    """Load a previewed upload, recompute, and delete its temporary file whatever happens."""
    require(user, "upload_data")
    try:
        return load_and_recompute(
            session,
            [(preview.source, preview.path)],
            year=year,
            loaded_by=user.username,
            quarantine=quarantine,
        )
    finally:
        discard_upload(preview.path)


def discard_upload(path: Path) -> None:
    """Delete an upload's temporary folder (the file and the folder made for it)."""
    if path.parent.name.startswith("dashboard_upload_"):
        shutil.rmtree(path.parent, ignore_errors=True)


# --- thresholds and users (admin) ------------------------------------------------------------------


def parse_thresholds(config: Mapping, entered: Mapping) -> dict:
    """The threshold form's values: text, numbers and flags as entered; tables (lists and
    mappings, shown as JSON) parsed back, refused with a ValueError naming the setting."""
    values = {}
    for name, value in entered.items():
        if isinstance(config[name], str | int | float):
            values[name] = value
            continue
        try:
            values[name] = json.loads(value)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{name}: not valid JSON ({exc})") from None
    return values


def save_thresholds(session: Session, user: User, entered: Mapping) -> ComputeSummary:
    """Validate and store the thresholds an admin entered, then recompute every flag."""
    require(user, "edit_thresholds")
    values = parse_thresholds(load_engine_config(session), entered)
    save_engine_config(session, values, updated_by=user.username)
    return compute(session)


def save_staff_user(
    session: Session,
    user: User,
    username: str,
    *,
    role: str,
    school: str | None = None,
    years: str | None = None,
    email: str | None = None,
    password: str | None = None,
    active: bool = True,
) -> None:
    """Add or update a member of staff (admins); an empty password keeps the stored one."""
    require(user, "manage_users")
    add_user(
        session,
        username,
        role=role,
        school=school or None,
        years=years or None,
        email=email or None,
        password=password or None,
    )
    if not active:
        set_active(session, username.strip().lower(), False)
