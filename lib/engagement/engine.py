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
from scipy.stats import binom, poisson

from lib.engagement.chance import betabinom_sf
from lib.engagement.config import source_setting
from lib.engagement.measures import Inputs
from lib.engagement.robust import median_mad, nan_median_columns
from lib.sources import LECTURE_CAPTURE, SUBMISSION

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
    first_id: int = 0  # ids below were given to flags raised before this run (resumed state)
    # each student's own history of how often a condition holds (how unusual a run of it is):
    # teaching weeks measured and weeks the condition held, for zero engagement, a low index and
    # a low source; submissions due and missed, and the dues in the window
    hist: dict = field(default_factory=dict)

    HISTORY = {  # name: shape after (S,) ("K": per source, "M": the missed window)
        "n_known": (),
        "n_zero": (),
        "n_index": (),
        "n_low_index": (),
        "n_src": ("K",),
        "n_low_src": ("K",),
        "n_due": (),
        "n_missed": (),
        "due_ring": ("M",),
        "pending": ("K",),  # a low week's value, learned if the next measured week is back
        "ipending": (),
        "miss_run": (),  # dues missed since the student last submitted
    }

    ARRAYS = (
        "buf",
        "pos",
        "ibuf",
        "ipos",
        "ewma",
        "run_zero",
        "run_index",
        "run_source",
        "missed_ring",
        "open_id",
    )

    def resumed(self, first_id: int) -> State:
        """This state to continue from at week 0 of the next weeks' inputs, numbering new flags
        from `first_id` (open_id may hold any ids below it)."""
        return State(
            *(getattr(self, name).copy() for name in self.ARRAYS[:-1]),
            mpos=self.mpos,
            open_id=self.open_id.copy(),
            shares=list(self.shares),
            n_flags=first_id,
            first_id=first_id,
            hist={name: a.copy() for name, a in self.hist.items()},
        )

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
            hist=empty_history(S, K, M),
        )


def empty_history(S: int, K: int, M: int) -> dict:
    """Zeroed own-history counters (State.HISTORY); no pending low week."""
    sizes = {"K": K, "M": M}
    out = {name: np.zeros((S, *(sizes[d] for d in dims))) for name, dims in State.HISTORY.items()}
    out["pending"][:] = np.nan
    out["ipending"][:] = np.nan
    return out


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
    prior: np.ndarray | None = None  # (W, K) cohort median of each week (the cold-start prior)
    source_events: list = field(default_factory=list)  # (w, k, share, students)
    group_events: list = field(default_factory=list)  # (w, k, group name, share, students)
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
        np.full((W, K), np.nan),
    )


def _push(buf: np.ndarray, pos: np.ndarray, accept: np.ndarray, values: np.ndarray) -> None:
    """Write accepted values into each cell's ring buffer slot and advance those slots."""
    idx = np.nonzero(accept)
    slot = pos[idx]
    buf[(*idx, slot)] = values[idx]
    pos[idx] = (slot + 1) % buf.shape[-1]


@dataclass
class Week:
    """The arrays of one week shared by the steps of `run` (t: week position)."""

    t: int
    live: np.ndarray  # (S,) not exempt
    m: np.ndarray  # (S, K) this week's values (NaN when exempt, masked or not applicable)
    base: np.ndarray  # (S, K) baseline
    cold: np.ndarray  # (S, K) cold start
    used: np.ndarray  # (S, K) the student uses the source (baseline reaches min_baseline)
    ratio: np.ndarray  # (S, K) value / baseline where used
    spread: np.ndarray | None = None  # (S, K) robust spread of the baseline
    prior: np.ndarray | None = None  # (K,) the cohort median this week
    r: np.ndarray | None = None  # (S, K) capped ratio
    valid: np.ndarray | None = None  # (S, K) ratio known
    wk: np.ndarray | None = None  # (S, K) index weights this week
    num: np.ndarray | None = None  # (S,) weighted ratio sum
    den: np.ndarray | None = None  # (S,) weight sum
    index: np.ndarray | None = None  # (S,) combined index
    icold: np.ndarray | None = None  # (S,) index cold start
    ibase: np.ndarray | None = None  # (S,) usual index
    ispread: np.ndarray | None = None  # (S,) spread of the usual index
    rel: np.ndarray | None = None  # (S,) index / usual index
    hold: np.ndarray | None = None  # (S,) dropped in a source systemic this week: week unknown
    need_zero: np.ndarray | None = None  # (S,) weeks of zero engagement needed to flag
    need_index: np.ndarray | None = None  # (S,) low index weeks needed
    need_src: np.ndarray | None = None  # (S, K) low source weeks needed
    missed_ok: np.ndarray | None = None  # (S,) the missed window is unusual for the student
    submitted_all: np.ndarray | None = None  # (S,) nothing missed lately, or all due submitted
    missed_tail: np.ndarray | None = None  # (S,) chance of the run of misses at their own rate
    missed_run: np.ndarray | None = None  # (S,) chance of the run alone (dues missed in a row)


