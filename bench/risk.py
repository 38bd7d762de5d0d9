"""Withdrawal-risk benchmark: the demo with earlier years -> load -> train -> held-out scores, JSON.

For each seed: `lib.demo.generate` with past years of outcomes (canonical files only), loaded like
the sample folder, the model trained on the earlier year(s) and tested on the latest complete one
(`held_out`, what decides whether Home uses it); then, with more past years, a rolling evaluation
(`rolling`): each complete year from the second on is predicted by a model fitted on the years
before it only, and the held-out predictions are pooled. Each prints ROC AUC and precision at the
top 10% of each week's worklist for the model's worklist order and the rule order (Home's: worst
flag in force, then the lowest index against usual), with 95% student-level bootstrap intervals,
on the whole worklist, among flagged students only, and with the model ranking everyone.

The shipped sample is seed 42 with --past-years 2 --past-students 200. Tune on seeds 1,2,3;
report 42,7,11.

python bench/risk.py [--students 500] [--past-years 2] [--past-students 200] [--seeds 42,7,11]
    [--out DIR] [--gb]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lib.demo import generate  # noqa: E402
from lib.risk import train  # noqa: E402
from lib.risk.model import pooled_scores, rolling, samples_by_year  # noqa: E402
from lib.store.db import init_db, session_scope  # noqa: E402
from lib.usecases import CANONICAL_ORDER, HISTORY_DIR, load_and_recompute  # noqa: E402


def rolling_figures(by_year: dict[int, pd.DataFrame], gb: bool = False) -> dict:
    """lib.risk.model.rolling's held-out years pooled (and per year), with the gradient-boosting
    comparator when asked."""
    pooled = rolling(by_year, {"gradient_boosting": _boosted} if gb else None)
    if pooled.empty:
        return {}
    per_year = {
        str(year): _figures(part, gb, resamples=200) for year, part in pooled.groupby("year")
    }
    return {"pooled": _figures(pooled, gb), "per_year": per_year}


def _boosted(train: pd.DataFrame, test: pd.DataFrame, rule: np.ndarray) -> np.ndarray:
    """A gradient-boosting comparator's worklist order (default settings, not tuned)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from lib.risk.model import MODEL_FEATURES

    model = HistGradientBoostingClassifier(random_state=0)
    model.fit(train[MODEL_FEATURES].to_numpy(float), train["label"].to_numpy())
    p = model.predict_proba(test[MODEL_FEATURES].to_numpy(float))[:, 1]
    return np.where(test["severity_now"].to_numpy(float) > 0, 10_000.0 + p, rule)


def _figures(part: pd.DataFrame, gb: bool, resamples: int = 1000) -> dict:
    names = ["model", "rule_based"] + (["gradient_boosting"] if gb else [])
    flagged = part["severity_now"].to_numpy(float) > 0
    worklist = pooled_scores(part, names, resamples=resamples)
    among = pooled_scores(part[flagged], names, resamples=resamples)
    return {"worklist": worklist, "flagged_only": among}


def one_seed(
    seed: int, students: int, past_years: int, past_students: int, work: Path, gb: bool
) -> dict:
    """Generate, load, compute, train for one seed; the model's held-out figures."""
    folder = work / f"seed-{seed}"
    t0, c0 = time.perf_counter(), time.process_time()
    summary = generate(
        students=students,
        seed=seed,
        out=folder,
        academic_year=2026,
        until=date(2026, 11, 27),
        system_exports=False,
        past_years=past_years,
        past_students=past_students,
    )
    url = f"sqlite:///{folder / 'store.db'}"
    init_db(url)
    years = sorted((folder / HISTORY_DIR).glob("[0-9]*")) + [folder]
    files = [(s, y / n) for y in years for s, n in CANONICAL_ORDER if (y / n).exists()]
    with session_scope(url) as session:
        outcome = load_and_recompute(session, files, loaded_by="bench", full=True)
        assert not outcome.failed, outcome.reports[-1].as_text()
        t1, c1 = time.perf_counter(), time.process_time()
        model = train(session, trained_by="bench")
        t2, c2 = time.perf_counter(), time.process_time()
        by_year, _ = samples_by_year(session)
    return {
        "seed": seed,
        "history": summary["history"],
        **{k: model[k] for k in ("train_years", "test_year", "in_use")},
        "held_out": model["scores"],
        "rolling": rolling_figures(by_year, gb),
        "seconds": {
            "generate_load_compute_wall": round(t1 - t0, 1),
            "generate_load_compute_cpu": round(c1 - c0, 1),
            "train_wall": round(t2 - t1, 1),
            "train_cpu": round(c2 - c1, 1),
            "total_wall": round(time.perf_counter() - t0, 1),
            "total_cpu": round(time.process_time() - c0, 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--past-years", type=int, default=2)
    parser.add_argument("--past-students", type=int, default=200)
    parser.add_argument("--seeds", default="42,7,11")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--gb", action="store_true", help="also a gradient-boosting comparator")
    args = parser.parse_args()
    work = Path(args.out or tempfile.mkdtemp(prefix="risk_"))
    load_before = os.getloadavg()
    runs = []
    for seed in args.seeds.split(","):
        runs.append(
            one_seed(int(seed), args.students, args.past_years, args.past_students, work, args.gb)
        )
        print(json.dumps(runs[-1], default=str), file=sys.stderr, flush=True)  # progress
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "args": vars(args) | {"out": str(work)},
                "load_average_start": [round(v, 2) for v in load_before],
                "load_average_end": [round(v, 2) for v in os.getloadavg()],
                "peak_rss_mb": round(peak, 1),
                "runs": runs,
            },
            indent=1,
            default=str,
        )
    )


if __name__ == "__main__":
    main()
