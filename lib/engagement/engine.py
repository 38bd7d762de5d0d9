"""The week-by-week engine: own baselines, combined index, systemic drops and flags for all students.

One pass over the weeks, every step vectorised over all students and sources at once. Each student
keeps a ring buffer of their last `baseline_weeks` accepted teaching-week values per source; the
baseline is its median and the spread its MAD (robust to outliers). A week enters the buffer only when
it is not itself a drop (value >= accept_ratio x baseline), so a student who stops does not drag their
own baseline down and their flag stays open until they return. Cold start: with fewer than
`min_history` accepted weeks the baseline blends the own median with the cohort median of that week
(the prior), weight n/min_history, and rows are labelled cold_start. Non-teaching and exempt weeks never
flag and never enter baselines; systemic source weeks are masked for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lib.engagement.config import source_setting
from lib.engagement.measures import Inputs
from lib.engagement.robust import median_mad, nan_median_columns

NO_ENGAGEMENT, INDEX_DROP, SOURCE_DROP, MISSED = range(4)
COLUMN = {NO_ENGAGEMENT: 0, INDEX_DROP: 1, MISSED: 2}  # open_id columns; sources at 3 + k
KIND_NAMES = ("no_engagement", "index_drop", "source_drop", "missed_submissions")
SEVERITIES = ("low", "medium", "high")


@dataclass
class State:
    """Everything carried from one week to the next (so a new week can resume from here)."""

    buf: np.ndarray  # (S, K, B) accepted source values
    pos: np.ndarray  # (S, K) next ring slot
    ibuf: np.ndarray  # (S, B) accepted index values
    ipos: np.ndarray  # (S,)
    ewma: np.ndarray  # (S,)
    run_zero: np.ndarray  # (S,)
    run_index: np.ndarray  # (S,)
    run_source: np.ndarray  # (S, K)
    missed_ring: np.ndarray  # (S, M)
    mpos: int
    open_id: np.ndarray  # (S, 3 + K) open flag id per (kind, source) or -1
    next_week: int = 0
    stats: tuple | None = None  # cached robust stats of the buffers (None after a change)
    shares: list = field(default_factory=list)  # (K,) share of users dropping, per teaching week
    starts: list = field(default_factory=list)  # arrays (s, w, kind, k, severity, run)
    ends: list = field(default_factory=list)  # arrays (flag id, w)
    n_flags: int = 0

    @classmethod
    def empty(cls, S: int, K: int, config: dict) -> State:
        B, M = int(config["baseline_weeks"]), int(config["missed_window_weeks"])
        return cls(
            np.full((S, K, B), np.nan),
            np.zeros((S, K), np.int64),
            np.full((S, B), np.nan),
            np.zeros(S, np.int64),
            np.ones(S),
            np.zeros(S, np.int64),
            np.zeros(S, np.int64),
            np.zeros((S, K), np.int64),
            np.zeros((S, M)),
            0,
            np.full((S, 3 + K), -1, np.int64),
        )


@dataclass
class Results:
    """Engine output arrays (aligned with Inputs) plus the flag and data-quality event records."""

    baseline: np.ndarray  # (S, W, K)
    spread: np.ndarray  # (S, W, K)
    cold: np.ndarray  # (S, W, K)
    ratio: np.ndarray  # (S, W, K) value / baseline for sources the student uses (NaN otherwise)
    index: np.ndarray  # (S, W)
    index_base: np.ndarray  # (S, W)
    index_spread: np.ndarray  # (S, W)
    index_cold: np.ndarray  # (S, W)
    masked: np.ndarray  # (W, K) systemic source weeks
    source_events: list = field(default_factory=list)  # (w, k, share, students)
    state: State | None = None


def allocate(S: int, W: int, K: int) -> Results:
    """Empty result arrays (float32 to bound memory)."""
    f = lambda *shape: np.full(shape, np.nan, np.float32)  # noqa: E731
    return Results(
        f(S, W, K),
        f(S, W, K),
        np.zeros((S, W, K), bool),
        f(S, W, K),
        f(S, W),
        f(S, W),
        f(S, W),
        np.zeros((S, W), bool),
        np.zeros((W, K), bool),
    )


def _push(buf: np.ndarray, pos: np.ndarray, accept: np.ndarray, values: np.ndarray) -> None:
    """Write accepted values into each cell's ring buffer slot and advance those slots."""
    idx = np.nonzero(accept)
    slot = pos[idx]
    buf[(*idx, slot)] = values[idx]
    pos[idx] = (slot + 1) % buf.shape[-1]


