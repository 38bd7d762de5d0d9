"""The vectorised daily aggregation, its exact row keys and the pyarrow number fast path equal pandas."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from lib.ingest.keys import combined_key, iso_days
from lib.ingest.readers import _duplicated, _plain_numbers
from lib.ingest.store import KEYS, aggregate_activity


def reference(frame: pd.DataFrame) -> pd.DataFrame:
    """The aggregation as a pandas groupby, sorted by the key (what aggregate_activity replaced)."""
    frame = frame.assign(
        day=pd.to_datetime(frame["day"]).dt.normalize(),
        module_code=frame["module_code"].fillna("").astype(str),
        has_minutes=frame["minutes"].notna(),
    )
    out = frame.groupby(KEYS).agg(
        quantity=("quantity", "sum"), minutes=("minutes", "sum"), has_minutes=("has_minutes", "any")
    )
    out.loc[~out["has_minutes"], "minutes"] = np.nan
    return out.drop(columns="has_minutes").reset_index()


def events(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    minute = pd.to_timedelta(rng.integers(0, 6 * 24 * 60, rows), unit="min")
    return pd.DataFrame(
        {
            "student_id": rng.choice(["20240001", "20240002", "Zoë", "ß1", None], rows),
            "source": rng.choice(["vle", "library", "lecture_capture"], rows),
            "day": pd.Timestamp("2024-10-01") + minute,
            "module_code": rng.choice(["COMP1001", "", None, "MATH1001"], rows),
            "quantity": rng.choice([1.0, 2.5, 7.0, np.nan], rows),
            "minutes": rng.choice([np.nan, np.nan, 3.0, 0.5], rows),
        }
    )


def as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.reset_index(drop=True)
    out["day"] = out["day"].astype("datetime64[ns]")
    return out.astype({"student_id": object, "source": object, "module_code": object})


@pytest.mark.parametrize(("rows", "seed"), [(1, 1), (2, 2), (50, 3), (5_000, 4)])
def test_aggregate_equals_groupby(rows: int, seed: int):
    frame = events(rows, seed)
    got = aggregate_activity(frame)
    pd.testing.assert_frame_equal(as_objects(got), as_objects(reference(frame)))
    assert got["student_id"].notna().all() and got["module_code"].notna().all()


def test_aggregate_of_string_columns_and_one_key():
    """pandas' own string dtype in, Python strings out; every row on one key sums to one row."""
    frame = events(300, 5).dropna(subset=["student_id"]).astype({"student_id": "str"})
    frame = frame.assign(student_id="20240001", source="vle", module_code="X", day="2024-10-02")
    got = aggregate_activity(frame)
    assert len(got) == 1
    assert got["student_id"].dtype == object and got.loc[0, "student_id"] == "20240001"
    assert got.loc[0, "quantity"] == frame["quantity"].sum()
    assert got.loc[0, "minutes"] == frame["minutes"].sum()


def test_combined_key_orders_as_the_tuples_even_past_64_bits():
    """Digits too large to multiply in 64 bits are re-factorised: order and equality still exact."""
    big = 1 << 40
    columns = [
        np.array([0, big, big, 3, big, 0]),
        np.array([big, 0, 0, 1, 0, big]),
        np.array([5, big - 1, big - 1, 0, 2, 5]),
    ]
    key = combined_key(columns)
    tuples = list(zip(*columns, strict=True))
    for i, j in itertools.product(range(len(tuples)), repeat=2):
        assert (key[i] < key[j]) == (tuples[i] < tuples[j])
        assert (key[i] == key[j]) == (tuples[i] == tuples[j])


def test_iso_days():
    days = np.array(["2024-10-02", "1999-12-31", "2024-10-02"], dtype="datetime64[D]")
    assert iso_days(days).tolist() == ["2024-10-02", "1999-12-31", "2024-10-02"]


@pytest.mark.parametrize("dtype", ["str", object])
def test_plain_numbers_equal_to_numeric(dtype):
    values = ["0", "7", "0007", "12.5", "", "99999", "3.14159", "100000.25"]
    got = _plain_numbers(pd.Series(values, dtype=dtype))
    assert got is not None
    expected = pd.to_numeric(pd.Series(values, dtype=object).replace("", np.nan)).astype(float)
    pd.testing.assert_series_equal(got, expected, check_names=False)


@pytest.mark.parametrize("odd", [" 1", "1e3", "nan", "inf", "-1", "+1", "1.", ".5", "١", "1,0"])
def test_plain_numbers_leave_anything_else_to_pandas(odd: str):
    """One value that is not a plain decimal sends the whole column to pd.to_numeric."""
    assert _plain_numbers(pd.Series(["1", odd], dtype="str")) is None


@pytest.mark.parametrize(("rows", "seed"), [(0, 1), (1, 2), (300, 3), (20_000, 4)])
@pytest.mark.parametrize("dtype", ["str", object])
def test_duplicated_equals_pandas(rows: int, seed: int, dtype):
    """Repeated rows by their codes equal DataFrame.duplicated (missing values equal each other)."""
    rng = np.random.default_rng(seed)
    keys = pd.DataFrame(
        {
            "student_id": rng.choice(["20240001", "20240002", "Zoë", "", None], rows),
            "occurred_at": rng.choice(["2024-10-01T09:00", "2024-10-01T09:01", "x"], rows),
            "quantity": rng.choice(["1", "2", "1.0"], rows),
            "minutes": rng.choice(["", "5", None], rows),
        },
        dtype=dtype,
    )
    expected = keys.duplicated(keep="first").to_numpy()
    np.testing.assert_array_equal(_duplicated(keys), expected)
    assert rows < 300 or expected.any() and not expected.all()
