"""Engine thresholds and windows: one Setting record per key (name, documented default, help;
DEFAULTS and HELP are derived from SETTINGS) with stored overrides merged over the defaults.
`python -m lib config show` prints the effective values, defaults and help; `python -m lib config
set KEY=VALUE ...` validates, stores and recomputes.
Per-source tables (index_weights, min_baseline, source_min_baseline) fall back on their "other" entry.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One engine setting: its name, documented default and help text."""

    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "detector",
        "robust_z",
        'index-drop detector: "robust_z" (rolling median/MAD z-score) or "ewma"',
    ),
    Setting(
        "baseline_weeks",
        8,
        "rolling window: how many prior accepted teaching weeks make a baseline",
    ),
    Setting(
        "min_history",
        3,
        "cold start: fewer accepted weeks than this blend the own median with the cohort prior",
    ),
    Setting(
        "accept_ratio",
        0.25,
        "a week enters the baseline only if value >= this x baseline (drops never drag it down; a low week is learned once the next is back; 0.5 kept a sparse user's ordinary low weeks out, so their baseline sat too high: tuned on the independent tuning seeds)",
    ),
    Setting("cold_accept_ratio", 0.25, "the same during cold start, against the cohort prior"),
    Setting("index_cap", 2.0, "a source's value/baseline ratio is capped here inside the index"),
    Setting(
        "index_weights",
        {
            "attendance": 1.0,
            "online": 1.0,
            "vle": 1.0,
            "submission": 0.5,
            "lecture_capture": 0.5,
            "other": 0.5,
        },
        'weight of each source in the combined index (others: "other")',
    ),
    Setting(
        "min_baseline",
        {
            "attendance": 0.1,
            "online": 0.1,
            "vle": 0.5,
            "submission": 0.3,
            "lecture_capture": 10.0,
            "other": 0.5,
        },
        "a source counts for a student only when their baseline reaches this",
    ),
    Setting("drop_ratio", 0.55, "index drop: index at most this (1.0 = usual) ..."),
    Setting(
        "z_threshold",
        3.0,
        "... and robust z-score at most -this (robust_z detector; 2.0 flagged steady students' ordinary low weeks) ...",
    ),
    Setting(
        "deep_drop_ratio",
        0.4,
        "... or the index at most this, whatever the z-score (a noisy student's deep drop: a wide spread hid even weeks of nothing)",
    ),
    Setting(
        "cold_drop_ratio",
        0.3,
        "index drop during cold start (against the prior): index at most this",
    ),
    Setting("ewma_alpha", 0.6, "EWMA detector: smoothing weight of the newest week"),
    Setting("ewma_threshold", 0.5, "EWMA detector: smoothed index at most this is low"),
    Setting(
        "sustain_weeks", 2, "consecutive low teaching weeks before an index or source drop flag"
    ),
    Setting("zero_weeks", 2, "consecutive teaching weeks with zero engagement across all sources"),
    Setting("source_drop_ratio", 0.2, "one source at most this x its baseline ..."),
    Setting(
        "others_hold_ratio",
        0.75,
        "... while the other sources' index is at least this in the week it is raised",
    ),
    Setting(
        "source_min_baseline",
        {
            "attendance": 0.4,
            "online": 0.4,
            "vle": 1.5,
            "submission": 10.0,
            "lecture_capture": 240.0,
            "other": 2.0,
        },
        "a source drop needs a baseline at least this high",
    ),
    Setting(
        "source_min_sessions",
        2.0,
        "... and, for attendance/online, usually this many sessions attended a week (the chance of a low week at that level sets how many weeks it needs; 3 missed students who came twice a week and stopped)",
    ),
    Setting("recover_ratio", 0.8, "a flag ends in the first teaching week back at this x baseline"),
    Setting("missed_min", 3, "missed submissions: this many missing ..."),
    Setting("missed_window_weeks", 6, "... within this many teaching weeks"),
    Setting(
        "missed_min_alone",
        1,
        "... or this many when submissions are the only source measured for the student that week (assessment-only evidence) ...",
    ),
    Setting(
        "missed_alone_surprise",
        0.1,
        "... if missing them (every due since they last submitted, or this week's) is this unlikely at the student's own earlier miss rate, itself uncertain (with no history: 1 in 10, so a first miss flags at once: on the public OULAD excerpt 0.05 caught 2 of 49 withdrawers, 0.1 caught 13 at precision 0.57)",
    ),
    Setting(
        "run_surprise",
        0.05,
        "own history: a run of low weeks (or missed submissions) flags only when the student's own earlier rate of them makes it this unlikely by chance",
    ),
    Setting("max_run_weeks", 5, "... needing at most this many consecutive weeks"),
    Setting(
        "missed_surprise",
        0.005,
        "missed submissions (besides other sources) flag only when the window's misses are this unlikely at the student's own earlier miss rate, itself uncertain (checked every week, so small: 0.02 flagged steady low submitters' scattered misses; 0.001 missed the demo's fades) ...",
    ),
    Setting(
        "missed_run_surprise",
        0.005,
        "... or when at least missed_min dues in a row (every due since the student last submitted) are this unlikely at that rate (a stop, not scattered misses)",
    ),
    Setting(
        "source_surprise",
        0.01,
        "a single source's run of low weeks flags only when this unlikely, by the student's own earlier rate of low weeks or, if higher, the chance of a low week at their usual level (sessions of those expected, or counts of active days and visits)",
    ),
    Setting(
        "history_prior_low",
        0.5,
        "own-history prior: weeks the condition held, before any history ...",
    ),
    Setting("history_prior_weeks", 5.0, "... out of this many weeks (0.5 of 5: 10%)"),
    Setting(
        "systemic_drop_ratio",
        0.5,
        'a student "dropped" in a source/module week below this x their baseline',
    ),
    Setting(
        "systemic_share",
        0.35,
        "source-level data-quality event when at least this share of a source's users drop ...",
    ),
    Setting(
        "systemic_excess",
        0.25,
        "... and that share exceeds the source's usual weekly share of drops by this much",
    ),
    Setting(
        "systemic_module_share",
        0.8,
        "module-level event: this share of the module's expected students recorded nothing",
    ),
    Setting(
        "systemic_module_min_students",
        12,
        "a module-level event concerns at least this many students",
    ),
    Setting(
        "systemic_group_share",
        0.8,
        "group-level event (a school, course, year, or module inferred from module codes on activity): this share of the group's users of a source dropped below systemic_drop_ratio x baseline in the same week ...",
    ),
    Setting("systemic_group_min_students", 8, "... out of at least this many users in the group"),
    Setting(
        "rate_full_weight_sessions",
        3.0,
        "attendance/online weigh fully in the index from this many expected sessions",
    ),
    Setting(
        "systemic_min_students",
        8,
        "a source-level event concerns at least this many students (and needs 3 weeks of history)",
    ),
    Setting("severity_high", 0.25, "index (or source ratio) at most this: high severity"),
    Setting("severity_medium", 0.45, "index (or source ratio) at most this: medium severity"),
)
DEFAULTS: dict = {s.name: s.default for s in SETTINGS}
HELP: dict[str, str] = {s.name: s.help for s in SETTINGS}
DETECTORS = ("robust_z", "ewma")


