"""Actions spanning wings, used by the CLI, the pages and the sample loader: load then recompute,
the sample folder, exemptions and calendar periods, an uploaded file's first lines."""

from __future__ import annotations

import json
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
from lib.ingest.limits import default_window, store_window
from lib.ingest.lock import clear_pending, newest_load, pending, store_lock
from lib.ingest.pipeline import LoadReport, load_files, preview_file, store_is_empty
from lib.ingest.readers import decode_bytes, normalise_newlines
from lib.ingest.uploads import discard_upload, save_upload
from lib.store.models import CalendarPeriod, Exemption
from lib.store.statistics import refresh_after_compute, refresh_after_load

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
    loaded = any(r.status != "rejected" for r in outcome.reports)
    refresh_after_load(
        session, sum(r.rows_loaded for r in outcome.reports if r.status != "rejected")
    )
    if recompute and (loaded or pending(session) is not None):  # or an earlier compute was killed
        outcome.summary = compute_serialised(session, full=full)
        refresh_after_compute(session, outcome.summary.measures_written)
    return outcome


def compute_serialised(session: Session, full: bool = False) -> ComputeSummary:
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


def finish_pending(session: Session, *, wait: bool = True) -> ComputeSummary | None:
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
# The sample folder also holds welfare contacts (cases in every state and step; lib.cases.sample).
SAMPLE_ORDER = [*CANONICAL_ORDER, ("contacts", "contacts.csv")]
HISTORY_DIR = "history"  # earlier years with outcomes, one folder per year (lib.demo.history)


def load_sample_folder(session: Session, folder: Path, *, force: bool = False) -> str:
    """Load the canonical files of a demo-data folder, compute, and print demo users' passwords."""
    folder = Path(folder)
    if not force and not store_is_empty(session):
        return (
            "the store already holds students: sample data not loaded (use --force to load anyway).\n"
            "Demo logins: `python -m lib users reset-demo` gives the demo users new passwords and "
            "prints them with their roles (or `make clean-store run` starts afresh)."
        )
    files = [
        (source, past / name)
        for past in sorted((folder / HISTORY_DIR).glob("[0-9]*"))
        for source, name in CANONICAL_ORDER
        if (past / name).exists()
    ]  # earlier years with outcomes first (lib.demo.history), for the withdrawal-risk model
    files += [(source, folder / name) for source, name in SAMPLE_ORDER if (folder / name).exists()]
    outcome = load_and_recompute(
        session, files, loaded_by="sample-data", full=True, stop_on_reject=True
    )
    lines = [report.as_text().splitlines()[0] for report in outcome.reports]
    if outcome.failed:
        raise ValueError(outcome.reports[-1].as_text())
    lines.append(f"computed: {outcome.summary.as_dict() if outcome.summary else None}")
    lines.append(train_sample_model(session))
    staff = folder / "staff.csv"
    passwords = create_demo_users(session, staff if staff.exists() else None)
    session.commit()
    lines.append(
        f"sample cases closed: {close_sample_cases(session, folder / 'case_closures.csv')}"
    )
    lines.append("")
    lines.append(demo_logins_text(session, passwords))
    return "\n".join(lines)


def train_sample_model(session: Session) -> str:
    """Train the withdrawal-risk model when the store holds earlier years with outcomes; one line."""
    from lib.risk import train

    try:
        shown = train(session, trained_by="sample-data")
    except ValueError as exc:
        return f"withdrawal-risk model not trained: {exc}"
    session.commit()
    scores = shown["scores"]
    return (
        f"withdrawal-risk model v{shown['version']} trained on {shown['train_years']}, tested on "
        f"{shown['test_year']}: ROC AUC {scores['model']['roc_auc']} vs rule order "
        f"{scores['rule_based']['roc_auc']}; "
        + ("in use" if shown["in_use"] else "not in use (does not beat the rule order)")
    )


def reset_demo_logins(session: Session, folder: Path) -> str:
    """Give the demo users (one per role) fresh passwords; the lines to print, with their roles."""
    staff = Path(folder) / "staff.csv"
    passwords = create_demo_users(session, staff if staff.exists() else None)
    session.commit()
    return demo_logins_text(session, passwords)


def demo_logins_text(session: Session, passwords: dict[str, str]) -> str:
    """The demo logins as printed: username, role (and school), password."""
    from lib.auth import get_user

    lines = [
        "Demo logins (shown once; `python -m lib users reset-demo` prints new ones):",
        f"  {'username':<24} {'role':<32} password",
    ]
    for username, password in passwords.items():
        user = get_user(session, username)
        role = user.role.replace("_", " ") if user is not None else "?"
        scope = f" ({user.school})" if user is not None and user.school else ""
        lines.append(f"  {username:<24} {role + scope:<32} {password}")
    return "\n".join(lines)


def recompute(session: Session, *, full: bool = False) -> ComputeSummary:
    """Bring measures and flags up to date after a change a page made. Exemptions are noticed by
    the next compute; a calendar period added by hand is not a load, so it asks for full."""
    return compute_serialised(session, full=full)


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
    require(user, "add_exemption")
    if not can_view_student(session, user, student_id):
        raise NotAllowed("you may not add exemptions for this student")
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
    require(user, "edit_calendar")
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
    path = save_upload(name, data)  # private folder; abandoned previews are swept
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
    return compute_serialised(session)


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