def run(
    inp: Inputs,
    config: dict,
    results: Results | None = None,
    state: State | None = None,
    until_week: int | None = None,
) -> Results:
    """Compute weeks state.next_week .. until_week-1 (all by default), resuming from `state`."""
    S, W, K = inp.value.shape
    res = results if results is not None else allocate(S, W, K)
    st = state if state is not None else State.empty(S, K, config)
    weights = np.array([source_setting(config, "index_weights", s) for s in inp.sources])
    min_base = np.array([source_setting(config, "min_baseline", s) for s in inp.sources])
    src_min = np.array([source_setting(config, "source_min_baseline", s) for s in inp.sources])
    is_rate = np.array([s in ("attendance", "online") for s in inp.sources])
    mh = int(config["min_history"])
    cap = float(config["index_cap"])
    rows = np.arange(S)
    for t in range(st.next_week, W if until_week is None else until_week):
        teach = bool(inp.teaching[t])
        ex = inp.exempt[:, t]
        m = inp.value[:, t, :].copy()
        m[ex] = np.nan
        if st.stats is None:  # buffers change only in teaching weeks: reuse the stats otherwise
            st.stats = (*median_mad(st.buf), *median_mad(st.ibuf))
        med, mad, n, imed, imad, inn = st.stats
        prior = nan_median_columns(m) if teach else nan_median_columns(inp.value[:, t, :])
        prior = np.where(np.isnan(prior), 0.0, prior)
        cold = n < mh
        wgt = np.minimum(n, mh) / mh
        base = np.where(cold, wgt * np.nan_to_num(med) + (1 - wgt) * prior, med)
        spread = np.maximum(1.4826 * np.nan_to_num(mad), 0.1 * base)
        spread = np.where(cold, np.maximum(spread, 0.25 * base), spread)
        used = base >= min_base
        ratio = np.where(used, m / np.where(used, base, 1.0), np.nan)

        if teach:  # systemic source weeks: most users of a source drop at once
            concerned = ~np.isnan(ratio)
            dropped = concerned & (ratio < config["systemic_drop_ratio"])
            share = dropped.sum(0) / np.maximum(concerned.sum(0), 1)
            known = len(st.shares) >= 3  # the usual weekly share of drops needs some weeks
            usual = np.median(np.array(st.shares), axis=0) if known else np.ones(K)
            hit = (
                (share >= config["systemic_share"])
                & (share >= usual + config["systemic_excess"])
                & (concerned.sum(0) >= config["systemic_min_students"])
            )
            st.shares.append(share)
            for k in np.flatnonzero(hit):
                res.source_events.append((t, k, float(share[k]), int(dropped[:, k].sum())))
            res.masked[t] = hit
            m[:, hit] = np.nan
            ratio[:, hit] = np.nan

        r = np.clip(ratio, 0, cap)
        valid = ~np.isnan(r)
        # a rate over few sessions is noisy: full weight from `rate_full_weight_sessions` sessions
        # (a student measured by sessions attended, without a timetable, counts in full)
        sessions = np.nan_to_num(inp.expected[:, t, :], nan=config["rate_full_weight_sessions"])
        few = np.clip(sessions / config["rate_full_weight_sessions"], 0, 1)
        wk = weights * np.where(is_rate, few, 1.0)
        num = (np.where(valid, r, 0) * wk).sum(1)
        den = (valid * wk).sum(1)
        index = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        icold = inn < mh
        ibase = np.where(icold, 1.0, imed)
        ispread = np.maximum(1.4826 * np.nan_to_num(imad), np.where(icold, 0.25, 0.1))
        rel = index / ibase

        res.baseline[:, t], res.spread[:, t], res.cold[:, t] = base, spread, cold
        res.ratio[:, t] = ratio
        res.index[:, t], res.index_base[:, t] = index, ibase
        res.index_spread[:, t], res.index_cold[:, t] = ispread, icold
        if not teach:
            continue
        live = ~ex
        st.run_zero[ex] = 0
        st.run_index[ex] = 0
        st.run_source[ex] = 0

        # zero engagement across every (unmasked) source, when something was expected or usual
        raw = np.where(res.masked[t][None, :], 0.0, inp.count[:, t, :])
        exp_t = np.where(res.masked[t][None, :], 0.0, np.nan_to_num(inp.expected[:, t, :]))
        something = (exp_t > 0).any(1) | (used & ~res.masked[t][None, :]).any(1)
        zero = live & something & (raw.sum(1) <= 0)
        st.run_zero = np.where(live, np.where(zero, st.run_zero + 1, 0), st.run_zero)

        # combined index drop (robust z-score or EWMA detector), stricter during cold start
        has = live & ~np.isnan(index)
        st.ewma = np.where(
            has,
            config["ewma_alpha"] * np.nan_to_num(rel) + (1 - config["ewma_alpha"]) * st.ewma,
            st.ewma,
        )
        if config["detector"] == "ewma":
            warm_low = st.ewma <= config["ewma_threshold"]
        else:
            z = (index - ibase) / ispread
            warm_low = (rel <= config["drop_ratio"]) & (z <= -config["z_threshold"])
        low = has & np.where(icold, index <= config["cold_drop_ratio"], warm_low)
        st.run_index = np.where(
            live & ~np.isnan(index), np.where(low, st.run_index + 1, 0), st.run_index
        )

        # one source drops while the others hold
        rest = den[:, None] - valid * wk
        others = (num[:, None] - np.nan_to_num(r) * wk) / np.maximum(rest, 1e-9)
        others = np.where(rest > 1e-9, others, np.nan)
        exp_all = np.nan_to_num(inp.expected[:, t, :], nan=1.0)  # count-measured: base = sessions
        src_low = (
            valid
            & ~cold
            & (base >= src_min)
            & (ratio <= config["source_drop_ratio"])
            & live[:, None]
            & (~is_rate | (base * exp_all >= config["source_min_sessions"]))
        )
        st.run_source = np.where(
            valid & live[:, None], np.where(src_low, st.run_source + 1, 0), st.run_source
        )

        # missed submissions within a window of teaching weeks
        st.missed_ring[:, st.mpos] = np.where(live, inp.missed[:, t], 0)
        st.mpos = (st.mpos + 1) % st.missed_ring.shape[1]
        window = st.missed_ring.sum(1)

        open_zero = st.open_id[:, NO_ENGAGEMENT] >= 0
        open_index = st.open_id[:, INDEX_DROP] >= 0
        open_missed = st.open_id[:, COLUMN[MISSED]] >= 0
        open_src = st.open_id[:, 3:] >= 0
        # ends first (a return to usual), then starts
        back = live & (rel >= config["recover_ratio"])
        self_end = [
            (NO_ENGAGEMENT, open_zero & back),
            (INDEX_DROP, open_index & back),
            (COLUMN[MISSED], open_missed & live & (window <= 0)),
        ]
        for col, mask in self_end:
            ids = st.open_id[mask, col]
            st.ends.append((ids, np.full(len(ids), t)))
            st.open_id[mask, col] = -1
        src_back = open_src & live[:, None] & (ratio >= config["recover_ratio"])
        ids = st.open_id[:, 3:][src_back]
        st.ends.append((ids, np.full(len(ids), t)))
        st.open_id[:, 3:][src_back] = -1

        sev_rel = np.where(
            rel <= config["severity_high"], 2, np.where(rel <= config["severity_medium"], 1, 0)
        )
        new_zero = (st.run_zero >= config["zero_weeks"]) & (st.open_id[:, NO_ENGAGEMENT] < 0)
        new_index = (
            (st.run_index >= config["sustain_weeks"])
            & (st.open_id[:, INDEX_DROP] < 0)
            & (st.open_id[:, NO_ENGAGEMENT] < 0)
            & ~new_zero
        )
        new_missed = (window >= config["missed_min"]) & (st.open_id[:, COLUMN[MISSED]] < 0) & live
        new_missed &= inp.missed[:, t] > 0
        sev_missed = np.where(window >= config["missed_min"] + 1, 2, 1)
        for col, mask, sev, run_length in (
            (NO_ENGAGEMENT, new_zero, np.full(S, 2), st.run_zero),
            (INDEX_DROP, new_index, sev_rel, st.run_index),
            (MISSED, new_missed, sev_missed, window),
        ):
            _start(st, rows[mask], t, col, -1, sev[mask], COLUMN[col], run_length[mask])
        new_src = (
            (st.run_source >= config["sustain_weeks"])
            & (st.open_id[:, 3:] < 0)
            & (others >= config["others_hold_ratio"])  # the others hold in the week it is raised
        )
        s_idx, k_idx = np.nonzero(new_src)
        sev = np.where(np.nan_to_num(ratio[s_idx, k_idx]) <= 0, 1, 0)
        _start(st, s_idx, t, SOURCE_DROP, k_idx, sev, 3 + k_idx, st.run_source[s_idx, k_idx])

        # baselines learn only from weeks that are not drops
        ok = live[:, None] & ~np.isnan(m)
        accept = ok & np.where(
            cold, m >= config["cold_accept_ratio"] * base, ~used | (ratio >= config["accept_ratio"])
        )
        _push(st.buf, st.pos, accept, m)
        iaccept = has & np.where(
            icold, index >= config["cold_accept_ratio"], rel >= config["accept_ratio"]
        )
        _push(st.ibuf, st.ipos, iaccept, index)
        st.stats = None
    st.next_week = W if until_week is None else until_week
    res.state = st
    return res