def _source_setting_arrays(inp: Inputs, config: dict) -> dict:
    """Per-source settings as arrays aligned with inp.sources."""
    return {
        "weights": np.array([source_setting(config, "index_weights", s) for s in inp.sources]),
        "min_base": np.array([source_setting(config, "min_baseline", s) for s in inp.sources]),
        "src_min": np.array(
            [source_setting(config, "source_min_baseline", s) for s in inp.sources]
        ),
        "is_rate": np.array([s in ("attendance", "online") for s in inp.sources]),
        "modelled": np.array([s not in (SUBMISSION, LECTURE_CAPTURE) for s in inp.sources]),
    }


def _baselines(inp: Inputs, st: State, t: int, config: dict, p: dict) -> Week:
    """Each student's own baseline and spread per source (blended with the cohort prior during cold
    start) and this week's ratio to it."""
    teach = bool(inp.teaching[t])
    ex = inp.exempt[:, t]
    m = inp.value[:, t, :].copy()
    m[ex] = np.nan
    if st.stats is None:  # buffers change only in teaching weeks: reuse the stats otherwise
        st.stats = (*median_mad(st.buf), *median_mad(st.ibuf))
    med, mad, n = st.stats[:3]
    mh = int(config["min_history"])
    prior = nan_median_columns(m) if teach else nan_median_columns(inp.value[:, t, :])
    prior = np.where(np.isnan(prior), 0.0, prior)
    cold = n < mh
    wgt = np.minimum(n, mh) / mh
    base = np.where(cold, wgt * np.nan_to_num(med) + (1 - wgt) * prior, med)
    spread = np.maximum(1.4826 * np.nan_to_num(mad), 0.1 * base)
    spread = np.where(cold, np.maximum(spread, 0.25 * base), spread)
    # a student with nothing seen yet in any source (no activity, nothing expected) is unknown,
    # not compared with the cohort prior: no data is not no engagement; a source they have never
    # used is compared with the cohort only in their first weeks (some never use some sources)
    seen = _seen(inp)[:, t, :] | (np.nan_to_num(inp.expected[:, t, :]) > 0)
    early = st.hist["n_known"] < mh
    used = (base >= p["min_base"]) & (seen | (early & seen.any(1))[:, None])
    ratio = np.where(used, m / np.where(used, base, 1.0), np.nan)
    return Week(t, ~ex, m, base, cold, used, ratio, spread, prior)


def _systemic_sources(st: State, res: Results, wk: Week, config: dict) -> None:
    """Mask the sources most of whose users drop at once this teaching week (a data-quality
    event, not student problems)."""
    K = wk.ratio.shape[1]
    concerned = ~np.isnan(wk.ratio)
    dropped = concerned & (wk.ratio < config["systemic_drop_ratio"])
    share = dropped.sum(0) / np.maximum(concerned.sum(0), 1)
    known = len(st.shares) >= 3  # the usual weekly share of drops needs some weeks
    # the usual share: its upper quartile, so a recurring pattern (fortnightly sessions: many
    # users low every other week) is not mistaken for an outage
    usual = np.percentile(np.array(st.shares), 75, axis=0) if known else np.ones(K)
    hit = (
        (share >= config["systemic_share"])
        & (share >= usual + config["systemic_excess"])
        & (concerned.sum(0) >= config["systemic_min_students"])
    )
    st.shares.append(share)
    for k in np.flatnonzero(hit):
        res.source_events.append((wk.t, k, float(share[k]), int(dropped[:, k].sum())))
    res.masked[wk.t] = hit
    wk.hold = (dropped & hit[None, :]).any(1)
    wk.m[:, hit] = np.nan
    wk.ratio[:, hit] = np.nan


