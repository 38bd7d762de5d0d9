"""The engine's shortcuts give scipy's and pandas' own numbers: the beta-binomial tail computed
once per distinct argument tuple, and the cohort's expected sessions joined by index arithmetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import betabinom

from lib.compute.frames import _cohort
from lib.engagement.chance import betabinom_sf
from lib.engagement.codes import distinct_keys


def test_betabinom_sf_equals_scipy_element_for_element():
    rng = np.random.default_rng(3)
    n = rng.integers(0, 6, 5000)
    k = rng.integers(-2, 7, 5000).astype(float)
    k[::97] = np.nan
    a = 0.5 + rng.integers(0, 5, 5000)
    b = 4.5 + rng.integers(0, 8, 5000) - 2.0 * rng.integers(0, 3, 5000)  # some invalid (<= 0)
    got = betabinom_sf(k, n, a, b)
    np.testing.assert_array_equal(got, betabinom.sf(k, n, a, b))
    assert np.array_equal(betabinom_sf(k, n, 0.5, 4.5), betabinom.sf(k, n, 0.5, 4.5), True)
    assert betabinom_sf(np.array([]), np.array([], int), 1.0, 2.0).shape == (0,)


def test_distinct_keys_sorted_with_positions():
    keys = np.array([5, 3, 5, 9, 3, 3], np.int64)
    values, where = distinct_keys(keys)
    assert values.tolist() == [3, 5, 9] and values[where].tolist() == keys.tolist()


def test_cohort_rows_are_the_join_of_enrolments_and_module_sessions():
    texts = {
        "student_id": pd.CategoricalDtype(["a", "b", "c"]),
        "module_code": pd.CategoricalDtype(["M1", "M2", "M3"]),
    }
    enrolled = pd.DataFrame(
        {
            "student_id": ["b", "a", "c", "a", "b"],
            "module_code": ["M1", "M2", "M1", "M1", "M3"],
            "academic_year": [2025, 2025, 2024, 2025, 2025],
        }
    ).astype(texts)
    sessions = pd.DataFrame(
        {
            "module_code": ["M2", "M1", "M1", "M1", "M2"],
            "academic_year": [2025, 2025, 2025, 2024, 2025],
            "week": [10, 10, 11, 10, 11],
            "online": [False, True, False, False, True],
            "sessions": [2, 1, 3, 4, 1],
        }
    ).astype({"module_code": texts["module_code"]})
    got = _cohort(enrolled, sessions)
    columns = ["student_id", "module_code", "week", "online", "sessions"]
    want = enrolled.merge(sessions, on=["module_code", "academic_year"])[columns]
    order = ["week", "student_id", "online", "module_code"]
    assert got.dtypes.equals(want.dtypes)
    pd.testing.assert_frame_equal(
        got.sort_values(order, ignore_index=True), want.sort_values(order, ignore_index=True)
    )
    # built in the order the engine sorts by (week, student, online, module)
    pd.testing.assert_frame_equal(got, got.sort_values(order, ignore_index=True))
