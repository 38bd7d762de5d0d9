"""Data retention: the retention setting and the purge of engagement data older than it.

What purge removes (whole teaching weeks before the cutoff, the Monday on or before today minus the
retention): daily activity, attendance, submissions, timetable events and their expected students,
weekly measures, flags that ended before the cutoff and no case points to, data-quality events,
exemptions that ended before it, quarantined rows of files loaded before it and engine snapshots of those weeks.

What it never removes: the access log (append-only, enforced by the database), welfare cases and
their entries, compliance records, withdrawal-review decisions and subject access requests (records
with their own legal retention, kept until erased by their own procedure), students, staff, modules,
enrolments, the calendar, settings and the loads (provenance). Counts of what it removed go to the
access log; measures of the kept weeks stay as they were computed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, and_, delete, func, select
from sqlalchemy.orm import Session

from lib.access import User
from lib.audit import log_access
from lib.store.models import (
    Attendance,
    Case,
    DailyActivity,
    DataQualityEvent,
    EngineSnapshot,
    EventExpectedStudent,
    Exemption,
    Flag,
    Load,
    QuarantinedRow,
    Setting,
    Submission,
    TimetableEvent,
    WeeklyMeasure,
    WeeklyMeasureOther,
)

RETENTION_KEY = "retention_years"
DEFAULT_RETENTION_YEARS = 6
MIN_RETENTION_YEARS = 1
MAX_RETENTION_YEARS = 30
LOG_TEXT_LIMIT = 200


@dataclass(frozen=True)
class Retention:
    years: int
    updated_by: str | None = None
    updated_at: datetime | None = None


def get_retention(session: Session) -> Retention:
    """The retention in years (the default when never set)."""
    row = session.get(Setting, RETENTION_KEY)
    if row is None:
        return Retention(DEFAULT_RETENTION_YEARS)
    if not isinstance(row.value, int | float | str):
        raise ValueError(f"the retention setting is not a number of years: {row.value!r}")
    return Retention(int(row.value), row.updated_by, row.updated_at)


def set_retention(session: Session, years: int, updated_by: str) -> Retention:
    """Store the retention (whole years, range-checked)."""
    if not MIN_RETENTION_YEARS <= int(years) <= MAX_RETENTION_YEARS:
        raise ValueError(
            f"retention must be {MIN_RETENTION_YEARS} to {MAX_RETENTION_YEARS} years, not {years}"
        )
    row = session.get(Setting, RETENTION_KEY)
    now = datetime.now().replace(microsecond=0)
    if row is None:
        session.add(
            Setting(key=RETENTION_KEY, value=int(years), updated_at=now, updated_by=updated_by)
        )
    else:
        row.value, row.updated_at, row.updated_by = int(years), now, updated_by
    session.flush()
    return get_retention(session)


def cutoff_for(as_of: date, years: int) -> date:
    """The first day kept: the Monday on or before `as_of` minus `years` (whole weeks go)."""
    try:
        back = as_of.replace(year=as_of.year - years)
    except ValueError:  # 29 February
        back = as_of.replace(year=as_of.year - years, day=28)
    return back - timedelta(days=back.weekday())


def _purge_statements(cutoff: date) -> list[tuple[str, Delete]]:
    """(table, DELETE) in an order that respects foreign keys."""
    start = datetime.combine(cutoff, datetime.min.time())
    old_events = select(TimetableEvent.event_id).where(TimetableEvent.start_at < start)
    old_loads = select(Load.id).where(Load.loaded_at < start)
    flags_of_cases = select(Case.flag_id).where(Case.flag_id.is_not(None))
    return [
        ("daily_activity", delete(DailyActivity).where(DailyActivity.day < cutoff)),
        ("attendance", delete(Attendance).where(Attendance.first_seen < start)),
        ("submissions", delete(Submission).where(Submission.due_at < start)),
        (
            "event_expected_students",
            delete(EventExpectedStudent).where(EventExpectedStudent.event_id.in_(old_events)),
        ),
        ("timetable_events", delete(TimetableEvent).where(TimetableEvent.start_at < start)),
        ("weekly_measures", delete(WeeklyMeasure).where(WeeklyMeasure.week_start < cutoff)),
        (
            "weekly_measures_other",
            delete(WeeklyMeasureOther).where(WeeklyMeasureOther.week_start < cutoff),
        ),
        (
            "flags",
            delete(Flag).where(
                and_(
                    Flag.week_start < cutoff,
                    Flag.ended_week.is_not(None),
                    Flag.ended_week < cutoff,
                    Flag.id.not_in(flags_of_cases),
                )
            ),
        ),
        (
            "data_quality_events",
            delete(DataQualityEvent).where(DataQualityEvent.week_start < cutoff),
        ),
        ("exemptions", delete(Exemption).where(Exemption.end < cutoff)),
        (
            "quarantined_rows",
            delete(QuarantinedRow).where(QuarantinedRow.load_id.in_(old_loads)),
        ),
        ("engine_snapshots", delete(EngineSnapshot).where(EngineSnapshot.key < cutoff.isoformat())),
    ]


def _log_texts(cutoff: date, counts: dict[str, int]) -> list[str]:
    """The access-log lines (each within the log's text limit): counts only, never which rows."""
    head = f"purge before {cutoff.isoformat()}:"
    parts = [f"{name}={n}" for name, n in counts.items() if n] or ["nothing"]
    texts, line = [], head
    for part in parts:
        if len(line) + 1 + len(part) > LOG_TEXT_LIMIT:
            texts.append(line)
            line = head
        line += " " + part
    texts.append(line)
    return texts


def purge(
    session: Session, *, as_of: date | None = None, by: str = "cli", dry_run: bool = False
) -> dict:
    """Remove what the retention no longer covers; returns {cutoff, years, removed: {table: rows}}."""
    retention = get_retention(session)
    cutoff = cutoff_for(as_of or date.today(), retention.years)
    counts: dict[str, int] = {}
    for name, statement in _purge_statements(cutoff):
        if dry_run:
            rows = statement.whereclause
            if rows is None:  # every purge statement names its rows; never count a whole table
                raise ValueError(f"the purge of {name} has no condition")
            counted = select(func.count()).select_from(statement.table).where(rows)
            counts[name] = int(session.scalar(counted) or 0)
        else:
            options = {"synchronize_session": False}  # no identity map to keep in step
            result = cast(
                "CursorResult[Any]", session.execute(statement, execution_options=options)
            )
            counts[name] = int(result.rowcount or 0)
    if not dry_run:
        session.flush()
        operator = User(username=by, role="admin", display_name=by)
        for text in _log_texts(cutoff, counts):
            log_access(session, operator, text, action="purge")  # commits the purge with its record
    return {
        "cutoff": cutoff.isoformat(),
        "retention_years": retention.years,
        "dry_run": dry_run,
        "removed": counts,
    }