def _systemic_groups(inp: Inputs, res: Results, wk: Week, config: dict) -> None:
    """Mask a source for a group of students who normally appear together (a school, course, year
    or module inferred from module codes on activity) when most of the group's users of that
    source drop at once this teaching week: a feed outage of that group, not student problems."""
    if inp.groups is None or not inp.groups.names:
        return
    groups = inp.groups
    S, n_static = groups.static.shape
    concerned = wk.live[:, None] & ~wk.cold & ~np.isnan(wk.ratio)
    dropped = concerned & (wk.ratio < config["systemic_drop_ratio"])
    # (G, K) counts per group: static groups by a product of 0/1 matrices, module groups by
    # counting their members (a student's membership of a few of hundreds of modules); counts
    # are whole numbers, exact in float32 either way
    static = groups.static.astype(np.float32)
    s, g = groups.module_members(wk.t)
    n_conc = np.zeros((len(groups.names), wk.ratio.shape[1]), np.float32)
    n_drop = np.zeros_like(n_conc)
    n_conc[:n_static] = static.T @ concerned.astype(np.float32)
    n_drop[:n_static] = static.T @ dropped.astype(np.float32)
    for k in range(n_conc.shape[1]):
        n_conc[:, k] += np.bincount(g, weights=concerned[s, k], minlength=len(n_conc))
        n_drop[:, k] += np.bincount(g, weights=dropped[s, k], minlength=len(n_conc))
    share = n_drop / np.maximum(n_conc, 1)
    hit = (n_conc >= config["systemic_group_min_students"]) & (
        share >= config["systemic_group_share"]
    )
    if not hit.any():
        return
    for g_hit, k in zip(*np.nonzero(hit), strict=True):
        name = inp.groups.names[g_hit]
        res.group_events.append((wk.t, int(k), name, float(share[g_hit, k]), int(n_drop[g_hit, k])))
    mask = (static @ hit[:n_static].astype(np.float32)) > 0  # (S, K) in a hit group for a source
    for k in range(mask.shape[1]):
        mask[:, k] |= np.bincount(s, weights=hit[g, k], minlength=S) > 0
    wk.hold |= (dropped & mask).any(1)
    wk.m[mask] = np.nan
    wk.ratio[mask] = np.nan


def _combined_index(inp: Inputs, st: State, wk: Week, config: dict, p: dict) -> None:
    """The weighted mean of capped source ratios, and its own usual level (cold start: 1.0)."""
    mh = int(config["min_history"])
    _, _, _, imed, imad, inn = st.stats
    wk.r = np.clip(wk.ratio, 0, float(config["index_cap"]))
    wk.valid = ~np.isnan(wk.r)
    # a rate over few sessions is noisy: full weight from `rate_full_weight_sessions` sessions
    # (a student measured by sessions attended, without a timetable, counts in full)
    full = config["rate_full_weight_sessions"]
    sessions = np.nan_to_num(inp.expected[:, wk.t, :], nan=full)
    few = np.clip(sessions / full, 0, 1)
    wk.wk = p["weights"] * np.where(p["is_rate"], few, 1.0)
    wk.num = (np.where(wk.valid, wk.r, 0) * wk.wk).sum(1)
    wk.den = (wk.valid * wk.wk).sum(1)
    wk.index = np.where(wk.den > 0, wk.num / np.where(wk.den > 0, wk.den, 1), np.nan)
    if SUBMISSION in inp.sources:  # submissions alone are judged by the missed-submission rule
        others = np.delete(wk.valid, inp.sources.index(SUBMISSION), axis=1).any(1)
        wk.index = np.where(others, wk.index, np.nan)
    wk.icold = inn < mh
    wk.ibase = np.where(wk.icold, 1.0, imed)
    wk.ispread = np.maximum(1.4826 * np.nan_to_num(imad), np.where(wk.icold, 0.25, 0.1))
    wk.rel = wk.index / wk.ibase


