"""The Data page's reads (aggregate, no student data): load history, quarantine, coverage, users."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lib.access import User, require
from lib.audit import entry_count, log_frame
from lib.store.models import DailyActivity, Load, QuarantinedRow, StaffUser

HASH_SHOWN = 12  # hex digits: enough to tell files apart by eye; the store keeps all 64


def loads_frame(session: Session, *, limit: int = 500) -> pd.DataFrame:
    """Load history with provenance, newest first; the content hash shortened and last."""
    columns = [
        "id",
        "source",
        "file_name",
        "loaded_at",
        "loaded_by",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "students",
        "status",
        "first_date",
        "last_date",
        "message",
        "content_hash",
    ]
    rows = session.execute(
        select(*(getattr(Load, c) for c in columns)).order_by(Load.id.desc()).limit(limit)
    ).all()
    frame = pd.DataFrame(rows, columns=columns)
    frame["content_hash"] = frame["content_hash"].str[:HASH_SHOWN]
    return frame


def quarantined_rows(session: Session, load_id: int, *, limit: int = 1000) -> pd.DataFrame:
    """The bad rows kept aside by one load (row number, column, problem)."""
    rows = session.execute(
        select(QuarantinedRow.row_number, QuarantinedRow.column, QuarantinedRow.problem)
        .where(QuarantinedRow.load_id == load_id)
        .order_by(QuarantinedRow.row_number)
        .limit(limit)
    ).all()
    return pd.DataFrame(rows, columns=["row", "column", "problem"])


def coverage_frame(session: Session) -> pd.DataFrame:
    """Activity rows per source per week (so a missing export stands out)."""
    rows = session.execute(
        select(DailyActivity.day, DailyActivity.source, func.count()).group_by(
            DailyActivity.day, DailyActivity.source
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["day", "source", "rows"])
    if frame.empty:
        return pd.DataFrame(columns=["week_start", "source", "rows"])
    day = pd.to_datetime(frame["day"])
    frame["week_start"] = (day - pd.to_timedelta(day.dt.day_of_week, unit="D")).dt.date
    return frame.groupby(["week_start", "source"], as_index=False)["rows"].sum()


def users_frame(session: Session) -> pd.DataFrame:
    """Staff users with role and scope (never password hashes)."""
    columns = [
        "username",
        "display_name",
        "email",
        "role",
        "school",
        "years",
        "active",
        "locked_until",
    ]
    rows = session.execute(
        select(*(getattr(StaffUser, c) for c in columns)).order_by(StaffUser.username)
    ).all()
    return pd.DataFrame(rows, columns=columns)


def access_log(
    session: Session, user: User, *, username: str | None = None, student_id: str | None = None
) -> tuple[int, pd.DataFrame]:
    """How many entries the access log holds, and the newest that match (admins)."""
    require(user, "view_access_log")
    frame = log_frame(
        session, username=username or None, student_id=(student_id or "").strip() or None
    )
    return entry_count(session), frame