def _number(key: str, value, whole: bool) -> float | int:
    """A setting's number, refused (ValueError naming the key) unless finite, >= 0 (whole >= 1)."""
    kind = "a whole number >= 1" if whole else "a number >= 0"
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"engine setting {key!r} must be {kind}, not {value!r}") from None
    if not math.isfinite(number) or number < 0 or (whole and (number < 1 or number % 1)):
        raise ValueError(f"engine setting {key!r} must be {kind}, not {value!r}")
    return int(number) if whole else number


def merge_config(stored: dict | None) -> dict:
    """Defaults with stored overrides applied (nested dicts merged key by key); unknown keys and
    bad values refused with a ValueError naming the setting."""
    config = copy.deepcopy(DEFAULTS)
    for key, value in (stored or {}).items():
        if key not in DEFAULTS:
            raise ValueError(
                f"unknown engine setting {key!r} (python -m lib config show lists them)"
            )
        default = DEFAULTS[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise ValueError(
                    f"engine setting {key!r} is a table per source: set {key}.SOURCE=NUMBER"
                )
            config[key].update({str(k): _number(f"{key}.{k}", v, False) for k, v in value.items()})
        elif isinstance(default, str):
            if key == "detector" and value not in DETECTORS:
                raise ValueError(f"detector must be one of {', '.join(DETECTORS)}, not {value!r}")
            config[key] = str(value)
        else:
            config[key] = _number(key, value, isinstance(default, int))
    return config


def parse_assignments(pairs: list[str]) -> dict:
    """KEY=VALUE words (KEY may be TABLE.SOURCE) as overrides; values are JSON when they parse
    (numbers), else text. Refuses a word without "=" or with an empty key."""
    out: dict = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"expected KEY=VALUE, not {pair!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text.strip()
        table, dot, entry = key.partition(".")
        if dot:
            if table not in DEFAULTS or not isinstance(DEFAULTS[table], dict):
                raise ValueError(f"unknown engine setting table {table!r} in {pair!r}")
            out.setdefault(table, {})[entry] = value
        else:
            out[key] = value
    return out


def describe(config: dict) -> list[tuple[str, object, object, str]]:
    """(key, effective value, default, description) of every setting; tables one row per entry."""
    rows = []
    for key, default in DEFAULTS.items():
        value = config[key]
        if isinstance(default, dict):
            for entry in sorted(set(default) | set(value)):
                row = (f"{key}.{entry}", value.get(entry), default.get(entry), HELP[key])
                rows.append(row)
        else:
            rows.append((key, value, default, HELP[key]))
    return rows


def source_setting(config: dict, key: str, source: str) -> float:
    """A per-source setting, falling back on its "other" entry for generic sources."""
    table = config[key]
    return float(table.get(source, table["other"]))


def config_hash(config: dict) -> str:
    """A short stable hash of a configuration (a change forces a full recompute)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