def _record(res: Results, wk: Week) -> None:
    """Store this week's baselines, ratios and index in the results."""
    t = wk.t
    res.baseline[:, t], res.spread[:, t], res.cold[:, t] = wk.base, wk.spread, wk.cold
    res.ratio[:, t] = wk.ratio
    res.prior[t] = wk.prior
    res.index[:, t], res.index_base[:, t] = wk.index, wk.ibase
    res.index_spread[:, t], res.index_cold[:, t] = wk.ispread, wk.icold


def _needed(
    st: State,
    low_name: str,
    n_name: str,
    run: np.ndarray,
    config: dict,
    floor: np.ndarray | None = None,
    surprise: float | None = None,
) -> np.ndarray:
    """Consecutive weeks a condition must hold before it flags, from how often it held in the
    student's own earlier weeks (the current run left out; never below `floor`, the chance of
    such a week at the student's usual level): a run that would happen by chance more often
    than `surprise` (default run_surprise) is their usual pattern, not a change (at least
    sustain_weeks, at most max_run_weeks)."""
    n_low, n = st.hist[low_name], st.hist[n_name]
    before, low_before = np.maximum(n - run, 0), np.maximum(n_low - run, 0)
    q = (low_before + config["history_prior_low"]) / (before + config["history_prior_weeks"])
    if floor is not None:
        q = np.maximum(q, np.nan_to_num(floor))
    q = np.clip(q, 1e-6, 0.999)
    surprise = config["run_surprise"] if surprise is None else surprise
    need = np.ceil(np.log(surprise) / np.log(q))
    return np.clip(need, config["sustain_weeks"], config["max_run_weeks"])


