"""Engine thresholds and windows with documented defaults (stored overrides merge over these).

| key | default | meaning |
|---|---|---|
| detector | "robust_z" | index-drop detector: "robust_z" (rolling median/MAD z-score) or "ewma" |
| baseline_weeks | 8 | rolling window: how many prior accepted teaching weeks make a baseline |
| min_history | 3 | cold start: fewer accepted weeks than this blend the own median with the cohort prior |
| accept_ratio | 0.5 | a week enters the baseline only if value >= this x baseline (drops never drag it down) |
| cold_accept_ratio | 0.25 | the same during cold start, against the cohort prior |
| index_cap | 2.0 | a source's value/baseline ratio is capped here inside the index |
| index_weights | see DEFAULTS | weight of each source in the combined index (others: "other") |
| min_baseline | see DEFAULTS | a source counts for a student only when their baseline reaches this (so a student
  who never uses Echo360 is not penalised for it) |
| drop_ratio | 0.55 | index drop: index at most this (1.0 = usual) ... |
| z_threshold | 2.0 | ... and robust z-score at most -this (robust_z detector) |
| cold_drop_ratio | 0.3 | index drop during cold start (against the prior): index at most this |
| ewma_alpha / ewma_threshold | 0.6 / 0.5 | EWMA detector: smoothed index at most the threshold |
| sustain_weeks | 2 | consecutive low teaching weeks before an index or source drop flag |
| zero_weeks | 2 | consecutive teaching weeks with zero engagement across all sources |
| source_drop_ratio | 0.2 | one source at most this x its baseline ... |
| others_hold_ratio | 0.75 | ... while the other sources' index is at least this in the week it is raised |
| source_min_baseline | see DEFAULTS | a source drop needs a baseline at least this high |
| source_min_sessions | 3.0 | ... and, for attendance/online, usually this many sessions attended a week |
| recover_ratio | 0.8 | a flag ends in the first teaching week back at this x baseline (recorded) |
| missed_min / missed_window_weeks | 3 / 6 | missed submissions: this many missing in this many teaching weeks |
| systemic_drop_ratio | 0.5 | a student "dropped" in a source/module week below this x their baseline |
| systemic_share | 0.35 | source-level data-quality event when at least this share of a source's users drop ... |
| systemic_excess | 0.25 | ... and that share exceeds the source's usual weekly share of drops by this much |
| systemic_module_share | 0.8 | module-level event: this share of the module's expected students recorded nothing |
| systemic_min_students | 8 | a source-level event concerns at least this many students ... |
| systemic_module_min_students | 5 | ... a module-level event this many (source-level needs 3 weeks of history) |
| rate_full_weight_sessions | 3 | attendance/online weigh fully in the index from this many expected sessions |
| severity_high / severity_medium | 0.25 / 0.45 | index (or source ratio) at most these: high / medium |
"""

from __future__ import annotations

import copy
import hashlib
import json

DEFAULTS: dict = {
    "detector": "robust_z",
    "baseline_weeks": 8,
    "min_history": 3,
    "accept_ratio": 0.5,
    "cold_accept_ratio": 0.25,
    "index_cap": 2.0,
    "index_weights": {
        "attendance": 1.0,
        "online": 1.0,
        "vle": 1.0,
        "submission": 0.5,
        "lecture_capture": 0.5,
        "other": 0.5,
    },
    "min_baseline": {
        "attendance": 0.1,
        "online": 0.1,
        "vle": 0.5,
        "submission": 0.3,
        "lecture_capture": 10.0,
        "other": 0.5,
    },
    "drop_ratio": 0.55,
    "z_threshold": 2.0,
    "cold_drop_ratio": 0.3,
    "ewma_alpha": 0.6,
    "ewma_threshold": 0.5,
    "sustain_weeks": 2,
    "zero_weeks": 2,
    "source_drop_ratio": 0.2,
    "others_hold_ratio": 0.75,
    "source_min_baseline": {
        "attendance": 0.4,
        "online": 0.4,
        "vle": 1.5,
        "submission": 10.0,
        "lecture_capture": 240.0,
        "other": 2.0,
    },
    "source_min_sessions": 3.0,
    "recover_ratio": 0.8,
    "missed_min": 3,
    "missed_window_weeks": 6,
    "systemic_drop_ratio": 0.5,
    "systemic_share": 0.35,
    "systemic_excess": 0.25,
    "systemic_module_share": 0.8,
    "systemic_module_min_students": 5,
    "rate_full_weight_sessions": 3.0,
    "systemic_min_students": 8,
    "severity_high": 0.25,
    "severity_medium": 0.45,
}


def merge_config(stored: dict | None) -> dict:
    """Defaults with stored overrides applied (nested dicts merged key by key); unknown keys refused."""
    config = copy.deepcopy(DEFAULTS)
    for key, value in (stored or {}).items():
        if key not in DEFAULTS:
            raise ValueError(f"unknown engine setting {key!r}")
        if isinstance(DEFAULTS[key], dict):
            if not isinstance(value, dict):
                raise ValueError(f"engine setting {key!r} must be an object")
            config[key].update({k: float(v) for k, v in value.items()})
        elif isinstance(DEFAULTS[key], str):
            if key == "detector" and value not in ("robust_z", "ewma"):
                raise ValueError("detector must be 'robust_z' or 'ewma'")
            config[key] = str(value)
        elif isinstance(DEFAULTS[key], int) and not isinstance(DEFAULTS[key], bool):
            config[key] = int(value)
        else:
            config[key] = float(value)
    return config


def source_setting(config: dict, key: str, source: str) -> float:
    """A per-source setting, falling back on its "other" entry for generic sources."""
    table = config[key]
    return float(table.get(source, table["other"]))


def config_hash(config: dict) -> str:
    """A short stable hash of a configuration (a change forces a full recompute)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
