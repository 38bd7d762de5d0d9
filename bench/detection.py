"""Detection benchmark: demo data with planted truth -> load -> compute with each detector -> JSON.

python bench/detection.py [--students 2000] [--seed 11] [--year 2025] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.compute.service import compute, load_engine_config, save_engine_config  # noqa: E402
from lib.engagement.calendar import monday  # noqa: E402
from lib.store.db import init_db, session_scope  # noqa: E402
from lib.store.models import Flag  # noqa: E402

EPISODES = ("sudden_stop", "gradual_fade", "source_drop", "dip_recovery", "disengaged_from_start")
WINDOW = {"gradual_fade": 5}  # teaching weeks from onset to the first flag (others: 3)


def _flags(session) -> pd.DataFrame:
    rows = session.query(Flag.student_id, Flag.kind, Flag.week_start).all()
    frame = pd.DataFrame(rows, columns=["student_id", "kind", "week_start"])
    frame["week_start"] = pd.to_datetime(frame["week_start"])
    return frame


def _teaching_weeks(session) -> pd.Series:
    """Whether each week the engine computes is a teaching week (the weeks of its inputs: the
    index rows begin at a student's first source, so a submissions-only store has none before
    the first due and counted fewer student-teaching-weeks than the other sets)."""
    from lib.compute.frames import read_inputs

    inp = read_inputs(session, load_engine_config(session))
    return pd.Series(np.asarray(inp.teaching, bool), index=pd.to_datetime(inp.weeks))


def evaluate(
    flags: pd.DataFrame,
    truth: pd.DataFrame,
    students: int,
    teaching: pd.Series,
    dq: pd.DataFrame,
    exemptions: pd.DataFrame,
) -> dict:
    """Recall, delay, false-flag rate and 'never flag' counts for one detector's flags."""
    t_weeks = teaching[teaching].index
    t_pos = pd.Series(np.arange(len(t_weeks)), index=t_weeks)
    episodes = truth[truth["kind"].isin(EPISODES)].copy()
    found, delays, by_kind = 0, [], {}
    for ep in episodes.itertuples(index=False):
        onset = pd.Timestamp(monday(date.fromisoformat(ep.onset)))
        mine = flags[(flags["student_id"] == ep.student_id) & (flags["week_start"] >= onset)]
        start = int((t_pos.index < onset).sum())  # the first teaching week from the onset
        window = WINDOW.get(ep.kind, 3)
        late = t_pos.reindex(mine["week_start"]).to_numpy(float) - start
        mine = mine[~(late > window)]  # caught within `window` teaching weeks of the onset
        hit = not mine.empty
        if hit and isinstance(ep.end, str) and ep.end:  # a dip must be caught by two weeks after it
            limit = pd.Timestamp(monday(date.fromisoformat(ep.end))) + timedelta(weeks=2)
            mine = mine[mine["week_start"] <= limit]
            hit = not mine.empty
        by_kind.setdefault(ep.kind, [0, 0])
        by_kind[ep.kind][1] += 1
        if hit:
            found += 1
            by_kind[ep.kind][0] += 1
            first = mine["week_start"].min()
            delays.append(
                int(t_pos[t_pos.index <= first].iloc[-1] - start)
                if (t_pos.index <= first).any()
                else 0
            )
    planted_ids = set(truth.loc[truth["student_id"].astype(str) != "", "student_id"].astype(str))
    clean = flags[~flags["student_id"].isin(planted_ids)]
    clean_students = students - len(planted_ids)
    systemic = truth[truth["kind"].str.startswith("systemic")]
    sys_weeks = {pd.Timestamp(monday(date.fromisoformat(d))) for d in systemic["onset"]}
    sys_weeks |= {w + timedelta(weeks=1) for w in sys_weeks}
    non_teaching = flags[~flags["week_start"].map(teaching).fillna(False).astype(bool)]
    in_exemption = 0
    for ex in exemptions.itertuples(index=False):
        lo = pd.Timestamp(monday(date.fromisoformat(ex.start)))
        hi = pd.Timestamp(date.fromisoformat(ex.end))
        mine = flags[(flags["student_id"] == ex.student_id)]
        in_exemption += int(((mine["week_start"] >= lo) & (mine["week_start"] <= hi)).sum())
    return {
        "episodes": int(len(episodes)),
        "recall": round(found / max(len(episodes), 1), 3),
        "recall_by_kind": {k: round(v[0] / v[1], 3) for k, v in sorted(by_kind.items())},
        "median_delay_teaching_weeks": float(np.median(delays)) if delays else None,
        "false_flags_per_100_student_teaching_weeks": round(
            100 * len(clean) / max(clean_students * len(t_weeks), 1), 3
        ),
        "false_flags_by_kind": clean["kind"].value_counts().to_dict(),
        "flags_in_systemic_weeks_any_cause": int(
            clean.loc[clean["kind"] != "missed_submissions", "week_start"].isin(sys_weeks).sum()
        ),
        "flags_in_non_teaching_weeks": int(len(non_teaching)),
        "flags_in_exemptions": int(in_exemption),
        "flags_total": int(len(flags)),
        "dq_events": int(len(dq)),
    }


