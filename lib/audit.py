"""The append-only access log: who viewed or exported which students' data, when and how."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lib.access import User
from lib.store.models import AccessLogEntry

MAX_IDS_STORED = 50_000


def log_access(
    session: Session,
    user: User,
    what: str,
    student_ids: Iterable[str] = (),
    action: str = "view",
) -> AccessLogEntry:
    """Append one entry (who, when, what, which students) and commit it."""
    ids = sorted({str(s) for s in student_ids})
    entry = AccessLogEntry(
        at=datetime.now(),
        username=user.username,
        role=user.role,
        action=action,
        what=what[:200],
        student_ids=ids[:MAX_IDS_STORED],
        student_count=len(ids),
    )
    session.add(entry)
    session.commit()
    return entry


def log_frame(
    session: Session,
    *,
    username: str | None = None,
    student_id: str | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """The newest entries, optionally for one member of staff or one student."""
    query = select(AccessLogEntry).order_by(AccessLogEntry.id.desc())
    if username:
        query = query.where(func.lower(AccessLogEntry.username) == username.strip().lower())
    rows = []
    scanned = 0
    for entry in session.scalars(query.execution_options(yield_per=1000)):
        scanned += 1
        if student_id and student_id not in (entry.student_ids or []):
            continue
        ids = entry.student_ids or []
        rows.append(
            {
                "at": entry.at,
                "username": entry.username,
                "role": entry.role,
                "action": entry.action,
                "what": entry.what,
                "students": entry.student_count,
                "student_ids": ", ".join(ids[:20]) + (" ..." if len(ids) > 20 else ""),
            }
        )
        if len(rows) >= limit or scanned >= 200_000:
            break
    columns = ["at", "username", "role", "action", "what", "students", "student_ids"]
    return pd.DataFrame(rows, columns=columns)


def entries_about(session: Session, student_id: str) -> pd.DataFrame:
    """Every entry naming this student, oldest first (for a subject access export: complete, no cap)."""
    query = select(AccessLogEntry).order_by(AccessLogEntry.id)
    rows = [
        (e.at, e.username, e.role, e.action, e.what)
        for e in session.scalars(query.execution_options(yield_per=2000))
        if student_id in (e.student_ids or [])
    ]
    return pd.DataFrame(rows, columns=["at", "username", "role", "action", "what"])


def entry_count(session: Session) -> int:
    """How many entries the log holds."""
    return session.scalar(select(func.count()).select_from(AccessLogEntry)) or 0
