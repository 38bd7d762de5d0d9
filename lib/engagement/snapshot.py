"""The engine's state after the last computed week, as bytes: a new week resumes from it."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.engagement.engine import State
from lib.engagement.measures import MODULE_RATE_COLUMNS, MODULE_WEEK_COLUMNS, Carry

FORMAT = 4  # 2: the own-history counters (State.hist); 3: the run of missed submissions;
# 4: the module activity of the weeks before (Carry.module_weeks)


@dataclass
class Snapshot:
    """Engine state and input carry after `last_week`, for these students and sources."""

    student_ids: pd.Index
    sources: list[str]
    last_week: np.datetime64  # the Monday of the last week computed
    state: State
    carry: Carry


def dumps(snapshot: Snapshot) -> bytes:
    """The snapshot as an .npz archive (no pickled objects)."""
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
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def loads(blob: bytes) -> Snapshot | None:
    """The snapshot in these bytes (None when written by another format version)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        if int(data["format"]) != FORMAT:
            return None
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
        return Snapshot(
            pd.Index(data["student_ids"].astype(object), name="student_id"),
            [str(s) for s in data["sources"]],
            data["last_week"].astype("datetime64[D]")[()],
            state,
            carry,
        )
