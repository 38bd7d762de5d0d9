"""Weekly measures are written under a new results version in short transactions: readers see the
previous results until the compute switches versions, and a compute that dies first leaves them."""

from __future__ import annotations

import pandas as pd
import pytest

import lib.compute.results as results
from lib.store.measures import read_measures
from lib.usecases import compute_serialised
from lib.views.common import week_range

COLUMNS = ["student_id", "week_start", "source", "value", "baseline"]


def _visible(session) -> pd.DataFrame:
    return read_measures(session)[COLUMNS]


def _rows(session) -> int:
    """Measure rows stored (one per student, week and source, every version)."""
    return len(read_measures(session, every_version=True))


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
