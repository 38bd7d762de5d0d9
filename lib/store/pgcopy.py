"""PostgreSQL's binary COPY stream built from numpy columns at once, not row by row: rows of one
layout (which cells are NULL, how long each text is) are packed as one numpy record array."""

from __future__ import annotations

import numpy as np
import pandas as pd

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_EPOCH = np.datetime64("2000-01-01", "D")
TYPES = ("bool", "date", "float8", "int4", "int8", "text")


def _text(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(present, UTF-8 bytes as a fixed-width array, length of each) of a text column (each
    distinct text encoded once)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    encoded = [str(u).encode("utf-8") for u in uniques] or [b""]
    lengths = np.array([len(e) for e in encoded], np.int64)
    width = max(int(lengths.max()), 1)
    table = np.array(encoded, dtype=f"S{width}")
    present = codes >= 0
    safe = np.where(present, codes, 0)
    return present, table[safe], np.where(present, lengths[safe], 0)


def _fixed(values: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(present, big-endian payload) of a fixed-width column."""
    if kind == "float8":
        values = np.asarray(values, dtype=np.float64)
        return ~np.isnan(values), values.astype(">f8")
    if kind == "date":
        days = np.asarray(values).astype("datetime64[D]")
        present = ~np.isnat(days)
        return present, np.where(present, (days - PG_EPOCH).astype(np.int64), 0).astype(">i4")
    if kind == "bool":
        return np.ones(len(values), bool), np.asarray(values, dtype=bool).astype(np.uint8)
    big = ">i4" if kind == "int4" else ">i8"
    ints = np.asarray(values, dtype=np.int64)
    if kind == "int4" and len(ints) and (ints.min() < -(2**31) or ints.max() >= 2**31):
        raise ValueError("a value does not fit int4")
    return np.ones(len(values), bool), ints.astype(big)


def binary_copy(columns: list[np.ndarray], kinds: list[str]) -> bytes:
    """The whole COPY ... FROM STDIN (FORMAT BINARY) stream of these columns (NaN, NaT and None
    as NULL), signature and trailer included: rows are grouped by layout, so their order in the
    stream is not the columns' order."""
    if not columns:
        return SIGNATURE + TRAILER
    n = len(columns[0])
    cells: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []  # lengths: texts only
    for column, kind in zip(columns, kinds, strict=True):
        if kind not in TYPES:
            raise ValueError(f"no binary encoding for {kind}")
        if kind == "text":
            cells.append(_text(np.asarray(column, dtype=object)))
        else:
            cells.append((*_fixed(column, kind), None))
    # a row's layout: which cells are present, and each text's length
    key = np.zeros(n, np.int64)
    parts = []
    for present, _, lengths in cells:
        parts.append(present.astype(np.int64))
        if lengths is not None:
            parts.append(lengths)
    layout = np.stack(parts, axis=1) if n else np.zeros((0, len(parts)), np.int64)
    shapes, key = np.unique(layout, axis=0, return_inverse=True)
    key = key.reshape(-1)
    out = [SIGNATURE]
    field_count = np.array(len(cells), ">i2")
    for g, shape in enumerate(shapes):
        rows = np.flatnonzero(key == g)
        fields: list[tuple[str, str]] = [("n", ">i2")]
        values: dict[str, np.ndarray] = {"n": field_count}
        p = 0
        for c, (_present, payload, lengths) in enumerate(cells):
            on = bool(shape[p])
            p += 1
            size = payload.dtype.itemsize
            if lengths is not None:
                size = int(shape[p])
                p += 1
            fields.append((f"l{c}", ">i4"))
            values[f"l{c}"] = np.array(size if on else -1, ">i4")
            if on and size:
                if lengths is not None:
                    fields.append((f"v{c}", f"S{size}"))
                    values[f"v{c}"] = payload[rows].astype(f"S{size}")
                else:
                    fields.append((f"v{c}", payload.dtype.str))
                    values[f"v{c}"] = payload[rows]
        record = np.zeros(len(rows), dtype=np.dtype(fields))
        for name, column in values.items():
            record[name] = column
        out.append(record.tobytes())
    out.append(TRAILER)
    return b"".join(out)