def _runs(inp: Inputs, st: State, res: Results, wk: Week, config: dict, p: dict) -> np.ndarray:
    """Advance the consecutive-week counters (zero engagement, low index, low source, missed
    submissions window) and the student's own history of them; returns the missed submissions
    in the window (wk.need_* and wk.missed_ok: what a flag needs this week)."""
    t, live = wk.t, wk.live
    ex = inp.exempt[:, t]  # a documented absence ends a run; a held week only pauses it
    h = st.hist
    st.run_zero[ex] = 0
    st.run_index[ex] = 0
    st.run_source[ex] = 0
    # zero engagement across every source measured this week: a source is measured for a student
    # when something was expected of them in it, or they use it, and its value is known (not
    # masked as systemic); a week with nothing measured is unknown, not zero (the run holds), and
    # so is a week measured by submissions alone (missed submissions have their own rule)
    measured = _measured(inp, wk)
    raw = np.where(measured, inp.count[:, t, :], 0.0)
    k_sub = inp.sources.index(SUBMISSION) if SUBMISSION in inp.sources else -1
    activity = measured.copy()
    if k_sub >= 0:  # a late submission is engagement too
        due = np.nan_to_num(inp.expected[:, t, k_sub])
        raw[:, k_sub] = np.where(measured[:, k_sub], due - inp.missed[:, t], 0.0)
        activity[:, k_sub] = False
    known = live & activity.any(1)
    zero = known & (raw.sum(1) <= 0)
    st.run_zero = np.where(known, np.where(zero, st.run_zero + 1, 0), st.run_zero)
    h["n_known"] += known
    h["n_zero"] += zero
    wk.need_zero = np.maximum(
        _needed(st, "n_zero", "n_known", st.run_zero, config), config["zero_weeks"]
    )

    # combined index drop (robust z-score or EWMA detector), stricter during cold start
    has = live & ~np.isnan(wk.index)
    alpha = config["ewma_alpha"]
    st.ewma = np.where(has, alpha * np.nan_to_num(wk.rel) + (1 - alpha) * st.ewma, st.ewma)
    if config["detector"] == "ewma":
        warm_low = st.ewma <= config["ewma_threshold"]
    else:
        z = (wk.index - wk.ibase) / wk.ispread
        # a deep drop is low however noisy the student's usual index (a wide spread would
        # otherwise hide even a week of nothing); its run still needs to be unusual for them
        warm_low = (wk.rel <= config["drop_ratio"]) & (
            (z <= -config["z_threshold"]) | (wk.rel <= config["deep_drop_ratio"])
        )
    low = has & np.where(wk.icold, wk.index <= config["cold_drop_ratio"], warm_low)
    st.run_index = np.where(has, np.where(low, st.run_index + 1, 0), st.run_index)
    h["n_index"] += has & ~wk.icold
    h["n_low_index"] += low & ~wk.icold
    deep = config["deep_drop_ratio"] * wk.ibase  # a deep week: as deep as any below that
    ifloor = _buffer_share(st.ibuf, np.fmax(wk.index, deep), config)
    wk.need_index = _needed(st, "n_low_index", "n_index", st.run_index, config, ifloor)

    # one source drops while the others hold
    exp_all = np.nan_to_num(inp.expected[:, t, :], nan=1.0)  # count-measured: base = sessions
    src_low = (
        wk.valid
        & ~wk.cold
        & (wk.base >= p["src_min"])
        & (wk.ratio <= config["source_drop_ratio"])
        & ~ex[:, None]
        & (~p["is_rate"] | (wk.base * exp_all >= config["source_min_sessions"]))
    )
    # a source measured in a week held for another source's outage counts (the held source
    # itself is masked: its run pauses)
    src_known = wk.valid & ~ex[:, None]
    st.run_source = np.where(src_known, np.where(src_low, st.run_source + 1, 0), st.run_source)
    h["n_src"] += src_known & ~wk.cold
    h["n_low_src"] += src_low
    floor = np.fmax(
        _chance_low(inp, wk, p, config["source_drop_ratio"]),
        _buffer_share(st.buf, np.fmax(wk.m, config["source_drop_ratio"] * wk.base), config),
    )
    wk.need_src = _needed(
        st, "n_low_src", "n_src", st.run_source, config, floor, config["source_surprise"]
    )

    # missed submissions within a window of teaching weeks, against the student's own miss rate
    counted = ~inp.exempt[:, t]
    missed_now = np.where(counted, inp.missed[:, t], 0)
    due_now = (
        np.where(counted, np.nan_to_num(inp.expected[:, t, k_sub]), 0) if k_sub >= 0 else 0 * t
    )
    st.missed_ring[:, st.mpos] = missed_now
    h["due_ring"][:, st.mpos] = due_now
    st.mpos = (st.mpos + 1) % st.missed_ring.shape[1]
    h["n_due"] += due_now
    h["n_missed"] += missed_now
    window, window_due = st.missed_ring.sum(1), h["due_ring"].sum(1)
    # how unlikely the window's misses are at the student's own earlier miss rate, that rate
    # uncertain (a beta posterior from the prior and the dues before the window): few earlier
    # dues say little, so a steady low submitter's misses are not a change
    low, weeks = config["history_prior_low"], config["history_prior_weeks"]
    missed_before = np.maximum(h["n_missed"] - window, 0)
    due_before = np.maximum(h["n_due"] - window_due, missed_before)
    a, b = low + missed_before, max(weeks - low, 1e-6) + due_before - missed_before
    tail = betabinom_sf(window - 1, np.maximum(window_due, window).astype(int), a, b)
    wk.missed_ok = _at_most(tail, config["missed_surprise"])
    # assessment-only evidence: every due missed since the student last submitted (a run of
    # misses), against their own miss rate before that run
    some_in = due_now > missed_now  # submitted something this week: not a run (order unknown)
    h["miss_run"] = np.where(some_in, 0.0, h["miss_run"] + missed_now)
    run = h["miss_run"]
    missed_before = np.maximum(h["n_missed"] - run, 0)
    due_before = np.maximum(h["n_due"] - run, missed_before)
    a, b = low + missed_before, max(weeks - low, 1e-6) + due_before - missed_before
    in_run = betabinom_sf(run - 1, run.astype(int), a, b)
    wk.missed_run = np.where(run >= config["missed_min"], in_run, 1.0)
    # ... or this week's misses of its dues (some submitted, some not), at the rate before it
    missed_before = h["n_missed"] - missed_now
    a, b = low + missed_before, max(weeks - low, 1e-6) + h["n_due"] - due_now - missed_before
    this_week = betabinom_sf(missed_now - 1, np.asarray(due_now, np.int64), a, b)
    wk.missed_tail = np.minimum(in_run, this_week)
    wk.submitted_all = (window <= 0) | ((due_now > 0) & (missed_now <= 0))  # back to submitting
    return window


