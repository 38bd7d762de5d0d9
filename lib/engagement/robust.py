"""Robust statistics over ring buffers with gaps (NaN): median and MAD along the last axis."""

from __future__ import annotations

import numpy as np


def median_mad(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(median, MAD, count) of the non-NaN values along the last axis (NaN median when empty)."""
    n = (~np.isnan(buf)).sum(axis=-1)
    ordered = np.sort(buf, axis=-1)  # NaN sorts last
    med = _middle(ordered, n)
    # the deviations in the sorted copy's memory, not in new temporaries: fresh memory is paid
    # page by page on first touch (15 MB of buffers at 40,000 students)
    dev = np.subtract(buf, med[..., None], out=ordered)
    np.abs(dev, out=dev)
    dev.sort(axis=-1)
    return med, _middle(dev, n), n


def _middle(ordered: np.ndarray, n: np.ndarray) -> np.ndarray:
    lo = np.clip((n - 1) // 2, 0, None)[..., None]
    hi = np.clip(n // 2, 0, ordered.shape[-1] - 1)[..., None]
    mid = (np.take_along_axis(ordered, lo, -1) + np.take_along_axis(ordered, hi, -1))[..., 0] / 2
    return np.where(n > 0, mid, np.nan)


def nan_median_columns(values: np.ndarray) -> np.ndarray:
    """Median of each column ignoring NaN (NaN for an empty column), without warnings."""
    out = np.full(values.shape[1], np.nan)
    for k in range(values.shape[1]):  # a handful of sources
        column = values[:, k]
        column = column[~np.isnan(column)]
        if len(column):
            out[k] = np.median(column)
    return out
