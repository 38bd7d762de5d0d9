"""Read-side lookups every page shares: the data version for caches, the weeks with results, the calendar."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lib.compute.service import STATE_KEY, EngineState
from lib.store.measures import read_measures
from lib.store.models import (
    CalendarPeriod,
    DailyActivity,
    Exemption,
    Flag,
    RiskModel,
    Setting,
    StaffUser,
    WeeklyMeasure,
)
from lib.store.results_version import measures_visible


def data_version(session: Session) -> str:
    """A key that changes whenever loaded data or engine results change (for caches).

    One statement (every page run asks): the results version the last compute recorded
    (lib.compute.service.data_version), the newest exemption and flag, the staff count and the
    newest risk model."""
    state, *extra = session.execute(
        select(
            select(Setting.value).where(Setting.key == STATE_KEY).scalar_subquery(),
            select(func.max(Exemption.id)).scalar_subquery(),
            select(func.max(Flag.id)).scalar_subquery(),
            select(func.count()).select_from(StaffUser).scalar_subquery(),
            select(func.max(RiskModel.id)).scalar_subquery(),
        )
    ).one()
    base = EngineState.from_json(state).version
    return f"{base}:{extra[0] or 0}:{extra[1] or 0}:{extra[2] or 0}:{extra[3] or 0}"


def week_range(session: Session) -> tuple[date | None, date | None]:
    """First and last week with engine results."""
    visible = measures_visible()
    first = session.scalar(select(func.min(WeeklyMeasure.week_start)).where(visible))
    last = session.scalar(select(func.max(WeeklyMeasure.week_start)).where(visible))
    return first, last


def default_weeks(session: Session, weeks: int = 16) -> tuple[date | None, date | None]:
    """The default date range: `weeks` weeks up to the latest teaching week with results
    (so that a summer vacation at the end of the data does not hide the term)."""
    first, last = week_range(session)
    if last is None:
        return None, None
    last_teaching = session.scalar(
        select(func.max(WeeklyMeasure.week_start)).where(
            WeeklyMeasure.teaching.is_(True),
            WeeklyMeasure.index_value.is_not(None),
            measures_visible(),
        )
    )
    last = last_teaching or last
    last_activity = session.scalar(select(func.max(DailyActivity.day)))
    if last_activity is not None:  # weeks after the newest loaded activity hold no evidence yet
        activity_week = last_activity - timedelta(days=last_activity.weekday())
        last = min(last, activity_week)
    start = max(first, last - timedelta(weeks=weeks - 1)) if first else last
    return start, last


def week_list(week_from: date, week_to: date) -> list[date]:
    """Every Monday-aligned week start from week_from to week_to."""
    out: list[date] = []
    current = week_from
    while current <= week_to and len(out) < 600:
        out.append(current)
        current += timedelta(weeks=1)
    return out


def relative_engagement(
    session: Session, student_ids: list[str], week_from: date, week_to: date, source: str = "index"
) -> pd.DataFrame:
    """Long frame student_id, week_start, ratio (value / own baseline), teaching for these students.

    Callers pass ids already scoped by `heatmap_students` or `can_view_student`."""
    if not student_ids:
        return pd.DataFrame(columns=["student_id", "week_start", "ratio", "teaching"])
    frame = read_measures(
        session, students=student_ids, week_from=week_from, week_to=week_to, sources=[source]
    )
    baseline = frame["baseline"].astype(float)
    frame["ratio"] = (frame["value"].astype(float) / baseline.where(baseline > 0)).clip(upper=3.0)
    return frame[["student_id", "week_start", "ratio", "teaching"]]


def calendar_periods(session: Session) -> pd.DataFrame:
    """The term calendar (not personal data)."""
    rows = session.execute(
        select(
            CalendarPeriod.kind, CalendarPeriod.start, CalendarPeriod.end, CalendarPeriod.label
        ).order_by(CalendarPeriod.start)
    ).all()
    return pd.DataFrame(rows, columns=["kind", "start", "end", "label"])
