"""Data-quality events that touch the user's own students (modules they take, or a whole source)."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from lib.access import User, scoped_student_ids
from lib.store.models import DataQualityEvent, Enrolment

COLUMNS = [
    "week_start",
    "source",
    "module_code",
    "share_affected",
    "students_affected",
    "explanation",
]


def events_for_user(
    session: Session, user: User, week_from: date | None, week_to: date | None, *, limit: int = 200
) -> pd.DataFrame:
    """Systemic drops in the weeks that touch the user's students, newest first: a module's event
    when one of the user's students takes the module, a source-wide event always; every event for
    the roles whose scope is every student (wellbeing) or the data itself (admin)."""
    query = select(*(getattr(DataQualityEvent, c) for c in COLUMNS)).order_by(
        DataQualityEvent.week_start.desc(), DataQualityEvent.source
    )
    if user.role not in ("admin", "wellbeing"):
        takes_module = exists().where(
            Enrolment.module_code == DataQualityEvent.module_code,
            Enrolment.student_id.in_(scoped_student_ids(user)),
        )
        source_wide = or_(
            DataQualityEvent.module_code.is_(None), DataQualityEvent.module_code == ""
        )
        query = query.where(or_(source_wide, takes_module))
    if week_from:
        query = query.where(DataQualityEvent.week_start >= week_from)
    if week_to:
        query = query.where(DataQualityEvent.week_start <= week_to)
    return pd.DataFrame(session.execute(query.limit(limit)).all(), columns=COLUMNS)
