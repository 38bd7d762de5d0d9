"""Large stored values packed with zstd: round trip, values stored bare before, damaged sizes."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from lib.store.packed import MAGIC, pack, pack_parts, unpack, unpack_view


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


def test_parts_packed_as_they_come_unpack_to_their_joined_bytes():
    parts = [b"head", np.arange(50_000, dtype=np.int64).view(np.uint8), memoryview(b""), b"tail"]
    joined = b"".join(bytes(memoryview(p)) for p in parts)
    packed = pack_parts(parts)
    assert packed.startswith(MAGIC)
    assert len(packed) < len(joined) / 4
    assert unpack(packed) == joined
    assert unpack(memoryview(packed)) == joined
    assert pack_parts([]) != b"" and unpack(pack_parts([])) == b""


def test_an_unpacked_view_is_read_only_and_holds_the_value():
    data = _npz(counts=np.ones((1000, 8)))
    for blob in (pack(data), pack_parts([data]), data):  # packed at once, as they come, bare
        view = unpack_view(blob)
        assert view.readonly
        assert view.tobytes() == data
