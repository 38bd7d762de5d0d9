"""Large binary values (weekly activity totals, engine snapshots) compressed with zstd before they
are stored: a 38 MB snapshot of 40,000 students packs to ~5 MB in ~0.07 s, and SQLite frees a
value's pages one by one when it is replaced, so every stored megabyte costs on write and delete."""

from __future__ import annotations

import struct
from collections.abc import Iterable

import pyarrow as pa
from typing_extensions import Buffer  # collections.abc.Buffer from Python 3.12

MAGIC = b"SEDzstd1"  # an .npz archive (a zip file) starts with "PK": values stored bare read as they are
_SIZE = struct.Struct("<Q")
_CODEC = pa.Codec("zstd", compression_level=1)  # level 3 packs 5% smaller in 20% more time
MAX_UNPACKED = 1 << 34  # 16 GiB: a stored size past it is a damaged value, not a snapshot


def pack(data: bytes) -> bytes:
    """The value as stored: MAGIC, its size, its zstd frame."""
    return MAGIC + _SIZE.pack(len(data)) + _CODEC.compress(data, asbytes=True)


def pack_parts(parts: Iterable[Buffer]) -> bytes:
    """`pack` of these parts joined, compressed as they come (one zstd frame, which `unpack`
    reads as it reads any): the joined copy of a 38 MB snapshot cost more than compressing it,
    its first touch of fresh memory included."""
    sink = pa.BufferOutputStream()
    size = 0
    with pa.CompressedOutputStream(sink, "zstd") as stream:
        for part in parts:
            view = memoryview(part).cast("B")
            stream.write(view)
            size += view.nbytes
    return MAGIC + _SIZE.pack(size) + sink.getvalue().to_pybytes()


def unpack(blob: bytes) -> bytes:
    """The value a stored blob holds (a value stored before packing was introduced as it is)."""
    return bytes(unpack_view(blob))


def unpack_view(blob: bytes) -> memoryview:
    """`unpack` as a read-only view of a buffer of Arrow's memory pool, not a new bytes object:
    a fresh 38 MB bytes object at 40,000 students cost ~10,000 first-touch page faults (as much as
    decompressing it), the pool's memory a few dozen."""
    blob = bytes(blob)  # PostgreSQL's driver gives a memoryview
    if not blob.startswith(MAGIC):
        return memoryview(blob)
    (size,) = _SIZE.unpack_from(blob, len(MAGIC))
    if size > MAX_UNPACKED:
        raise ValueError(f"a packed value claims {size} bytes: damaged")
    frame = pa.py_buffer(blob)[len(MAGIC) + _SIZE.size :]
    return memoryview(_CODEC.decompress(frame, decompressed_size=size)).toreadonly()