def _at_most(chance: np.ndarray, level: float) -> np.ndarray:
    """chance <= level, a chance that equals the level in exact arithmetic included: with no
    history a first miss has chance 0.5/5, which is 0.10000000000000009 in floating point, and
    missed_alone_surprise 0.1 means it flags."""
    return chance <= level * (1 + 1e-9)


def _buffer_share(buf: np.ndarray, limit: np.ndarray, config: dict) -> np.ndarray:
    """The share of a student's learned weeks (the ring buffer) at most `limit` (as low as this
    week, or a drop anyway): how often such a week is part of their usual pattern (isolated low
    weeks are learned: fortnightly and bursty users), as low / (n + 1); NaN with fewer than
    min_history learned weeks."""
    n = (~np.isnan(buf)).sum(-1)
    low = (buf <= limit[..., None]).sum(-1)
    return np.where(n >= int(config["min_history"]), low / (n + 1.0), np.nan)


def _chance_low(inp: Inputs, wk: Week, p: dict, ratio: float) -> np.ndarray:
    """(S, K) the chance of a week at most `ratio` x baseline by chance alone, at the student's
    usual level: sessions attended of those expected (binomial), or a count of active days,
    visits or other events (Poisson); NaN for minutes and submissions (own history only)."""
    expected = inp.expected[:, wk.t, :]
    base = np.nan_to_num(wk.base)
    timed = ~np.isnan(expected)
    n = np.nan_to_num(expected).astype(np.int64)
    rate = np.clip(base, 0.0, 1.0)
    by_rate = binom.cdf(np.floor(ratio * n), n, rate)
    by_count = poisson.cdf(np.floor(ratio * base), base)
    out = np.where(timed, by_rate, by_count)
    return np.where(p["modelled"], out, np.nan)


def _measured(inp: Inputs, wk: Week) -> np.ndarray:
    """(S, K) sources measured for each student this week (see _runs): the student has had
    activity or something expected in the source by now (a feed never loaded for them, or a
    source they never use, measures nothing, whatever the cohort's usual level)."""
    expected = np.nan_to_num(inp.expected[:, wk.t, :]) > 0
    return ~np.isnan(wk.m) & (expected | (wk.used & _seen(inp)[:, wk.t, :]))


def _seen(inp: Inputs) -> np.ndarray:
    """(S, W, K) the student has had activity or something expected in the source by each week
    (computed once per inputs)."""
    seen = getattr(inp, "_seen", None)
    if seen is None:
        seen = inp._seen = inp.used_so_far()
    return seen


def _end_flags(st: State, wk: Week, window: np.ndarray, config: dict) -> None:
    """End open flags whose engagement is back to the usual level (recorded with the week)."""
    t, live = wk.t, wk.live
    back = live & (wk.rel >= config["recover_ratio"])
    self_end = [
        (NO_ENGAGEMENT, (st.open_id[:, NO_ENGAGEMENT] >= 0) & back),
        (INDEX_DROP, (st.open_id[:, INDEX_DROP] >= 0) & back),
        (COLUMN[MISSED], (st.open_id[:, COLUMN[MISSED]] >= 0) & live & wk.submitted_all),
    ]
    for col, mask in self_end:
        ids = st.open_id[mask, col]
        st.ends.append((ids, np.full(len(ids), t)))
        st.open_id[mask, col] = -1
    src_back = (st.open_id[:, 3:] >= 0) & live[:, None] & (wk.ratio >= config["recover_ratio"])
    ids = st.open_id[:, 3:][src_back]
    st.ends.append((ids, np.full(len(ids), t)))
    st.open_id[:, 3:][src_back] = -1


