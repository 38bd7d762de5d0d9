"""The numpy-built binary COPY stream: what PostgreSQL stores from it equals the columns given
(NULLs, texts of several lengths and scripts, dates, flags, integers), and it is well formed."""

from __future__ import annotations

import os

import numpy as np
import pytest

from lib.store.pgcopy import SIGNATURE, TRAILER, binary_rows

URL = os.environ.get("TEST_DATABASE_URL", "").strip()


def _columns():
    rng = np.random.default_rng(3)
    n = 2_000
    ids = np.array([f"S{i % 300:0{1 + i % 4}d}" for i in range(n)], dtype=object)
    ids[5] = "Zoë-Łukasz"  # non-ASCII: lengths are in UTF-8 bytes
    ids[6] = ""
    floats = rng.normal(size=n)
    floats[rng.random(n) < 0.4] = np.nan
    weeks = np.datetime64("2025-09-22") + 7 * rng.integers(0, 40, n).astype("timedelta64[D]")
    weeks[7] = np.datetime64("1999-12-27")  # before PostgreSQL's epoch: a negative day
    names = [None if i % 97 == 0 else f"src{i % 3}" for i in range(n)]
    return [
        ids,
        weeks,
        rng.random(n) < 0.5,
        rng.integers(-(2**31), 2**31, n),
        floats,
        np.array(names, dtype=object),
    ]


@pytest.mark.postgres
@pytest.mark.skipif(not URL, reason="needs TEST_DATABASE_URL (set by .ci/run)")
def test_what_postgresql_stores_equals_the_columns():
    import psycopg

    columns = _columns()
    kinds = ["text", "date", "bool", "int4", "float8", "text"]
    half = len(columns[0]) // 2  # sent in two parts, as a long COPY is
    parts = [binary_rows([c[:half] for c in columns], kinds)]
    parts.append(binary_rows([c[half:] for c in columns], kinds))
    url = URL.replace("postgresql+psycopg://", "postgresql://")  # a temp table only
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE t (i serial, s text, d date, b bool, n int4, f float8, o text)"
        )
        with cursor.copy("COPY t (s, d, b, n, f, o) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(SIGNATURE)
            for part in parts:
                copy.write(part)
            copy.write(TRAILER)
        cursor.execute("SELECT s, d, b, n, f, o FROM t")
        stored = cursor.fetchall()
    want = {
        (
            columns[0][r],
            columns[1][r].astype(object),
            bool(columns[2][r]),
            int(columns[3][r]),
            None if np.isnan(columns[4][r]) else float(columns[4][r]),
            columns[5][r],
        )
        for r in range(len(columns[0]))
    }
    assert len(stored) == len(columns[0])
    assert set(stored) == want


def test_an_int4_column_out_of_range_is_refused():
    with pytest.raises(ValueError, match="int4"):
        binary_rows([np.array([2**31])], ["int4"])


def test_no_columns_or_no_rows_are_no_bytes():
    assert binary_rows([], []) == b""
    assert binary_rows([np.array([], dtype=object), np.array([])], ["text", "float8"]) == b""
