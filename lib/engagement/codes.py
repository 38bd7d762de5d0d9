"""Text columns as integer codes: the engine's inputs are aligned on positions, never on strings."""

from __future__ import annotations

import numpy as np
import pandas as pd

Rows = dict[str, np.ndarray]  # equal-length columns of located rows (s, w, codes, numbers)


def factor(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(int64 codes, the distinct values as str objects) of a text column; code -1: missing.
    A categorical column gives its own codes; a text one is hashed once (in arrow when
    arrow-backed), so millions of rows never become Python strings."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = np.asarray(column.cat.codes, np.int64)
        values = column.cat.categories
    else:
        raw, values = pd.factorize(column)
        codes = np.asarray(raw, np.int64)
    if pd.api.types.is_string_dtype(values.dtype):
        return codes, np.asarray(values, dtype=object)
    return codes, np.asarray([str(v) for v in values], dtype=object)


def positions(column: pd.Series, index: pd.Index) -> np.ndarray:
    """Each row's position in `index` (of str) by its value as text, -1 when not there."""
    codes, values = factor(column)
    where = index.get_indexer(pd.Index(values, dtype=object)) if len(values) else []
    return np.append(np.asarray(where, np.int64), -1)[codes]


def recode(codes: np.ndarray, values: np.ndarray, vocabulary: pd.Index) -> np.ndarray:
    """Codes of `values` as codes of a vocabulary holding every value (-1 stays -1)."""
    where = vocabulary.get_indexer(pd.Index(values, dtype=object)) if len(values) else []
    return np.append(np.asarray(where, np.int64), -1)[codes]


def subset(rows: Rows, mask: np.ndarray) -> Rows:
    """The rows where mask holds."""
    if mask.all():
        return rows
    return {name: column[mask] for name, column in rows.items()}


def distinct_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the sorted distinct values, each row's position among them) of an int64 key: by
    sorting (a hash table of a million distinct keys misses the cache on every row)."""
    if not len(keys):
        return keys, np.zeros(0, np.int64)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    new = np.r_[True, ordered[1:] != ordered[:-1]]
    inverse = np.empty(len(keys), np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse


def distinct_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first position of each distinct row, each row's distinct number) of equal-length 1-d
    columns (NaN equals NaN), by hashing: no sort."""
    code = np.zeros(len(columns[0]), np.int64)
    for column in columns:
        part, values = pd.factorize(column, use_na_sentinel=False)
        code, _ = pd.factorize(code * (len(values) + 1) + part)  # stays below the row count
    first = np.zeros(int(code.max()) + 1 if len(code) else 0, np.int64)
    first[code[::-1]] = np.arange(len(code))[::-1]
    return first, code
