"""Which flags are in force: the one definition the CLI, the Cohort and Home views and the Student page use."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from lib.compute.frames import query_frame
from lib.store.models import Flag

FLAG_COLUMNS = ["student_id", "week_start", "kind", "severity", "explanation"]


def in_force(as_of: date | None, flag=Flag) -> ColumnElement[bool]:
    """Flags in force on `as_of`: raised in or before that week and not ended by it (a flag's
    ended_week is the week engagement was back to usual, so it is no longer in force then).
    With no date: every flag not ended."""
    if as_of is None:
        return flag.ended_week.is_(None)
    return and_(flag.week_start <= as_of, or_(flag.ended_week.is_(None), flag.ended_week > as_of))


def flags_frame(
    session: Session, as_of: date | None = None, include_ended: bool = False
) -> pd.DataFrame:
    """Flags in force at `as_of` (default today), or with include_ended every flag raised by then."""
    as_of = as_of or date.today()
    query = select(Flag.student_id, Flag.week_start, Flag.kind, Flag.severity, Flag.explanation)
    query = query.where(Flag.week_start <= as_of if include_ended else in_force(as_of))
    query = query.order_by(Flag.week_start, Flag.student_id, Flag.kind)
    return query_frame(session, query, FLAG_COLUMNS)
