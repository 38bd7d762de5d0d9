"""Weekly measures are written under a new results version in short transactions: readers see the
previous results until the compute switches versions, and a compute that dies first leaves them."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select

import lib.compute.results as results
from lib.store.models import WeeklyMeasure
from lib.store.results_version import measures_visible
from lib.usecases import compute_serialised
from lib.views.common import week_range

COLUMNS = [WeeklyMeasure.student_id, WeeklyMeasure.week_start, WeeklyMeasure.source]


def _visible(session) -> pd.DataFrame:
    query = select(*COLUMNS, WeeklyMeasure.value, WeeklyMeasure.baseline).where(measures_visible())
    return pd.DataFrame(session.execute(query.order_by(*COLUMNS)).all())


def _rows(session) -> int:
    return session.scalar(select(func.count()).select_from(WeeklyMeasure))


class Died(Exception):
    """Stands for the process dying at the moment the new results would become current."""


def test_readers_see_the_old_results_until_the_switch_and_a_dead_compute_leaves_them(
    any_sample_session, monkeypatch
):
    session = any_sample_session
    before, weeks = _visible(session), week_range(session)
    assert len(before) == _rows(session) > 0

    def die(_session):
        raise Died

    monkeypatch.setattr(results, "publish", die)
    with pytest.raises(Died):
        compute_serialised(session, full=True)
    session.rollback()
    # the new version's rows were committed in batches, yet no reader sees them
    assert _rows(session) == 2 * len(before)
    pd.testing.assert_frame_equal(_visible(session), before)
    assert week_range(session) == weeks

    monkeypatch.undo()
    compute_serialised(session, full=True)
    pd.testing.assert_frame_equal(_visible(session), before)
    assert _rows(session) == len(before)  # the dead compute's rows and the replaced ones are gone
