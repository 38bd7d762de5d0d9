"""Exports of stored data: the daily activity table of SPEC §8 (`python -m lib export activity`)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lib.safe_csv import to_csv
from lib.store.models import DailyActivity

ACTIVITY_COLUMNS = ["student_id", "source", "date", "quantity", "minutes"]


def activity_frame(session: Session) -> pd.DataFrame:
    """Daily activity per student, source and date (modules summed), sorted; minutes empty when none."""
    statement = (
        select(
            DailyActivity.student_id,
            DailyActivity.source,
            DailyActivity.day,
            func.sum(DailyActivity.quantity),
            func.sum(DailyActivity.minutes),
        )
        .group_by(DailyActivity.student_id, DailyActivity.source, DailyActivity.day)
        .order_by(DailyActivity.student_id, DailyActivity.source, DailyActivity.day)
    )
    frame = pd.DataFrame(session.execute(statement).fetchall(), columns=ACTIVITY_COLUMNS)
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")
    return frame


def activity_csv(session: Session) -> str:
    """The activity export as CSV text: whole numbers without a decimal point, empty minutes blank."""
    return to_csv(activity_frame(session), float_format="%.10g", lineterminator="\n")