def _start(st: State, s_idx, t: int, kind: int, k, severity, column, run) -> None:
    """Open flags for these students (one id each) and remember which column holds them; `run` is
    how many consecutive teaching weeks the condition has held (quoted by the explanation)."""
    n = len(s_idx)
    if not n:
        return
    ids = st.n_flags + np.arange(n)
    st.n_flags += n
    k = np.broadcast_to(np.asarray(k), (n,))
    st.starts.append(
        (
            np.asarray(s_idx),
            np.full(n, t),
            np.full(n, kind),
            k.copy(),
            np.asarray(severity),
            np.asarray(run, np.int64),
        )
    )
    st.open_id[np.asarray(s_idx), np.broadcast_to(np.asarray(column), (n,))] = ids


def flag_records(st: State) -> pd.DataFrame:
    """One row per flag raised: s, w, kind, k, severity, run (consecutive teaching weeks the
    condition had held when raised), ended_w (-1 while open)."""
    cols = ["s", "w", "kind", "k", "severity", "run"]
    if not st.starts:
        return pd.DataFrame(columns=[*cols, "ended_w"], dtype=np.int64)
    frame = pd.DataFrame(
        {c: np.concatenate([part[i] for part in st.starts]) for i, c in enumerate(cols)}
    )
    ended = np.full(st.n_flags, -1, np.int64)
    for ids, weeks in st.ends:
        ended[ids] = weeks
    frame["ended_w"] = ended
    return frame
