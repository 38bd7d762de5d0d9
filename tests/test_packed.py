"""Large stored values packed with zstd: round trip, values stored bare before, damaged sizes."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from lib.store.packed import MAGIC, pack, unpack


def _npz(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def test_a_packed_archive_unpacks_to_the_same_bytes_and_is_smaller():
    data = _npz(counts=np.zeros((40_000, 8)), ids=np.arange(40_000))
    packed = pack(data)
    assert packed.startswith(MAGIC)
    assert len(packed) < len(data) / 10
    assert unpack(packed) == data
    assert unpack(memoryview(packed)) == data  # as PostgreSQL's driver gives it


def test_a_value_stored_before_packing_reads_as_it_is():
    bare = _npz(x=np.arange(10))
    assert bare.startswith(b"PK")
    assert unpack(bare) == bare


def test_an_empty_value_packs_and_unpacks():
    assert unpack(pack(b"")) == b""


def test_a_packed_value_claiming_an_absurd_size_is_refused():
    damaged = MAGIC + struct.pack("<Q", 1 << 40) + pack(b"abc")[len(MAGIC) + 8 :]
    with pytest.raises(ValueError, match="damaged"):
        unpack(damaged)