def _with_and_without(session, config: dict, planted: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(flags computed from the loaded data, flags of a counterfactual where the outages never
    happened: the outage building's sessions that week not timetabled; the Moodle outage week
    simply missing)."""
    from lib.compute.frames import read_daily_frames
    from lib.engagement.engine import run
    from lib.engagement.explain import flags_frame
    from lib.engagement.measures import build_inputs

    frames = read_daily_frames(session)  # daily rows: the outage is cut out by day
    inp = build_inputs(**frames, config=config)
    actual = flags_frame(inp, run(inp, config), config)
    for event in planted.get("systemic", []):
        if event["kind"] == "systemic_qr_outage":
            exp = frames["expected"]
            day = pd.to_datetime(exp["day"])
            hit = (
                exp["module_code"].isin(event["modules"])
                & ~exp["online"].astype(bool)
                & (day >= pd.Timestamp(event["start"]))
                & (day <= pd.Timestamp(event["end"]))
            )
            frames["expected"] = exp[~hit]
    cf = build_inputs(**frames, config=config)
    weeks = pd.to_datetime(cf.weeks)
    for event in planted.get("systemic", []):
        if event["kind"] == "systemic_vle_outage":
            w = int(
                np.searchsorted(weeks, pd.Timestamp(monday(date.fromisoformat(event["start"]))))
            )
            k = cf.sources.index("vle")
            cf.value[:, w, k] = np.nan
            cf.count[:, w, k] = 0.0
    counterfactual = flags_frame(cf, run(cf, config), config)
    return actual, counterfactual


def systemic_caused(session, config: dict, planted: dict) -> int:
    """Flags that exist only because of the planted systemic events (see _with_and_without)."""
    actual, counterfactual = _with_and_without(session, config, planted)
    keys = ["student_id", "kind", "week_start"]
    merged = actual[keys].merge(counterfactual[keys], on=keys, how="left", indicator=True)
    return int((merged["_merge"] == "left_only").sum())


def systemic_caused_students(session, config: dict, planted: dict) -> int:
    """Students with a flag of a kind that the counterfactual (no systemic events) never raises for
    them: flags the events caused, not flags they only moved by a week or two."""
    actual, counterfactual = _with_and_without(session, config, planted)
    keys = ["student_id", "kind"]
    merged = actual[keys].merge(
        counterfactual[keys].drop_duplicates(), on=keys, how="left", indicator=True
    )
    return int(merged.loc[merged["_merge"] == "left_only", "student_id"].nunique())


def _load_store(folder: Path, url: str) -> None:
    from lib.usecases import load_sample_folder

    init_db(url)
    with session_scope(url) as session:
        load_sample_folder(session, folder, force=True)  # loads and computes


def _dq(session) -> pd.DataFrame:
    from lib.store.models import DataQualityEvent

    rows = session.query(
        DataQualityEvent.week_start, DataQualityEvent.source, DataQualityEvent.module_code
    ).all()
    return pd.DataFrame(rows, columns=["week_start", "source", "module_code"])


def score_scenario(kind: str, students: int, seed: int, work: Path) -> dict:
    """Recall, delay and false flags on an independently generated population (bench.scenarios),
    and the students flagged because of its planted feed problems (flags that a clean copy of the
    same population, loaded without those problems, does not raise)."""
    from bench.scenarios import generate

    stores = {}
    for clean in (False, True) if kind == "mixed" else (False,):
        folder = work / f"{kind}{'_clean' if clean else ''}"
        planted = generate(folder, students=students, seed=seed, kind=kind, clean=clean)
        url = f"sqlite:///{folder / 'store.db'}"
        (folder / "store.db").unlink(missing_ok=True)
        _load_store(folder, url)
        with session_scope(url) as session:
            stores[clean] = (_flags(session), _teaching_weeks(session), _dq(session), planted)
    flags, teaching, dq, planted = stores[False]
    folder = work / kind
    truth = pd.read_csv(folder / "ground_truth.csv", dtype=str, keep_default_na=False)
    exemptions = pd.read_csv(folder / "exemptions.csv", dtype=str)
    result = evaluate(flags, truth, students, teaching, dq, exemptions)
    if True in stores:
        clean_flags = stores[True][0]
        caused = {}
        for event in planted["systemic"]:
            lo = pd.Timestamp(event["start"])
            hi = lo + timedelta(weeks=int(event["weeks"]) + 2)
            mine = flags[
                flags["student_id"].isin(event["students"])
                & (flags["week_start"] >= lo)
                & (flags["week_start"] < hi)
            ]
            # a flag the clean copy raises too (same student and kind, within 3 weeks of the
            # window) was only moved by the outage, not caused by it
            near = clean_flags[
                (clean_flags["week_start"] >= lo - timedelta(weeks=3))
                & (clean_flags["week_start"] < hi + timedelta(weeks=3))
            ]
            keys = ["student_id", "kind"]
            only = mine[keys].merge(
                near[keys].drop_duplicates(), on=keys, how="left", indicator=True
            )
            caused[event["kind"]] = int(
                only.loc[only["_merge"] == "left_only", "student_id"].nunique()
            )
        result["students_flagged_for_feed_problems"] = caused
        result["students_flagged_for_the_outage"] = caused.get(
            "systemic_school_attendance_outage", 0
        )
        result["dq_events_list"] = [
            f"{r.week_start} {r.source} {r.module_code or ''}".strip() for r in dq.itertuples()
        ]
    return result


def risk(students: int, seed: int, work: Path) -> dict:
    """The learned withdrawal-risk ranking on an independent institution with two past years of
    outcomes: trained on the earliest, tested on the next (held out), against the rule order."""
    from bench.scenarios import generate_years
    from lib.risk import train

    folder = work / "risk"
    population = generate_years(folder, students=students, seed=seed)
    url = f"sqlite:///{folder / 'store.db'}"
    (folder / "store.db").unlink(missing_ok=True)
    _load_store(folder, url)
    with session_scope(url) as session:
        model = train(session, trained_by="bench")
    return {
        "population": population,
        **{k: model[k] for k in ("train_years", "test_year", "in_use", "scores")},
    }


def independent(students: int, seed: int, work: Path) -> dict:
    """The independent populations: mixed sources, submissions only, attendance only."""
    return {
        kind: score_scenario(kind, students, seed, work / "independent")
        for kind in ("mixed", "submissions", "attendance")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--independent-students", type=int, default=400)
    parser.add_argument("--independent-seed", type=int, default=2027)
    parser.add_argument("--only-independent", action="store_true")
    args = parser.parse_args()
    work = Path(args.out or tempfile.mkdtemp(prefix="detection_"))
    if args.only_independent:
        out = {"independent": independent(args.independent_students, args.independent_seed, work)}
        out["risk"] = risk(args.independent_students, args.independent_seed, work)
        print(json.dumps(out, indent=1, default=str))
        return
    data = work / "demo"
    t0 = time.perf_counter()
    if not (data / "ground_truth.csv").exists():
        from lib.demo import generate

        generate(
            students=args.students,
            seed=args.seed,
            out=data,
            academic_year=args.year,
            until=date(args.year + 1, 7, 31),
            system_exports=False,
        )
    t_gen = time.perf_counter()
    url = f"sqlite:///{work / 'store.db'}"
    (work / "store.db").unlink(missing_ok=True)
    init_db(url)
    from lib.usecases import load_sample_folder

    with session_scope(url) as session:
        load_sample_folder(session, data, force=True)  # loads and computes (default detector)
    t_load = time.perf_counter()
    truth = pd.read_csv(data / "ground_truth.csv", dtype=str, keep_default_na=False)
    exemptions = pd.read_csv(data / "exemptions.csv", dtype=str)
    planted = json.loads((data / "planted.json").read_text())
    out: dict = {
        "students": args.students,
        "seed": args.seed,
        "academic_year": args.year,
        "generate_seconds": round(t_gen - t0, 1),
        "load_and_compute_seconds": round(t_load - t_gen, 1),
    }
    for detector in ("robust_z", "ewma"):
        with session_scope(url) as session:
            save_engine_config(session, {"detector": detector}, updated_by="bench")
            summary = compute(session, full=True).as_dict()
            teaching = _teaching_weeks(session)
            from lib.store.models import DataQualityEvent

            dq = pd.DataFrame(
                session.query(
                    DataQualityEvent.week_start,
                    DataQualityEvent.source,
                    DataQualityEvent.module_code,
                ).all()
            )
            result = evaluate(_flags(session), truth, args.students, teaching, dq, exemptions)
            config = load_engine_config(session)
            result["flags_caused_by_systemic_events"] = systemic_caused(session, config, planted)
            result["students_flagged_by_systemic_events"] = systemic_caused_students(
                session, config, planted
            )
            blind = {**config, "systemic_share": 2.0, "systemic_module_share": 2.0}
            result["flags_caused_by_systemic_events_if_undetected"] = systemic_caused(
                session, blind, planted
            )
        result["compute_seconds"] = summary["seconds"]
        result["compute_engine_seconds"] = summary["seconds_engine"]
        result["compute_read_seconds"] = summary["seconds_read"]
        result["measure_rows_written"] = summary["measures_written"]
        out[detector] = result
    keys = ("recall", "false_flags_per_100_student_teaching_weeks")
    ok = {
        d: out[d]["recall"] >= 0.9 and out[d]["false_flags_per_100_student_teaching_weeks"] <= 1.0
        for d in ("robust_z", "ewma")
    }
    better = max(
        ("robust_z", "ewma"), key=lambda d: (ok[d], out[d][keys[0]] - out[d][keys[1]] / 10)
    )
    out["better_detector"] = better
    out["independent"] = independent(args.independent_students, args.independent_seed, work)
    out["risk"] = risk(args.independent_students, args.independent_seed, work)
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
