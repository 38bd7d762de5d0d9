"""The engine's weekly measures as stored: columns of one wide row per student-week, other sources beside."""

from __future__ import annotations

import numpy as np

from lib.engagement.engine import Results
from lib.engagement.measures import Inputs
from lib.store.measures import EXPECTED_SOURCES, INDEX, WIDE_SOURCES


def wide_measures(
    inp: Inputs, res: Results, sel: np.ndarray, first_week: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The rows of lib.engagement.explain.measures_frame for these students (positions) from
    week `first_week` on, as columns: one wide row per student-week with any source measured
    (the weeks with an index row), named as weekly_measures' columns; and the rows of sources
    without columns there, named as weekly_measures_other's (v_from left to the writer)."""
    sel = np.asarray(sel, dtype=np.int64)
    cell = inp.used_so_far(sel)[:, first_week:]  # (n, W - first_week, K)
    s_i, w_i = np.nonzero(cell.any(2))
    s, w = sel[s_i], w_i + first_week
    on_all = cell[s_i, w_i]  # (rows, K)
    ids = inp.student_ids.to_numpy()
    wide: dict[str, np.ndarray] = {
        "student_id": ids[s],
        "week_start": inp.weeks[w],
        "teaching": inp.teaching[w].astype(bool),
        f"{INDEX}_value": res.index[s, w].astype(float),
        f"{INDEX}_baseline": res.index_base[s, w].astype(float),
        f"{INDEX}_spread": res.index_spread[s, w].astype(float),
    }
    measured = np.ones(len(s), np.int64)  # the index: bit 0
    cold = res.index_cold[s, w].astype(np.int64)
    for bit, source in enumerate(WIDE_SOURCES[1:], start=1):
        arrays = [("value", inp.value), ("baseline", res.baseline), ("spread", res.spread)]
        if source in EXPECTED_SOURCES:
            arrays.append(("expected", inp.expected))
        if source not in inp.sources:
            for name, _ in arrays:
                wide[f"{source}_{name}"] = np.full(len(s), np.nan)
            continue
        k = inp.sources.index(source)
        on = on_all[:, k]
        measured |= on.astype(np.int64) << bit
        cold |= (on & res.cold[s, w, k].astype(bool)).astype(np.int64) << bit
        for name, array in arrays:
            wide[f"{source}_{name}"] = np.where(on, array[s, w, k].astype(float), np.nan)
    wide["measured"], wide["cold"] = measured, cold
    others = [k for k, source in enumerate(inp.sources) if source not in WIDE_SOURCES]
    r, k_o = np.nonzero(on_all[:, others])
    ko = np.asarray(others, dtype=np.int64)[k_o]
    so, wo = s[r], w[r]
    other = {
        "student_id": ids[so],
        "week_start": inp.weeks[wo],
        "source": np.array(inp.sources, dtype=object)[ko],
        "value": inp.value[so, wo, ko].astype(float),
        "expected": inp.expected[so, wo, ko].astype(float),
        "baseline": res.baseline[so, wo, ko].astype(float),
        "spread": res.spread[so, wo, ko].astype(float),
        "cold_start": res.cold[so, wo, ko].astype(bool),
        "teaching": inp.teaching[wo].astype(bool),
    }
    return wide, other
