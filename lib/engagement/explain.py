"""Plain-language explanations of flags and recoveries, naming sources, values and usual values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.engagement.engine import (
    INDEX_DROP,
    KIND_NAMES,
    MISSED,
    NO_ENGAGEMENT,
    SEVERITIES,
    Results,
    flag_records,
)
from lib.engagement.measures import Inputs
from lib.engagement.weekly import EPOCH
from lib.sources import ATTENDANCE, LECTURE_CAPTURE, ONLINE, SUBMISSION, VLE


def _num(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 or abs(x) >= 10 else f"{x:.1f}"


def describe_source(inp: Inputs, res: Results, s: int, t: int, k: int) -> str | None:
    """One source's value and usual value in week t, e.g. 'attended 1 of 6 sessions (usually 5 of 6)'."""
    source = inp.sources[k]
    count, exp = float(inp.count[s, t, k]), float(inp.expected[s, t, k])
    base = float(res.baseline[s, t, k])
    if np.isnan(base):
        return None
    if source in (ATTENDANCE, ONLINE):
        noun = "sessions" if source == ATTENDANCE else "online sessions"
        verb = "attended" if source == ATTENDANCE else "joined"
        if np.isnan(exp):
            return f"{verb} {_num(count)} {noun} (usually {_num(base)})"
        if exp <= 0:
            return None
        return f"{verb} {_num(count)} of {_num(exp)} {noun} (usually {int(np.floor(base * exp + 0.5))} of {_num(exp)})"
    if source == VLE:
        if count <= 0:
            last = int(inp.vle_last_day[s, t])
            if last < 0:
                days = "no Moodle activity yet"
            else:
                sunday = int((inp.weeks[t] - EPOCH).astype(np.int64)) + 6
                days = f"no Moodle activity for {sunday - last} days"
            return f"{days} (usually {_num(base)} active days a week)"
        events = _num(float(inp.vle_events[s, t]))
        return f"Moodle active on {_num(count)} days, {events} events (usually {_num(base)} active days a week)"
    if source == SUBMISSION:
        if np.isnan(exp) or exp <= 0:
            return None
        return f"submitted {_num(count)} of {_num(exp)} on time (usually {base:.0%} on time)"
    if source == LECTURE_CAPTURE:
        return f"watched {_num(count)} minutes of lecture capture (usually {_num(base)})"
    return f"{source}: {_num(count)} (usually {_num(base)})"


def _sources_text(inp: Inputs, res: Results, s: int, t: int, only: list[int] | None = None) -> str:
    ks = (
        only
        if only is not None
        else [k for k in range(len(inp.sources)) if not np.isnan(res.ratio[s, t, k])]
    )
    parts = [p for k in ks if (p := describe_source(inp, res, s, t, k))]
    return "; ".join(parts) if parts else "no source measured"


def _week(inp: Inputs, t: int) -> str:
    return str(inp.weeks[t])


def explain_start(
    inp: Inputs, res: Results, s: int, t: int, kind: int, k: int, config: dict, run: int = 0
) -> str:
    """Why this flag was raised in week t; `run` = consecutive teaching weeks the condition held."""
    cold = (
        " Early weeks: compared with the cohort's usual pattern (cold start)."
        if res.index_cold[s, t]
        else ""
    )
    if kind == NO_ENGAGEMENT:
        n = max(int(run), int(config["zero_weeks"]))
        return (
            f"No engagement in any source for {n} consecutive teaching weeks: "
            f"{_sources_text(inp, res, s, t)}.{cold}"
        )
    if kind == INDEX_DROP:
        rel = float(res.index[s, t] / res.index_base[s, t])
        dropped = [
            k2
            for k2 in range(len(inp.sources))
            if not np.isnan(res.ratio[s, t, k2]) and res.ratio[s, t, k2] < config["recover_ratio"]
        ]
        weeks = max(int(run), int(config["sustain_weeks"]))
        return (
            f"Engagement index at {rel:.0%} of usual for {weeks} teaching weeks: "
            f"{_sources_text(inp, res, s, t, dropped or None)}.{cold}"
        )
    if kind == MISSED:  # run: the missed submissions counted in the window
        window = int(config["missed_window_weeks"])
        missed = int(run)
        usual = res.baseline[s, t, inp.sources.index(SUBMISSION)]
        usual_text = f" (usually {usual:.0%} on time)" if not np.isnan(usual) else ""
        noun = "submission" if missed == 1 else "submissions"
        others = [
            k2
            for k2, name in enumerate(inp.sources)
            if name != SUBMISSION and not np.isnan(res.ratio[s, t, k2])
        ]
        alone = "" if others else " Submissions are the only source measured for this student."
        return f"Missed {missed} {noun} due in the last {window} teaching weeks{usual_text}.{alone}"
    source = inp.sources[k]
    others = [k2 for k2 in range(len(inp.sources)) if k2 != k and not np.isnan(res.ratio[s, t, k2])]
    held = _sources_text(inp, res, s, t, others) if others else "no other source measured"
    weeks = max(int(run), int(config["sustain_weeks"]))
    return (
        f"{source} dropped for {weeks} teaching weeks while other sources held: "
        f"{describe_source(inp, res, s, t, k)}; others: {held}."
    )


def explain_end(inp: Inputs, res: Results, s: int, t: int, kind: int, k: int) -> str:
    """Why this flag ended in week t (engagement back to the usual level)."""
    if kind == MISSED:
        return (
            f"Submitting again: everything due in the week of {_week(inp, t)} was submitted, or "
            "nothing was missed in recent teaching weeks."
        )
    only = [k] if k >= 0 else None
    return f"Back to usual in the week of {_week(inp, t)}: {_sources_text(inp, res, s, t, only)}."