def _start_flags(inp: Inputs, st: State, wk: Week, window: np.ndarray, config: dict) -> None:
    """Raise the flags whose conditions now hold (one open flag per kind and source at a time)."""
    t, live = wk.t, wk.live
    rows = np.arange(len(live))
    sev_rel = np.where(
        wk.rel <= config["severity_high"], 2, np.where(wk.rel <= config["severity_medium"], 1, 0)
    )
    new_zero = live & (st.run_zero >= wk.need_zero) & (st.open_id[:, NO_ENGAGEMENT] < 0)
    new_index = (
        live
        & (st.run_index >= wk.need_index)
        & (st.open_id[:, INDEX_DROP] < 0)
        & (st.open_id[:, NO_ENGAGEMENT] < 0)
        & ~new_zero
    )
    # when submissions are the only thing measured for a student, one missed is evidence enough
    measured = _measured(inp, wk)
    k_sub = inp.sources.index(SUBMISSION) if SUBMISSION in inp.sources else -1
    others = np.delete(measured, k_sub, axis=1) if k_sub >= 0 else measured
    alone = ~others.any(1)
    needed = np.where(alone, config["missed_min_alone"], config["missed_min"])
    # besides other sources: the window's misses very unlikely, or a run of them (every due
    # missed since the student last submitted: a stop, not scattered misses) unlikely
    usual = np.where(
        alone,
        _at_most(wk.missed_tail, config["missed_alone_surprise"]),
        wk.missed_ok | _at_most(wk.missed_run, config["missed_run_surprise"]),
    )
    new_missed = (window >= needed) & usual & (st.open_id[:, COLUMN[MISSED]] < 0) & live
    new_missed &= inp.missed[:, t] > 0
    sev_missed = np.where(window >= needed + 1, 2, 1)
    for col, mask, sev, run_length in (
        (NO_ENGAGEMENT, new_zero, np.full(len(live), 2), st.run_zero),
        (INDEX_DROP, new_index, sev_rel, st.run_index),
        (MISSED, new_missed, sev_missed, window),
    ):
        _start(st, rows[mask], t, col, -1, sev[mask], COLUMN[col], run_length[mask])
    rest = wk.den[:, None] - wk.valid * wk.wk
    others = (wk.num[:, None] - np.nan_to_num(wk.r) * wk.wk) / np.maximum(rest, 1e-9)
    others = np.where(rest > 1e-9, others, np.nan)
    new_src = (
        live[:, None]
        & (st.run_source >= wk.need_src)
        & (st.open_id[:, 3:] < 0)
        & (others >= config["others_hold_ratio"])  # the others hold in the week it is raised
    )
    s_idx, k_idx = np.nonzero(new_src)
    sev = np.where(np.nan_to_num(wk.ratio[s_idx, k_idx]) <= 0, 1, 0)
    _start(st, s_idx, t, SOURCE_DROP, k_idx, sev, 3 + k_idx, st.run_source[s_idx, k_idx])


