"""Engine performance: 40,000 students x a full academic year x 5 sources, synthetic arrays -> JSON.

Prints full-recompute time (engine pass + flag explanations), peak memory, the time of a
straightforward pandas groupby().rolling() baseline and of one vectorised numpy pass over the same
array (ratios against the engine), the incremental time after a one-week load, and the cost of
building the long weekly-measure rows the store holds (persistence is measured by
bench/detection.py's store runs and reported separately).

    python bench/engine.py [--students 40000] [--seed 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.engagement.calendar import exempt_matrix, teaching_weeks, week_range  # noqa: E402
from lib.engagement.config import merge_config  # noqa: E402
from lib.engagement.engine import run  # noqa: E402
from lib.engagement.explain import flags_frame, measures_frame  # noqa: E402
from lib.engagement.measures import Inputs  # noqa: E402

CALENDAR = pd.DataFrame(
    [
        ("term", "2025-09-22", "2025-12-12"),
        ("reading_week", "2025-10-27", "2025-10-31"),
        ("vacation", "2025-12-13", "2026-01-04"),
        ("exam", "2026-01-05", "2026-01-16"),
        ("term", "2026-01-05", "2026-03-27"),
        ("reading_week", "2026-02-16", "2026-02-20"),
        ("vacation", "2026-03-28", "2026-04-19"),
        ("term", "2026-04-20", "2026-06-12"),
        ("exam", "2026-05-18", "2026-06-12"),
        ("vacation", "2026-06-13", "2026-08-31"),
    ],
    columns=["kind", "start", "end"],
)
SOURCES = ["attendance", "online", "vle", "submission", "lecture_capture"]


def synthetic(students: int, seed: int) -> Inputs:
    """Habits per student, weekly noise, 8% of students stopping at a random teaching week."""
    rng = np.random.default_rng(seed)
    weeks = week_range(pd.Timestamp("2025-09-01").date(), pd.Timestamp("2026-08-31").date())
    S, W, K = students, len(weeks), len(SOURCES)
    teaching = teaching_weeks(weeks, CALENDAR)
    act = np.where(teaching, 1.0, 0.1)[None, :]
    stop = np.where(rng.random(S) < 0.08, rng.integers(8, W - 10, S), W)
    alive = np.arange(W)[None, :] < stop[:, None]
    mult = act * np.where(alive, 1.0, 0.03)
    exp_att = np.where(teaching, rng.integers(4, 12, S)[:, None], 0).astype(float)
    exp_onl = np.where(teaching, rng.integers(0, 3, S)[:, None], 0).astype(float)
    att = rng.binomial(exp_att.astype(int), np.clip(rng.beta(6, 2, S)[:, None] * mult, 0, 1))
    onl = rng.binomial(exp_onl.astype(int), np.clip(rng.beta(5, 2, S)[:, None] * mult, 0, 1))
    vle = rng.binomial(7, np.clip(rng.beta(5, 2.5, S)[:, None] * mult * 0.7, 0, 1)).astype(float)
    due = (rng.random((S, W)) < 0.25) & teaching[None, :]
    on_time = due & (rng.random((S, W)) < 0.95 * mult)
    lc = rng.gamma(1.0, 60.0, (S, W)) * (rng.random(S) < 0.65)[:, None] * mult
    count = np.stack([att, onl, vle, on_time.astype(float), lc], axis=-1).astype(float)
    expected = np.full((S, W, K), np.nan)
    expected[:, :, 0] = exp_att
    expected[:, :, 1] = exp_onl
    expected[:, :, 3] = np.where(due, 1.0, np.nan)
    value = count.copy()
    for k in (0, 1, 3):
        e = np.nan_to_num(expected[:, :, k])
        value[:, :, k] = np.where(e > 0, count[:, :, k] / np.where(e > 0, e, 1), np.nan)
    ids = pd.Index([f"S{i:06d}" for i in range(S)], name="student_id")
    ex = pd.DataFrame({"student_id": ids[:: max(1, S // 200)]})
    ex["start"], ex["end"] = "2025-11-03", "2025-11-21"
    vle_days = np.arange(W)[None, :] * 7 + 2
    last = np.maximum.accumulate(np.where(vle > 0, vle_days, -1), axis=1)
    missed = (due & ~on_time & (rng.random((S, W)) < 0.5)).astype(float)
    return Inputs(
        ids,
        weeks,
        teaching,
        exempt_matrix(ids, weeks, ex),
        SOURCES,
        value,
        count,
        expected,
        vle * 3,
        last,
        missed,
    )


def _mad(x: np.ndarray) -> float:
    x = x[~np.isnan(x)]
    return float(np.median(np.abs(x - np.median(x)))) if len(x) else np.nan


def pandas_baseline(inp: Inputs, window: int) -> tuple[float, float]:
    """Seconds for groupby(student, source).rolling(window) median, and median + MAD (the baseline
    and spread the engine keeps), over prior teaching weeks."""
    t = np.flatnonzero(inp.teaching)
    S, K = inp.value.shape[0], inp.value.shape[2]
    frame = pd.DataFrame(
        {
            "student_id": np.repeat(np.arange(S), len(t) * K),
            "source": np.tile(np.arange(K), S * len(t)),
            "week": np.tile(np.repeat(t, K), S),
            "value": inp.value[:, t, :].reshape(-1),
        }
    )
    start = time.perf_counter()
    frame = frame.sort_values(["student_id", "source", "week"])
    frame["prior"] = frame.groupby(["student_id", "source"])["value"].shift(1)
    rolling = frame.groupby(["student_id", "source"])["prior"].rolling(window, min_periods=1)
    frame["baseline"] = rolling.median().reset_index(level=[0, 1], drop=True)
    median_only = time.perf_counter() - start
    frame["mad"] = rolling.apply(_mad, raw=True).reset_index(level=[0, 1], drop=True)
    return median_only, time.perf_counter() - start


def numpy_floor(inp: Inputs, window: int) -> float:
    """Seconds for one vectorised numpy pass: sliding-window nanmedian over the same array."""
    start = time.perf_counter()
    t = np.flatnonzero(inp.teaching)
    v = np.moveaxis(inp.value[:, t, :], 1, 2)  # (S, K, T)
    padded = np.concatenate([np.full(v.shape[:2] + (window,), np.nan), v[:, :, :-1]], axis=2)
    sorted_w = np.sort(np.lib.stride_tricks.sliding_window_view(padded, window, axis=2), axis=-1)
    n = (~np.isnan(sorted_w)).sum(-1)
    lo = np.clip((n - 1) // 2, 0, None)[..., None]
    hi = np.clip(n // 2, 0, window - 1)[..., None]
    _ = (np.take_along_axis(sorted_w, lo, -1) + np.take_along_axis(sorted_w, hi, -1)) / 2
    return time.perf_counter() - start


def persist_sample(inp: Inputs, res, students: int) -> dict:
    """Write the measure rows of the first `students` students into a fresh SQLite store (the
    service's bulk path) and extrapolate to everyone: persistence cost, reported separately."""
    import tempfile

    from lib.compute.results import _write_measures
    from lib.store.db import init_db, session_scope

    folder = Path(tempfile.mkdtemp(prefix="engine_persist_"))
    url = f"sqlite:///{folder / 'store.db'}"
    init_db(url)
    rows = measures_frame(inp, res, np.arange(min(students, len(inp.student_ids))))
    start = time.perf_counter()
    with session_scope(url) as session:
        _write_measures(session, rows)
    seconds = time.perf_counter() - start
    return {
        "rows": len(rows),
        "seconds": round(seconds, 2),
        "rows_per_second": round(len(rows) / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--persist-sample", type=int, default=2000)
    args = parser.parse_args()
    config = merge_config({})
    inp = synthetic(args.students, args.seed)
    rss_inputs = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    W = len(inp.weeks)

    t0 = time.perf_counter()
    full = run(inp, config)
    t_run = time.perf_counter() - t0
    flags = flags_frame(inp, full, config)
    t_full = time.perf_counter() - t0
    rss_full = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    last = W - 1 - int(np.argmax(inp.teaching[::-1]))  # the last teaching week: a weekly load
    part = run(inp, config, until_week=last)
    t1 = time.perf_counter()
    part = run(inp, config, results=part, state=part.state, until_week=last + 1)
    t_incremental = time.perf_counter() - t1
    same = bool(
        np.allclose(part.index[:, last], full.index[:, last], equal_nan=True)
        and np.allclose(part.baseline[:, last], full.baseline[:, last], equal_nan=True)
        and (part.state.open_id == run(inp, config, until_week=last + 1).state.open_id).all()
    )
    t2 = time.perf_counter()
    n_rows = 0
    for i in range(
        0, args.students, 2000
    ):  # as lib.compute.service persists them: per 2,000 students
        n_rows += len(measures_frame(inp, full, np.arange(i, min(i + 2000, args.students))))
    t_rows = time.perf_counter() - t2
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    persist = persist_sample(inp, full, args.persist_sample)
    window = int(config["baseline_weeks"])
    t_pandas_median, t_pandas = pandas_baseline(inp, window)
    t_numpy = numpy_floor(inp, window)
    print(
        json.dumps(
            {
                "students": args.students,
                "weeks": W,
                "teaching_weeks": int(inp.teaching.sum()),
                "sources": len(inp.sources),
                "full_recompute_seconds": round(t_full, 2),
                "engine_pass_seconds": round(t_run, 2),
                "flags": int(len(flags)),
                "incremental_one_week_seconds": round(t_incremental, 3),
                "incremental_equals_full": same,
                "measure_rows": int(n_rows),
                "measure_rows_build_seconds": round(t_rows, 2),
                "peak_rss_mb_after_inputs": round(rss_inputs),
                "peak_rss_mb_after_full_recompute": round(rss_full),
                "peak_rss_mb_incl_measure_rows_in_chunks": round(rss_peak),
                "sqlite_persist_sample": persist,
                "sqlite_persist_all_rows_estimated_seconds": round(
                    n_rows / persist["rows_per_second"]
                ),
                "pandas_groupby_rolling_median_seconds": round(t_pandas_median, 2),
                "pandas_groupby_rolling_median_and_mad_seconds": round(t_pandas, 2),
                "numpy_sliding_window_median_seconds": round(t_numpy, 2),
                "engine_vs_pandas_median_and_mad_speedup": round(t_pandas / t_run, 1),
                "engine_vs_pandas_median_only_speedup": round(t_pandas_median / t_run, 2),
                "engine_vs_numpy_floor_ratio": round(t_run / t_numpy, 2),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
