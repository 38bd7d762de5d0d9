"""Which flags are in force during a range of weeks (or now)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, or_

from lib.store.models import Flag


def in_force(week_from: date | None, week_to: date | None, flag=Flag):
    """Flags in force during the weeks (or now, when no range)."""
    if week_from is None and week_to is None:
        return flag.ended_week.is_(None)
    clauses = []
    if week_to is not None:
        clauses.append(flag.week_start <= week_to)
    if week_from is not None:
        clauses.append(or_(flag.ended_week.is_(None), flag.ended_week >= week_from))
    return and_(*clauses)
