"""Detection sweep on the independent populations: load each seed once, then score engine settings
in memory (the same definitions as bench/detection.py), per seed, set and episode or student type.

python bench/detection_sweep.py [--seeds 1 2 3 4 5 6] [--demo-seeds 3] [--set KEY=VALUE ...] [--grid KEY=V1,V2 ...]
Tune on seeds other than the held-out 2027; report 2027 beside them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.detection import evaluate  # noqa: E402
from lib.engagement.config import merge_config, parse_assignments  # noqa: E402
from lib.engagement.engine import KIND_NAMES, flag_records, run  # noqa: E402
from lib.engagement.measures import build_inputs  # noqa: E402

KINDS = ("mixed", "submissions", "attendance")


def _frames(kind: str, seed: int, students: int, work: Path, clean: bool = False) -> dict:
    """The store's weekly frames for one generated scenario (cached on disk)."""
    from bench.detection import _load_store
    from bench.scenarios import generate
    from lib.compute.frames import read_frames
    from lib.store.db import session_scope

    folder = work / f"s{seed}" / f"{kind}{'_clean' if clean else ''}"
    cache = folder / "frames.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    if kind == "demo":  # the demo population (lib/demo), tuned on too
        from datetime import date

        from lib.demo import generate as demo

        demo(
            students=students,
            seed=seed,
            out=folder,
            academic_year=2025,
            until=date(2026, 7, 31),
            system_exports=False,
        )
        planted = json.loads((folder / "planted.json").read_text())
    else:
        planted = generate(folder, students=students, seed=seed, kind=kind, clean=clean)
    url = f"sqlite:///{folder / 'store.db'}"
    (folder / "store.db").unlink(missing_ok=True)
    _load_store(folder, url)
    with session_scope(url) as session:
        frames = read_frames(session)
    out = {
        "frames": frames,
        "planted": planted,
        "truth": pd.read_csv(folder / "ground_truth.csv", dtype=str, keep_default_na=False),
        "exemptions": pd.read_csv(folder / "exemptions.csv", dtype=str),
    }
    cache.write_bytes(pickle.dumps(out))
    return out


def _flags(data: dict, config: dict) -> tuple[pd.DataFrame, pd.Series]:
    inp = build_inputs(**data["frames"], config=config)
    res = run(inp, config)
    rec = flag_records(res.state)
    flags = pd.DataFrame(
        {
            "student_id": inp.student_ids.to_numpy()[rec["s"].to_numpy(np.int64)],
            "kind": np.array(KIND_NAMES)[rec["kind"].to_numpy(np.int64)],
            "week_start": pd.to_datetime(inp.weeks[rec["w"].to_numpy(np.int64)]),
            "source": [inp.sources[k] if k >= 0 else "" for k in rec["k"]],
        }
    )
    teaching = pd.Series(np.asarray(inp.teaching, bool), index=pd.to_datetime(inp.weeks))
    return flags, teaching


def _outage(flags: pd.DataFrame, clean: pd.DataFrame, planted: dict) -> dict:
    """Students flagged for each planted feed problem (as bench/detection.score_scenario)."""
    caused = {}
    for event in planted["systemic"]:
        lo = pd.Timestamp(event["start"])
        hi = lo + pd.Timedelta(weeks=int(event["weeks"]) + 2)
        mine = flags[
            flags["student_id"].isin(event["students"])
            & (flags["week_start"] >= lo)
            & (flags["week_start"] < hi)
        ]
        near = clean[
            (clean["week_start"] >= lo - pd.Timedelta(weeks=3))
            & (clean["week_start"] < hi + pd.Timedelta(weeks=3))
        ]
        keys = ["student_id", "kind"]
        only = mine[keys].merge(near[keys].drop_duplicates(), on=keys, how="left", indicator=True)
        caused[event["kind"]] = int(only.loc[only["_merge"] == "left_only", "student_id"].nunique())
    return caused


def _people(seed: int, students: int, kind: str) -> pd.DataFrame:
    """The generator's people (its own random draws replayed): each student's type."""
    from bench import scenarios

    rng = np.random.default_rng(seed)
    people = scenarios._people(rng, students, kind, scenarios._modules(rng))
    return pd.DataFrame(
        {
            "student_id": [p.sid for p in people],
            "type": [
                ("low" if p.attend_p < 0.45 else "mid" if p.attend_p < 0.75 else "high")
                + ("/pt" if p.part_time else "")
                + (f"/{p.vle_style}" if kind == "mixed" else "")
                for p in people
            ],
        }
    )


