"""CSV that a spreadsheet cannot run: text cells that could start a formula get a leading apostrophe."""

from __future__ import annotations

import re
from typing import IO, Any

import pandas as pd
from pandas.api.types import is_object_dtype, is_string_dtype

# What Excel, LibreOffice and Google Sheets read as the start of a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise_cell(value: Any) -> Any:
    """The value, with a leading ' when it is text that a spreadsheet would run as a formula.

    Numbers stay numbers: -3 and "-3.5" are left alone, "-3+cmd|' /C calc'!A0" is not."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the frame with every text column neutralised (numeric columns untouched)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        if not (is_object_dtype(series.dtype) or is_string_dtype(series.dtype)):
            continue
        text = series.where(series.map(lambda v: isinstance(v, str)), None)
        risky = text.str.startswith(FORMULA_STARTS, na=False) & ~text.str.fullmatch(
            _NUMBER.pattern, na=False
        )
        if risky.any():
            series = series.astype(object).where(~risky, "'" + text)
        out[column] = series
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


def to_csv(frame: pd.DataFrame, target: IO[str] | None = None, **options: Any) -> str | None:
    """frame.to_csv of the neutralised frame (index off unless asked); text when no target."""
    options.setdefault("index", False)
    return neutralise_frame(frame).to_csv(target, **options)
