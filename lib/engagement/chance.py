"""Survival functions of the engine's chance models, computed once per distinct argument tuple."""

from __future__ import annotations

import numpy as np
from scipy.stats import betabinom

from lib.engagement.codes import distinct_rows


def betabinom_sf(k, n, a, b) -> np.ndarray:
    """scipy's betabinom.sf(k, n, a, b), element for element the same numbers: scipy sums the
    pmf in Python once per element (no closed form), while the arguments across a cohort take
    few distinct values (small counts), so each distinct (k, n, a, b) is evaluated once."""
    args = [x.ravel() for x in np.broadcast_arrays(*(np.asarray(x) for x in (k, n, a, b)))]
    shape = np.broadcast_shapes(*(np.shape(x) for x in (k, n, a, b)))
    if not args[0].size:
        return np.asarray(betabinom.sf(*args), np.float64).reshape(shape)
    first, code = distinct_rows(*args)
    distinct = np.asarray(betabinom.sf(*(x[first] for x in args)), np.float64)
    return distinct[code].reshape(shape)
