"""The weekly measures as stored (one wide row per student-week) and read back as one row per source."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Boolean, Date, Float, Integer, String, select
from sqlalchemy.orm import Session

from lib.sources import ATTENDANCE, CORE_ACTIVITY_SOURCES, ONLINE, SUBMISSION
from lib.store.models import Base, WeeklyMeasure, WeeklyMeasureOther
from lib.store.results_version import measures_visible

INDEX = "index"
# the sources with columns of their own in weekly_measures; bit i of `measured` and `cold` is
# WIDE_SOURCES[i]'s (any other source is stored in weekly_measures_other)
WIDE_SOURCES = (INDEX, *CORE_ACTIVITY_SOURCES)
EXPECTED_SOURCES = (ATTENDANCE, ONLINE, SUBMISSION)  # the others' expected is always empty
LONG_COLUMNS = [
    "student_id",
    "week_start",
    "source",
    "value",
    "expected",
    "baseline",
    "baseline_low",
    "baseline_high",
    "cold_start",
    "teaching",
]
VERSION_COLUMNS = ["v_from", "v_to"]


def source_columns(source: str) -> list[str]:
    """The columns of weekly_measures holding one wide source's measure, in insert order."""
    expected = [f"{source}_expected"] if source in EXPECTED_SOURCES else []
    return [f"{source}_value", *expected, f"{source}_baseline", f"{source}_spread"]


# the columns a compute inserts (v_to stays empty), in this order
WIDE_COLUMNS = [
    "student_id",
    "week_start",
    "v_from",
    "teaching",
    "measured",
    "cold",
    *(c for source in WIDE_SOURCES for c in source_columns(source)),
]
OTHER_COLUMNS = [
    "student_id",
    "week_start",
    "source",
    "v_from",
    "value",
    "expected",
    "baseline",
    "spread",
    "cold_start",
    "teaching",
]


_COPY_TYPES = {Boolean: "bool", Date: "date", Float: "float8", Integer: "int4", String: "text"}


def copy_types(table: str, names: list[str]) -> list[str]:
    """The PostgreSQL types of these columns of a measure table, for a binary COPY (text COPY
    spends most of its time formatting floats)."""
    columns = Base.metadata.tables[table].c
    return [
        next(v for k, v in _COPY_TYPES.items() if isinstance(columns[n].type, k)) for n in names
    ]


def band(baseline: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The usual range of a baseline: two spreads either side, never below zero."""
    return np.maximum(baseline - 2 * spread, 0.0), baseline + 2 * spread


def _floats(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _bits(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").fillna(0).to_numpy(dtype=np.int64)


def long_frame(
    wide: pd.DataFrame, other: pd.DataFrame | None = None, extra: Iterable[str] = ()
) -> pd.DataFrame:
    """One row per source measured (LONG_COLUMNS and the `extra` columns of both frames) from
    wide rows (with the columns of the wide sources present) and rows of weekly_measures_other,
    sorted by student, week and source."""
    extra = list(extra)
    parts = []
    measured, cold = _bits(wide, "measured"), _bits(wide, "cold")
    for bit, source in enumerate(WIDE_SOURCES):
        if f"{source}_value" not in wide.columns:
            continue
        rows = (measured >> bit) & 1 == 1
        part = wide.loc[rows]
        baseline = _floats(part, f"{source}_baseline")
        low, high = band(baseline, _floats(part, f"{source}_spread"))
        expected = f"{source}_expected"
        parts.append(
            pd.DataFrame(
                {
                    "student_id": part["student_id"].to_numpy(),
                    "week_start": part["week_start"].to_numpy(),
                    "source": source,
                    "value": _floats(part, f"{source}_value"),
                    "expected": _floats(part, expected) if expected in part else np.nan,
                    "baseline": baseline,
                    "baseline_low": low,
                    "baseline_high": high,
                    "cold_start": (cold[rows] >> bit) & 1 == 1,
                    "teaching": part["teaching"].astype(bool).to_numpy(),
                    **{c: part[c].to_numpy() for c in extra},
                }
            )
        )
    if other is not None and len(other):
        baseline = _floats(other, "baseline")
        low, high = band(baseline, _floats(other, "spread"))
        parts.append(
            pd.DataFrame(
                {
                    "student_id": other["student_id"].to_numpy(),
                    "week_start": other["week_start"].to_numpy(),
                    "source": other["source"].to_numpy(),
                    "value": _floats(other, "value"),
                    "expected": _floats(other, "expected"),
                    "baseline": baseline,
                    "baseline_low": low,
                    "baseline_high": high,
                    "cold_start": other["cold_start"].astype(bool).to_numpy(),
                    "teaching": other["teaching"].astype(bool).to_numpy(),
                    **{c: other[c].to_numpy() for c in extra},
                }
            )
        )
    columns = [*LONG_COLUMNS, *extra]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)[columns]
    return out.sort_values(["student_id", "week_start", "source"], kind="stable", ignore_index=True)


def read_measures(
    session: Session,
    *,
    students=None,
    week_from: date | None = None,
    week_to: date | None = None,
    teaching: bool | None = None,
    sources: Iterable[str] | None = None,
    every_version: bool = False,
) -> pd.DataFrame:
    """The weekly measures readers see (`every_version`: every stored row, with v_from and v_to)
    as one row per student, week and source measured (LONG_COLUMNS), sorted so: of these
    students (a list or a select of ids), weeks, teaching weeks or not, and sources (None: all)."""
    chosen = None if sources is None else set(sources)
    wide_sources = [s for s in WIDE_SOURCES if chosen is None or s in chosen]
    extra = VERSION_COLUMNS if every_version else []
    frames: list[pd.DataFrame | None] = []
    for model in (WeeklyMeasure, WeeklyMeasureOther):
        if model is WeeklyMeasure:
            names = ["student_id", "week_start", "teaching", "measured", "cold"]
            names += [c for s in wide_sources for c in source_columns(s)]
        else:
            names = [c for c in OTHER_COLUMNS if c != "v_from"]
        names += extra
        query = select(*(getattr(model, c) for c in names))
        if not every_version:
            query = query.where(measures_visible(model))
        if students is not None:
            query = query.where(model.student_id.in_(students))
        if week_from is not None:
            query = query.where(model.week_start >= week_from)
        if week_to is not None:
            query = query.where(model.week_start <= week_to)
        if teaching is not None:
            query = query.where(model.teaching.is_(teaching))
        if model is WeeklyMeasureOther and chosen is not None:
            others = sorted(chosen - set(WIDE_SOURCES))
            if not others:
                frames.append(None)
                continue
            query = query.where(model.source.in_(others))
        rows = session.connection().execute(query).fetchall()
        # built column by column: much faster than from Row objects
        columns = zip(names, zip(*rows, strict=True), strict=True)
        frames.append(pd.DataFrame({c: list(v) for c, v in columns}) if rows else None)
    wide, other = frames
    if wide is None:
        wide = pd.DataFrame(columns=["student_id", "week_start", "teaching", "measured", "cold"])
    out = long_frame(wide, other, extra)
    for column in extra:  # versions are whole numbers (v_to empty until replaced)
        out[column] = out[column].astype("Int64")
    return out
