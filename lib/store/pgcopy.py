"""PostgreSQL's binary COPY stream built from numpy columns at once, not row by row: every row
packed at its widest as one numpy record array, then the bytes of NULL payloads and of texts'
padding left out."""

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


def binary_rows(columns: list[np.ndarray], kinds: list[str]) -> bytes:
    """The rows of these columns (NaN, NaT and None as NULL) as a COPY ... FROM STDIN (FORMAT
    BINARY) stream carries them: the stream is SIGNATURE, any number of such parts, TRAILER."""
    if not columns:
        return b""
    n = len(columns[0])
    fields: list[tuple[str, str]] = [("n", ">i2")]
    cells = []  # (field name, present, payload, byte count of each row's payload)
    for c, (column, kind) in enumerate(zip(columns, kinds, strict=True)):
        if kind not in TYPES:
            raise ValueError(f"no binary encoding for {kind}")
        if kind == "text":
            present, payload, sizes = _text(np.asarray(column, dtype=object))
        else:
            present, payload = _fixed(column, kind)
            sizes = np.full(n, payload.dtype.itemsize, np.int64)
        fields += [(f"l{c}", ">i4"), (f"v{c}", payload.dtype.str)]
        cells.append((f"v{c}", present, payload, np.where(present, sizes, 0)))
    # every row at its widest (a NULL's payload, a text's padding), then those bytes left out
    dtype = np.dtype(fields)
    record = np.zeros(n, dtype=dtype)
    record["n"] = len(cells)
    keep = np.ones((n, dtype.itemsize), bool)
    offsets = {name: spec[1] for name, spec in (dtype.fields or {}).items()}
    for name, present, payload, sizes in cells:
        record[f"l{name[1:]}"] = np.where(present, sizes, -1)
        record[name] = payload
        start, width = offsets[name], payload.dtype.itemsize
        keep[:, start : start + width] = np.arange(width) < sizes[:, None]
    return record.view(np.uint8).reshape(n, dtype.itemsize)[keep].tobytes()
