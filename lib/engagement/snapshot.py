"""The engine's state after the last computed week, as bytes: a new week resumes from it."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.engagement.codes import factor, positions
from lib.engagement.engine import State
from lib.engagement.measures import MODULE_RATE_COLUMNS, MODULE_WEEK_COLUMNS, Carry

FORMAT = 5  # 2: the own-history counters (State.hist); 3: the run of missed submissions;
# 4: the module activity of the weeks before (Carry.module_weeks); 5: raw arrays, not .npz
MAGIC = b"SEDarr05"  # an older .npz snapshot starts with "PK": it reads as another format
_HEADER_SIZE = struct.Struct("<Q")
_ALIGN = 16
# numbers, booleans, dates and fixed-width texts: never objects (nothing is unpickled)
_KINDS = set("biufUM")


@dataclass
class Enrolled:
    """The enrolments a compute spread the cohort's sessions over (student by position in the
    snapshot's students, module by code, academic year), and the store's key of them when read
    (lib.compute.frames.enrolments_key): a later compute whose key is the same takes them from
    here rather than reading 160,000 rows again at 40,000 students."""

    key: str
    s: np.ndarray  # int32: positions in Snapshot.student_ids
    module: np.ndarray  # int32: codes of `modules`
    modules: np.ndarray  # the module codes (fixed-width text)
    year: np.ndarray  # int64: academic year

    @classmethod
    def of(cls, frame: pd.DataFrame, students: pd.Index, key: str) -> Enrolled | None:
        """These enrolments (student_id, module_code, academic_year) by position (None when one
        is of a student the engine does not compute, or has no module: then nothing is kept)."""
        s = positions(frame["student_id"], students)
        codes, modules = factor(frame["module_code"])
        if (s < 0).any() or (codes < 0).any():
            return None
        return cls(
            key,
            s.astype(np.int32),
            codes.astype(np.int32),
            np.asarray(modules, dtype=str),
            frame["academic_year"].to_numpy(np.int64),
        )

    def valid(self, students: int) -> bool:
        """Whether every row names a student of `students` and a module, in equal columns."""
        n = len(self.s)
        if len(self.module) != n or len(self.year) != n:
            return False
        return not n or (
            int(self.s.min()) >= 0
            and int(self.s.max()) < students
            and int(self.module.min()) >= 0
            and int(self.module.max()) < len(self.modules)
        )

    def frame(self, students: pd.Index) -> pd.DataFrame:
        """student_id, module_code (categorical: no text per row), academic_year."""
        ids = pd.Index(np.asarray(students, dtype=object), dtype=object)
        modules = pd.Index(self.modules.astype(object), dtype=object)
        return pd.DataFrame(
            {
                "student_id": pd.Categorical.from_codes(self.s, categories=ids),
                "module_code": pd.Categorical.from_codes(self.module, categories=modules),
                "academic_year": self.year,
            }
        )


@dataclass
class Snapshot:
    """Engine state and input carry after `last_week`, for these students and sources (and the
    enrolments read, when kept)."""

    student_ids: pd.Index
    sources: list[str]
    last_week: np.datetime64  # the Monday of the last week computed
    state: State
    carry: Carry
    enrolled: Enrolled | None = None


def dumps(snapshot: Snapshot) -> bytes:
    """The snapshot as bytes (`pack_arrays`: no pickled objects)."""
    return b"".join(dump_parts(snapshot))


def dump_parts(snapshot: Snapshot) -> list:
    """`dumps` as the parts its bytes are joined from (`array_parts`), for a writer that
    compresses them as they come (lib.store.packed.pack_parts) rather than copying them first."""
    st, carry = snapshot.state, snapshot.carry
    shares = np.array(st.shares, float).reshape(len(st.shares), len(snapshot.sources))
    rates = carry.module_rates
    recent = carry.module_weeks
    if recent is None:
        recent = pd.DataFrame({c: np.zeros(0, np.int64) for c in MODULE_WEEK_COLUMNS})
    codes, modules = pd.factorize(recent["module_code"].astype(str))
    arrays = {
        "format": np.array(FORMAT),
        "student_ids": np.asarray(snapshot.student_ids, dtype=str),
        "sources": np.array(snapshot.sources, dtype=str),
        "last_week": np.array(snapshot.last_week, "datetime64[D]"),
        "mpos": np.array(st.mpos),
        "shares": shares,
        **{f"state_{name}": getattr(st, name) for name in State.ARRAYS},
        **{f"hist_{name}": st.hist[name] for name in State.HISTORY},
        "carry_timetabled": carry.timetabled,
        "carry_vle_last_day": carry.vle_last_day,
        "carry_used": carry.used,
        "rates_source": rates["source"].to_numpy(dtype=str),
        "rates_module_code": rates["module_code"].to_numpy(dtype=str),
        "rates_week": rates["week"].to_numpy(np.int64),
        "rates_rate": rates["rate"].to_numpy(float),
        "recent_s": recent["s"].to_numpy(np.int32),
        "recent_module": codes.astype(np.int32),
        "recent_modules": np.asarray(modules, dtype=str),
        "recent_weeks": recent["weeks"].to_numpy(np.uint8),
    }
    if snapshot.enrolled is not None:
        en = snapshot.enrolled
        arrays |= {
            "enrolled_key": np.array(en.key, dtype=str),
            "enrolled_s": en.s,
            "enrolled_module": en.module,
            "enrolled_modules": en.modules,
            "enrolled_year": en.year,
        }
    return array_parts(arrays)


def loads(blob: bytes | memoryview) -> Snapshot | None:
    """The snapshot in these bytes (None when written by another format version, or damaged:
    the compute then passes over every week)."""
    try:
        data = unpack_arrays(blob)
        if data is None or int(data["format"]) != FORMAT:
            return None
        return _from_arrays(data)
    except (ValueError, TypeError, KeyError):
        return None


def _from_arrays(data: dict[str, np.ndarray]) -> Snapshot:
    """The snapshot of these arrays (as `dumps` names them)."""
    arrays = {name: data[f"state_{name}"] for name in State.ARRAYS}
    state = State(
        *(arrays[name] for name in State.ARRAYS[:-1]),
        mpos=int(data["mpos"]),
        open_id=arrays["open_id"],
        shares=list(data["shares"]),
        hist={name: data[f"hist_{name}"] for name in State.HISTORY},
    )
    rates = pd.DataFrame(
        {
            "source": data["rates_source"].astype(object),
            "module_code": data["rates_module_code"].astype(object),
            "week": data["rates_week"],
            "rate": data["rates_rate"],
        }
    )[MODULE_RATE_COLUMNS]
    modules = data["recent_modules"].astype(object)
    recent = pd.DataFrame(
        {
            "s": data["recent_s"].astype(np.int64),
            "module_code": modules[data["recent_module"]] if len(modules) else modules,
            "weeks": data["recent_weeks"],
        }
    )
    carry = Carry(
        data["carry_timetabled"],
        data["carry_vle_last_day"],
        data["carry_used"],
        rates,
        recent,
    )
    students = pd.Index(data["student_ids"].astype(object), name="student_id")
    enrolled = None
    if "enrolled_key" in data:
        enrolled = Enrolled(
            str(data["enrolled_key"]),
            data["enrolled_s"],
            data["enrolled_module"],
            data["enrolled_modules"],
            data["enrolled_year"],
        )
        if not enrolled.valid(len(students)):
            raise ValueError("a stored snapshot's enrolments point past its students or modules")
    return Snapshot(
        students,
        [str(s) for s in data["sources"]],
        data["last_week"].astype("datetime64[D]")[()],
        state,
        carry,
        enrolled,
    )


def pack_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    """Named arrays as MAGIC, the size of a JSON header (name, dtype, shape of each) and the
    arrays' bytes, each at an offset aligned to 16: an .npz archive (a zip file written into a
    growing buffer) took 0.25 s for the 38 MB snapshot of 40,000 students, this a copy."""
    return b"".join(array_parts(arrays))


def array_parts(arrays: dict[str, np.ndarray]) -> list:
    """The parts `pack_arrays` joins: MAGIC, the header's size, the header, then each array's
    own bytes (flat byte views, not copies) after the padding that aligns it."""
    parts, header, offset = [], [], 0
    for name, value in arrays.items():
        array = np.asarray(value)
        if array.dtype.kind not in _KINDS:
            raise TypeError(f"{name}: {array.dtype} arrays are not stored")
        pad = -offset % _ALIGN
        parts.append(b"\0" * pad)
        offset += pad
        header.append([name, array.dtype.str, list(array.shape), offset])
        parts.append(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
        offset += array.nbytes
    head = json.dumps(header).encode()
    return [MAGIC, _HEADER_SIZE.pack(len(head)), head, *parts]


def unpack_arrays(blob: bytes | memoryview) -> dict[str, np.ndarray] | None:
    """The arrays `pack_arrays` wrote, None for bytes of another format; every name, type,
    shape and offset is checked against the bytes before it is read. Read-only views of the
    bytes, not copies (38 MB at 40,000 students): the engine copies a state it resumes from
    (State.resumed) and only reads what the inputs carry."""
    blob = memoryview(blob).cast("B")
    if blob[: len(MAGIC)] != MAGIC:
        return None
    (size,) = _HEADER_SIZE.unpack_from(blob, len(MAGIC))
    start = len(MAGIC) + _HEADER_SIZE.size + size
    if start > len(blob):
        raise ValueError("a stored snapshot's header runs past its end: damaged")
    body = blob[start:]
    out = {}
    for name, dtype_text, shape, offset in json.loads(bytes(blob[start - size : start])):
        dtype = np.dtype(dtype_text)
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if dtype.kind not in _KINDS or min(shape, default=0) < 0 or offset < 0:
            raise ValueError(f"a stored snapshot's array {name!r} is damaged")
        if offset + count * dtype.itemsize > len(body):
            raise ValueError(f"a stored snapshot's array {name!r} runs past its end: damaged")
        out[str(name)] = np.frombuffer(body, dtype, count, offset).reshape(shape)
    return out