def _learn(st: State, wk: Week, config: dict) -> None:
    """Baselines learn from weeks that are not drops, and from a drop week once the next measured
    week is back (an isolated low week is the student's usual variation: sparse and fortnightly
    patterns; two low weeks in a row are never learned, so a stop does not lower the baseline)."""
    ok = wk.live[:, None] & ~np.isnan(wk.m)
    accept = ok & np.where(
        wk.cold,
        wk.m >= config["cold_accept_ratio"] * wk.base,
        ~wk.used | (wk.ratio >= config["accept_ratio"]),
    )
    pend = st.hist["pending"]
    _push(st.buf, st.pos, accept & ~np.isnan(pend), pend)  # the week before was isolated
    _push(st.buf, st.pos, accept, wk.m)
    st.hist["pending"] = np.where(ok, np.where(accept | wk.cold, np.nan, wk.m), pend)
    st.hist["pending"][ok & ~accept & ~np.isnan(pend)] = np.nan  # a second low week in a row
    has = wk.live & ~np.isnan(wk.index)
    iaccept = has & np.where(
        wk.icold, wk.index >= config["cold_accept_ratio"], wk.rel >= config["accept_ratio"]
    )
    ipend = st.hist["ipending"]
    _push(st.ibuf, st.ipos, iaccept & ~np.isnan(ipend), ipend)
    _push(st.ibuf, st.ipos, iaccept, wk.index)
    st.hist["ipending"] = np.where(has, np.where(iaccept | wk.icold, np.nan, wk.index), ipend)
    st.hist["ipending"][has & ~iaccept & ~np.isnan(ipend)] = np.nan
    st.stats = None


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
    p = _source_setting_arrays(inp, config)
    for t in range(st.next_week, W if until_week is None else until_week):
        teach = bool(inp.teaching[t])
        wk = _baselines(inp, st, t, config, p)
        if teach:
            _systemic_sources(st, res, wk, config)
            _systemic_groups(inp, res, wk, config)
        _combined_index(inp, st, wk, config, p)
        _record(res, wk)
        if not teach:  # non-teaching weeks never flag and never enter baselines
            continue
        # a student who dropped in a source systemic this week: the week is unknown for them
        # (no data is not no engagement): their runs pause (neither end nor grow), no flag
        # starts or ends, nothing is learned
        # ... unless the sources still measured show them back to usual: that ends the runs
        # (the held source's silence is not evidence either way, the others' level is)
        back = wk.hold & wk.live & (np.nan_to_num(wk.rel) >= config["recover_ratio"])
        st.run_index[back] = 0
        st.run_zero[back] = 0
        wk.live = wk.live & ~wk.hold
        window = _runs(inp, st, res, wk, config, p)
        _end_flags(st, wk, window, config)  # ends first (a return to usual), then starts
        _start_flags(inp, st, wk, window, config)
        _learn(st, wk, config)
    st.next_week = W if until_week is None else until_week
    res.state = st
    return res


def run_keeping(
    inp: Inputs, config: dict, state: State | None = None, keep: int = 0
) -> tuple[Results, list[tuple[int, State]]]:
    """run() over every week left, also returning a copy of the state after each of the last
    `keep` weeks (week position, state): later loads can resume from any of them."""
    W = inp.value.shape[1]
    split = max(state.next_week if state is not None else 0, W - keep)
    res = run(inp, config, state=state, until_week=split)
    kept = []
    for t in range(split, W):
        res = run(inp, config, results=res, state=res.state, until_week=t + 1)
        kept.append((t, res.state.resumed(res.state.first_id)))
    return res, kept


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
    """One row per flag raised in this run (id st.first_id + row): s, w, kind, k, severity, run
    (consecutive teaching weeks the condition had held when raised), ended_w (-1 while open)."""
    cols = ["s", "w", "kind", "k", "severity", "run"]
    if not st.starts:
        return pd.DataFrame(columns=[*cols, "ended_w"], dtype=np.int64)
    frame = pd.DataFrame(
        {c: np.concatenate([part[i] for part in st.starts]) for i, c in enumerate(cols)}
    )
    ended = np.full(st.n_flags - st.first_id, -1, np.int64)
    for ids, weeks in st.ends:
        mine = ids >= st.first_id
        ended[ids[mine] - st.first_id] = weeks[mine]
    frame["ended_w"] = ended
    return frame


def earlier_flag_ends(st: State) -> pd.DataFrame:
    """Flags raised before this run (ids below st.first_id) that ended in it: id, s, k, ended_w."""
    ids = [i[i < st.first_id] for i, _ in st.ends]
    weeks = [w[i < st.first_id] for i, w in st.ends]
    frame = pd.DataFrame(
        {
            "id": np.concatenate(ids) if ids else np.array([], np.int64),
            "ended_w": np.concatenate(weeks) if weeks else np.array([], np.int64),
        }
    )
    return frame.astype(np.int64)
