"""Actions spanning wings, used by the CLI, the pages and the sample loader: load then recompute,
the sample folder, exemptions and calendar periods, an uploaded file's first lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.access import User, can, can_view_student
from lib.auth import create_demo_users
from lib.compute.service import compute
from lib.ingest.errors import IngestError
from lib.ingest.limits import default_window, store_window
from lib.ingest.lock import clear_pending, newest_load, pending, store_lock
from lib.ingest.pipeline import LoadReport, load_files, store_is_empty
from lib.ingest.readers import decode_bytes, normalise_newlines
from lib.store.models import CalendarPeriod, Exemption

# --- load then recompute ---------------------------------------------------------------------------


@dataclass
class LoadOutcome:
    """What loading some files did: one report per file, and the compute summary (None when the
    compute was skipped or nothing loaded)."""

    reports: list[LoadReport]
    summary: dict | None = None

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
    loaded = any(r.status != "rejected" for r in outcome.reports)
    if recompute and (loaded or pending(session) is not None):  # or an earlier compute was killed
        outcome.summary = compute_serialised(session, full=full)
    return outcome


def compute_serialised(session: Session, full: bool = False) -> dict:
    """compute() under the store's writer lock (one load or compute at a time, on both stores),
    committed before the lock is released; clears the marker of the loads it covered."""
    with store_lock(session):
        # commit what the caller saved (thresholds, a calendar period) and end any read snapshot
        # taken before the lock, so the compute reads what the loads before it committed
        session.commit()
        through = newest_load(session)
        summary = compute(session, full=full)
        clear_pending(session, through)
        session.commit()
    return summary


def finish_pending(session: Session, *, wait: bool = True) -> dict | None:
    """Recompute when a load's compute never finished (killed, crashed, or loaded with
    --no-compute): the next `ingest`, `compute` or app start calls this. None when none was
    pending (or, without wait, when another writer holds the store: it computes after itself)."""
    if pending(session) is None:
        return None
    with store_lock(session, wait=wait) as held:
        return compute_serialised(session) if held else None


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
    lines.append(f"computed: {outcome.summary}")
    staff = folder / "staff.csv"
    passwords = create_demo_users(session, staff if staff.exists() else None)
    session.commit()
    lines.append("")
    lines.append(
        "Demo users for this sample data (shown once; `make clean-store run` starts afresh with new ones):"
    )
    lines += [f"  {user:<24} {password}" for user, password in passwords.items()]
    return "\n".join(lines)


def recompute(session: Session) -> dict:
    """Bring measures and flags up to date after a change the pages make (exemption, calendar, thresholds)."""
    return compute_serialised(session)


# --- exemptions and calendar periods ----------------------------------------------------------------

MAX_NOTE = 4000


def check_form_dates(session: Session, start: date, end: date) -> None:
    """Dates typed into a form obey the same window as loaded files (lib.ingest.limits)."""
    window = store_window(session)
    first = min(window.first, default_window().first)
    for day in (start, end):
        if not first <= day <= window.last_scheduled:
            raise ValueError(
                f"{day} is outside the dates the store accepts ({first} to {window.last_scheduled})"
            )


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
    if not can(user, "add_exemption") or not can_view_student(session, user, student_id):
        raise PermissionError("you may not add exemptions for this student")
    if reason not in EXEMPTION_REASONS:
        raise ValueError(f"reason must be one of {', '.join(EXEMPTION_REASONS)}")
    if end < start:
        raise ValueError("the exemption ends before it starts")
    check_form_dates(session, start, end)
    if len(note or "") > MAX_NOTE:
        raise ValueError(f"the note is longer than {MAX_NOTE} characters")
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
    if not can(user, "edit_calendar"):
        raise PermissionError("you may not change the term calendar")
    if kind not in CALENDAR_KINDS:
        raise ValueError(f"kind must be one of {', '.join(CALENDAR_KINDS)}")
    if end < start:
        raise ValueError("the period ends before it starts")
    check_form_dates(session, start, end)
    if len(label or "") > 200:
        raise ValueError("the label is longer than 200 characters")
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
    with open(path, "rb") as handle:
        sample = handle.read(200_000)  # never the whole file (an upload may be huge)
    try:
        try:
            text, encoding = decode_bytes(sample, path.name)
        except UnicodeDecodeError:  # a multi-byte character cut at the sample's end
            text, encoding = decode_bytes(
                sample[: sample.rfind(b"\n") + 1] or sample[:-3], path.name
            )
    except (IngestError, UnicodeDecodeError) as exc:
        return str(exc)
    head = normalise_newlines(text).split("\n")[:lines]
    return f"({encoding})\n" + "\n".join(line[:width] for line in head)
