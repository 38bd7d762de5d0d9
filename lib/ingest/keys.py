"""Row keys of several columns as one int64 each (exact, no hashing), and columns rebuilt from codes."""

from __future__ import annotations

import numpy as np
import pandas as pd

SAFE_RANGE = 1 << 62


def combined_key(codes: list[np.ndarray]) -> np.ndarray:
    """One int64 per row, ordered as the tuple of its codes (each an int array 0..n-1): a mixed
    radix number, re-factorised whenever the next digit could overflow (hostile cardinalities)."""
    key = np.asarray(codes[0], dtype=np.int64)
    for digit in codes[1:]:
        base = int(digit.max()) + 1 if len(digit) else 1
        if (int(key.max()) + 1 if len(key) else 1) * base >= SAFE_RANGE:
            key = pd.factorize(key, sort=True)[0].astype(np.int64)
        key = key * base + np.asarray(digit, dtype=np.int64)
    return key


def taken(uniques: object, codes: np.ndarray) -> pd.Series:
    """The values at `codes` of a factorisation's uniques, as Python objects (what the drivers
    take; pandas' string arrays would be converted row by row again when written)."""
    return pd.Series(np.asarray(uniques, dtype=object).take(codes), dtype=object)


def iso_days(days: np.ndarray) -> pd.Series:
    """datetime64 days as ISO date strings (YYYY-MM-DD), converting each distinct day once."""
    codes, uniques = pd.factorize(days.astype("datetime64[D]"))
    return taken(np.asarray(uniques, dtype="datetime64[D]").astype(str), codes)
