"""Withdrawal-risk benchmark: the demo with earlier years -> load -> train -> held-out scores, JSON.

For each seed: `lib.demo.generate` with past years of outcomes (canonical files only), loaded like
the sample folder, the model trained on the earlier year(s) and tested on the latest complete one;
prints precision at the top 10% and ROC AUC of the model and of the rule-based order.

python bench/risk.py [--students 500] [--past-students 200] [--seeds 42,7,11] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.demo import generate  # noqa: E402
from lib.risk import train  # noqa: E402
from lib.store.db import init_db, session_scope  # noqa: E402
from lib.usecases import CANONICAL_ORDER, HISTORY_DIR, load_and_recompute  # noqa: E402


def one_seed(seed: int, students: int, past_students: int, work: Path) -> dict:
    """Generate, load, compute, train for one seed; the model's held-out figures."""
    folder = work / f"seed-{seed}"
    t0 = time.perf_counter()
    summary = generate(
        students=students,
        seed=seed,
        out=folder,
        academic_year=2026,
        until=date(2026, 11, 27),
        system_exports=False,
        past_years=2,
        past_students=past_students,
    )
    url = f"sqlite:///{folder / 'store.db'}"
    init_db(url)
    years = sorted((folder / HISTORY_DIR).glob("[0-9]*")) + [folder]
    files = [(s, y / n) for y in years for s, n in CANONICAL_ORDER if (y / n).exists()]
    with session_scope(url) as session:
        outcome = load_and_recompute(session, files, loaded_by="bench", full=True)
        assert not outcome.failed, outcome.reports[-1].as_text()
        model = train(session, trained_by="bench")
    return {
        "seed": seed,
        "history": summary["history"],
        **{k: model[k] for k in ("train_years", "test_year", "in_use", "scores")},
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--past-students", type=int, default=200)
    parser.add_argument("--seeds", default="42,7,11")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    work = Path(args.out or tempfile.mkdtemp(prefix="risk_"))
    runs = [
        one_seed(int(s), args.students, args.past_students, work) for s in args.seeds.split(",")
    ]
    print(json.dumps({"runs": runs}, indent=1))


if __name__ == "__main__":
    main()
