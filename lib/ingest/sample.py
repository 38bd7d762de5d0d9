"""Loads a demo-data folder (such as sample_data/) into an empty store and creates the demo users."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from lib.ingest.pipeline import load_files, store_is_empty

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
    lines = []
    for source, name in CANONICAL_ORDER:
        path = folder / name
        if not path.exists():
            continue
        for report in load_files(session, source, [path], loaded_by="sample-data"):
            lines.append(report.as_text().splitlines()[0])
            if report.status == "rejected":
                raise ValueError(report.as_text())
    from lib.service import compute

    summary = compute(session, full=True)
    lines.append(f"computed: {summary}")
    from lib.auth import create_demo_users

    staff = folder / "staff.csv"
    passwords = create_demo_users(session, staff if staff.exists() else None)
    session.commit()
    from lib.cases.sample import close_sample_cases

    lines.append(
        f"sample cases closed: {close_sample_cases(session, folder / 'case_closures.csv')}"
    )
    lines.append("")
    lines.append(
        "Demo users for this sample data (shown once; `make clean-store run` starts afresh with new ones):"
    )
    lines += [f"  {user:<24} {password}" for user, password in passwords.items()]
    return "\n".join(lines)
