"""Which weekly-measure rows readers see: the current results version's (computes write beside it)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm.util import AliasedClass

from lib.store.models import ResultVersion, WeeklyMeasure, WeeklyMeasureOther


def _current():
    return select(func.coalesce(func.max(ResultVersion.current), 0)).scalar_subquery()


def _base():
    return select(func.coalesce(func.max(ResultVersion.base), 0)).scalar_subquery()


def measures_visible(
    measure: type[WeeklyMeasure]
    | type[WeeklyMeasureOther]
    | AliasedClass[WeeklyMeasure] = WeeklyMeasure,
) -> ColumnElement[bool]:
    """Rows of the current results: written from the base version (the last full write) up to
    the current one and not replaced by then. A compute's rows stay invisible until it switches
    the current version in one short transaction (lib.compute.results)."""
    current = _current()
    return and_(
        measure.v_from <= current,
        measure.v_from >= _base(),
        or_(measure.v_to.is_(None), measure.v_to > current),
    )
