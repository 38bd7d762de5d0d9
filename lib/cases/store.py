"""Writes of cases and entries: the case lock, append-only entry inserts with an idempotency key,
and the case row's derived columns refreshed from its entries (never an UPDATE of an entry)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

import pandas as pd
from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lib.cases.queries import case_rows_frame, derive_cases, entries_frame
from lib.store.models import Case, CaseEntry
from lib.workdays import WorkingDays


def lock_case(session: Session, case_id: int) -> Case | None:
    """Take the case's write lock before reading it: an UPDATE of its revision comes first, so on
    PostgreSQL the row is locked and on SQLite the write transaction starts (waiting for another
    writer to commit, never failing on a stale read snapshot); then the row is read fresh."""
    bumped = cast(
        CursorResult,
        session.execute(update(Case).where(Case.id == case_id).values(revision=Case.revision + 1)),
    )
    if bumped.rowcount == 0:
        return None
    return session.scalars(
        select(Case).where(Case.id == case_id).execution_options(populate_existing=True)
    ).one()


def entry_by_key(session: Session, key: str | None) -> CaseEntry | None:
    """The entry already recorded under this idempotency key, if any."""
    if not key:
        return None
    return session.scalar(select(CaseEntry).where(CaseEntry.idempotency_key == key))


def append_entry(session: Session, fields: dict[str, Any]) -> tuple[CaseEntry, bool]:
    """Insert one entry; an idempotency key already used returns that entry instead (a double
    submit, or a concurrent one losing the race on the unique index). Returns (entry, created)."""
    existing = entry_by_key(session, fields.get("idempotency_key"))
    if existing is not None:
        return existing, False
    entry = CaseEntry(**fields)
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError:
        existing = entry_by_key(session, fields.get("idempotency_key"))
        if existing is None:
            raise
        return existing, False
    return entry, True


def new_case(
    session: Session,
    *,
    student_id: str,
    track: str,
    owner: str,
    opened_by: str,
    opened_at: datetime,
    flag_id: int | None,
) -> tuple[Case, bool]:
    """A case row (its state columns are filled by `refresh_case` after its first entry), and
    whether it is new: when another session opened the student's case on this track first, the
    store's one-open-case-per-track index refuses the second and that case is returned instead."""
    case = Case(
        student_id=student_id,
        track=track,
        owner_username=owner,
        first_owner=owner,
        opened_by=opened_by,
        opened_at=opened_at,
        flag_id=flag_id,
        state="open",
        ladder_step=1,
        revision=0,
    )
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        existing = open_case_for(session, student_id, track)
        if existing is None:
            raise
        return existing, False
    return case, True


def _value(value: Any) -> Any:
    """None for pandas' missing values (NaN, NaT, NA), else the value."""
    return None if pd.isna(value) else value


def refresh_case(session: Session, case: Case, days: WorkingDays, today: date) -> dict:
    """Recompute the case row's state columns from its entries (one definition: `derive_cases`)."""
    session.flush()
    derived = derive_cases(
        case_rows_frame(session, [case.id]), entries_frame(session, [case.id]), days, None
    )
    # entries may be dated in the future of `today` only by clock skew; derive at the latest
    row = derived.iloc[0].to_dict() if len(derived) else {}
    if not row:
        return {}
    case.state = row["state"]
    case.ladder_step = int(row["step"])
    case.next_action = _value(row["next_action"])
    case.next_due = _value(row["next_due"])
    case.last_entry_at = row["last_entry_at"].to_pydatetime()  # the latest contact, not recording
    case.referral_team = _value(row["referral_team"])
    case.close_outcome = _value(row["close_outcome"]) if row["closed"] else None
    if not row["closed"]:
        case.closed_at = None
        case.closed_by = None
    session.flush()
    return row


def open_case_for(session: Session, student_id: str, track: str) -> Case | None:
    """The student's case on this track that is not closed, if any (newest first)."""
    return session.scalar(
        select(Case)
        .where(Case.student_id == student_id, Case.track == track, Case.state != "closed")
        .order_by(Case.id.desc())
        .limit(1)
    )