def score(data: dict, config: dict, clean: dict | None = None) -> dict:
    flags, teaching = _flags(data, config)
    students = len(data["frames"]["students"])
    out = evaluate(flags, data["truth"], students, teaching, pd.DataFrame(), data["exemptions"])
    planted_ids = set(data["truth"]["student_id"]) - {""}
    fp = flags[~flags["student_id"].isin(planted_ids)]
    out["false_by_source"] = (fp["kind"] + ":" + fp["source"]).value_counts().to_dict()
    out["missed_episodes"] = _missed(flags, data["truth"], teaching)
    if clean is not None:
        cflags, _ = _flags(clean, config)
        out["feed"] = _outage(flags, cflags, data["planted"])
    if "people" in data:
        types = data["people"].set_index("student_id")["type"]
        clean_people = types[~types.index.isin(planted_ids)]
        hit = fp["student_id"].map(types).value_counts()
        n = clean_people.value_counts()
        out["false_by_type"] = {t: f"{int(hit.get(t, 0))}/{int(n[t])}" for t in sorted(n.index)}
    return out


def _missed(flags: pd.DataFrame, truth: pd.DataFrame, teaching: pd.Series) -> list:
    """Episodes not caught (kind, student, onset) by the evaluate() rule."""
    out = []
    for ep in truth[
        truth["kind"].isin(
            ("sudden_stop", "gradual_fade", "source_drop", "dip_recovery", "disengaged_from_start")
        )
    ].itertuples():
        one = pd.DataFrame([ep._asdict()]).drop(columns="Index")
        r = evaluate(
            flags,
            one,
            1,
            teaching,
            pd.DataFrame(),
            pd.DataFrame(columns=["student_id", "start", "end"]),
        )
        if r["recall"] < 1:
            out.append(f"{ep.kind}:{ep.student_id}:{ep.onset}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--students", type=int, default=400)
    parser.add_argument("--demo-seeds", type=int, nargs="*", default=[])
    parser.add_argument("--demo-students", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "detect_sweep")
    parser.add_argument("--set", nargs="*", default=[])
    parser.add_argument("--grid", nargs="*", default=[])
    parser.add_argument("--kinds", nargs="*", default=list(KINDS))
    parser.add_argument("--detail", action="store_true")
    args = parser.parse_args()
    base = parse_assignments(args.set)
    axes = [
        (g.split("=")[0], [json.loads(v) for v in g.split("=")[1].split(",")]) for g in args.grid
    ]
    data = {
        (seed, kind): _frames(kind, seed, args.students, args.work)
        for seed in args.seeds
        for kind in args.kinds
    }
    for (seed, kind), d in data.items():
        if kind != "demo":
            d["people"] = _people(seed, args.students, kind)
    for seed in args.demo_seeds:
        data[(seed, "demo")] = _frames("demo", seed, args.demo_students, args.work)
    cleans = {
        seed: _frames("mixed", seed, args.students, args.work, clean=True)
        for seed in args.seeds
        if "mixed" in args.kinds
    }
    for combo in itertools.product(*[v for _, v in axes]) if axes else [()]:
        over = {**base, **{k: v for (k, _), v in zip(axes, combo, strict=True)}}
        config = merge_config(over)
        rows = []
        for (seed, kind), d in data.items():
            r = score(d, config, cleans.get(seed) if kind == "mixed" else None)
            rows.append((seed, kind, r))
        print("==", json.dumps({k: over[k] for k in over}))
        for kind in [*args.kinds, *(["demo"] if args.demo_seeds else [])]:
            mine = [(s, r) for s, k, r in rows if k == kind]
            rec = [r["recall"] for _, r in mine]
            fal = [r["false_flags_per_100_student_teaching_weeks"] for _, r in mine]
            per = " ".join(
                f"{s}:{r['recall']:.3f}/{r['false_flags_per_100_student_teaching_weeks']:.2f}"
                + (f"/o{r['feed'].get('systemic_school_attendance_outage')}" if "feed" in r else "")
                for s, r in mine
            )
            print(f"  {kind:12s} mean recall {np.mean(rec):.3f} false {np.mean(fal):.3f} | {per}")
            if args.detail:
                by_kind: dict = {}
                fbk: dict = {}
                fbt: dict = {}
                for _, r in mine:
                    for k, v in r["recall_by_kind"].items():
                        by_kind.setdefault(k, []).append(v)
                    for k, v in r["false_by_source"].items():
                        fbk[k] = fbk.get(k, 0) + v
                    for k, v in r.get("false_by_type", {}).items():
                        a, b = fbt.get(k, (0, 0))
                        x, y = map(int, v.split("/"))
                        fbt[k] = (a + x, b + y)
                print(
                    "     recall by kind",
                    {k: round(float(np.mean(v)), 3) for k, v in by_kind.items()},
                )
                print("     false by kind:source", fbk)
                print(
                    "     false flags/students by type",
                    {k: f"{a}/{b}" for k, (a, b) in sorted(fbt.items())},
                )
                print("     delays", [r["median_delay_teaching_weeks"] for _, r in mine])
                for s, r in mine:
                    print("     missed", s, r["missed_episodes"])
                    if "feed" in r:
                        print("     feed", s, r["feed"])


if __name__ == "__main__":
    main()