def flags_frame(inp: Inputs, res: Results, config: dict) -> pd.DataFrame:
    """Flags with student ids, weeks, kind, severity, source and explanation texts (one per flag)."""
    rec = flag_records(res.state)
    columns = [
        "student_id",
        "week_start",
        "kind",
        "severity",
        "source",
        "ended_week",
        "explanation",
        "recovery_explanation",
    ]
    if rec.empty:
        return pd.DataFrame(columns=columns)
    texts, ends = [], []
    columns_in = ["s", "w", "kind", "k", "run", "ended_w"]
    for s, t, kind, k, run, e in rec[columns_in].itertuples(index=False):
        texts.append(explain_start(inp, res, s, t, kind, k, config, run))  # one per flag
        ends.append(explain_end(inp, res, s, e, kind, k) if e >= 0 else None)
    ended = rec["ended_w"].to_numpy()
    return pd.DataFrame(
        {
            "student_id": inp.student_ids.to_numpy()[rec["s"].to_numpy()],
            "week_start": pd.to_datetime(inp.weeks[rec["w"].to_numpy()]).date,
            "kind": np.array(KIND_NAMES)[rec["kind"].to_numpy()],
            "severity": np.array(SEVERITIES)[rec["severity"].to_numpy()],
            "source": [inp.sources[k] if k >= 0 else None for k in rec["k"]],
            "ended_week": [inp.weeks[e].item() if e >= 0 else None for e in ended],
            "explanation": texts,
            "recovery_explanation": ends,
        }
    )[columns]


def dq_frame(inp: Inputs, res: Results) -> pd.DataFrame:
    """Data-quality events: module-level (from measures) and source-level (from the engine)."""
    columns = [
        "week_start",
        "source",
        "module_code",
        "share_affected",
        "students_affected",
        "explanation",
    ]
    rows = []
    for t, k, share, n in res.source_events:
        source = inp.sources[k]
        rows.append(
            (
                inp.weeks[t].item(),
                source,
                None,
                share,
                n,
                f"{share:.0%} of {source} users dropped below half their usual level in the week "
                f"of {inp.weeks[t]}: treated as a systemic drop (no individual flags)",
            )
        )
    for t, k, name, share, n in res.group_events:
        source = inp.sources[k]
        rows.append(
            (
                inp.weeks[t].item(),
                source,
                name[:40],
                share,
                n,
                f"{share:.0%} of the {name}'s {source} users dropped below half their usual level "
                f"in the week of {inp.weeks[t]}: a feed outage for that group? (no individual "
                "flags)",
            )
        )
    for r in inp.module_events.itertuples(index=False):
        rows.append(
            (
                pd.Timestamp(r.week_start).date(),
                r.source,
                r.module_code,
                float(r.share),
                int(r.students),
                f"{r.share:.0%} of the {r.students} students expected at {r.module_code} recorded "
                f"no {r.source} in the week of {pd.Timestamp(r.week_start).date()}: systemic "
                f"({LIKELY_CAUSE.get(r.source, 'missing export or cancelled session?')}), "
                "no individual flags",
            )
        )
    return pd.DataFrame(rows, columns=columns)


LIKELY_CAUSE = {
    "attendance": "scanner outage or cancelled session?",
    "online": "meeting not held, or its attendance report not loaded?",
}


def measures_frame(
    inp: Inputs, res: Results, students: np.ndarray | None = None, first_week: int = 0
) -> pd.DataFrame:
    """Long weekly measures (each source from the week the student first has activity or expected
    counts in it, plus "index" from the week of the first), for the store: every week, or the weeks from `first_week` on."""
    S, W, K = inp.value.shape
    sel = np.arange(S) if students is None else np.asarray(students)
    cell = inp.used_so_far(sel)  # (n, W, K)
    cell[:, :first_week] = False
    s_i, w_i, k_i = np.nonzero(cell)
    s_glob = sel[s_i]
    base = res.baseline[s_glob, w_i, k_i].astype(float)
    spread = res.spread[s_glob, w_i, k_i].astype(float)
    src = pd.DataFrame(
        {
            "s": s_glob,
            "w": w_i,
            "source": np.array(inp.sources, dtype=object)[k_i],
            "value": inp.value[s_glob, w_i, k_i],
            "expected": inp.expected[s_glob, w_i, k_i],
            "baseline": base,
            "baseline_low": np.maximum(base - 2 * spread, 0.0),
            "baseline_high": base + 2 * spread,
            "cold_start": res.cold[s_glob, w_i, k_i],
        }
    )
    # the index from the week the student first has any source (none for a student without any)
    used = cell[:, first_week:].any(2).ravel()
    s2 = np.repeat(sel, W - first_week)[used]
    w2 = np.tile(np.arange(first_week, W), len(sel))[used]
    ib = res.index_base[s2, w2].astype(float)
    isp = res.index_spread[s2, w2].astype(float)
    idx = pd.DataFrame(
        {
            "s": s2,
            "w": w2,
            "source": "index",
            "value": res.index[s2, w2].astype(float),
            "expected": np.nan,
            "baseline": ib,
            "baseline_low": np.maximum(ib - 2 * isp, 0.0),
            "baseline_high": ib + 2 * isp,
            "cold_start": res.index_cold[s2, w2],
        }
    )
    out = pd.concat([src, idx], ignore_index=True)
    out.insert(0, "student_id", inp.student_ids.to_numpy()[out["s"].to_numpy()])
    out.insert(1, "week_start", inp.weeks[out["w"].to_numpy()])
    out["teaching"] = inp.teaching[out["w"].to_numpy()]
    return out.drop(columns=["s", "w"])
