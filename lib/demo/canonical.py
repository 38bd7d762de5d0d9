"""Writers for the canonical CSVs of SPEC §8 (students, staff, enrolments, calendar, events, submissions, ...)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from lib.demo.activity import ATT, LC, ONL, SOURCE_NAMES, SUB, VLE, Truth, round_minutes
from lib.demo.population import Population
from lib.demo.term_calendar import AcademicCalendar
from lib.ingest.base import FRAME_COLUMNS
from lib.ingest.parsers.canonical import EVENT_COLUMNS

STUDENT_COLUMNS = FRAME_COLUMNS["students"]  # the canonical students file, as the loader reads it
CHUNK_ROWS = 1_000_000


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Plain UTF-8 CSV, LF line endings, no index."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\n")
    return path


def write_people(pop: Population, year: int, out: Path) -> list[Path]:
    files = [
        write_csv(pop.students[STUDENT_COLUMNS], out / "students.csv"),
        write_csv(pop.staff, out / "staff.csv"),
    ]
    s_idx, j = np.nonzero(pop.student_modules >= 0)
    enr = pd.DataFrame(
        {
            "student_id": pop.students["student_id"].to_numpy()[s_idx],
            "module_code": pop.modules["module_code"].to_numpy()[pop.student_modules[s_idx, j]],
            "academic_year": year,
        }
    ).sort_values(["student_id", "module_code"], kind="stable")
    files.append(write_csv(enr, out / "enrolments.csv"))
    return files


def write_calendar(cal: AcademicCalendar, out: Path) -> Path:
    rows = [(k, s.isoformat(), e.isoformat(), label) for k, s, e, label in cal.rows]
    return write_csv(
        pd.DataFrame(rows, columns=["kind", "start", "end", "label"]), out / "calendar.csv"
    )


def event_arrays(truth: Truth, tt: pd.DataFrame, cal: AcademicCalendar) -> dict[str, np.ndarray]:
    """All events.csv rows as aligned arrays, sorted by student, time, source."""
    start = tt["start"].to_numpy().astype("datetime64[s]")
    t_mod = tt["module_idx"].to_numpy()
    first = np.datetime64(cal.first_day, "s")
    a_mod = (
        truth.assignments["module_idx"].to_numpy()
        if len(truth.assignments)
        else np.zeros(0, np.int64)
    )
    due_at = (
        truth.assignments["due_at"].to_numpy().astype("datetime64[s]")
        if len(truth.assignments)
        else None
    )
    del due_at
    has_sub = ~np.isnat(truth.sub_at)
    parts = [
        (
            truth.att_stu,
            ATT,
            start[truth.att_sess],
            np.ones(len(truth.att_stu), np.int64),
            np.full(len(truth.att_stu), -1),
            t_mod[truth.att_sess],
        ),
        (
            truth.onl_stu,
            ONL,
            start[truth.onl_sess],
            np.ones(len(truth.onl_stu), np.int64),
            round_minutes(truth.onl_secs),
            t_mod[truth.onl_sess],
        ),
        (
            truth.vle_stu,
            VLE,
            first + (truth.vle_day * 86400).astype("timedelta64[s]"),
            truth.vle_qty,
            np.full(len(truth.vle_stu), -1),
            truth.vle_mod,
        ),
        (
            truth.lc_stu,
            LC,
            truth.lc_last,
            truth.lc_views,
            round_minutes(truth.lc_secs),
            t_mod[truth.lc_sess],
        ),
        (
            truth.sub_stu[has_sub],
            SUB,
            truth.sub_at[has_sub],
            np.ones(int(has_sub.sum()), np.int64),
            np.full(int(has_sub.sum()), -1),
            a_mod[truth.sub_asg[has_sub]],
        ),
    ]
    stu = np.concatenate([p[0] for p in parts]).astype(np.int64)
    src = np.concatenate([np.full(len(p[0]), p[1], np.int8) for p in parts])
    when = np.concatenate([p[2] for p in parts]).astype("datetime64[s]")
    qty = np.concatenate([p[3] for p in parts]).astype(np.int64)
    mins = np.concatenate([p[4] for p in parts]).astype(np.int64)
    mod = np.concatenate([p[5] for p in parts]).astype(np.int64)
    order = np.lexsort((mod, src, when.astype(np.int64), stu))
    ev = {"stu": stu, "src": src, "when": when, "qty": qty, "mins": mins, "mod": mod}
    return _merge_identical({k: v[order] for k, v in ev.items()})


def _merge_identical(ev: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One row per (student, source, time, module): identical keys are summed (no duplicate lines)."""
    keys = ("stu", "src", "when", "mod")
    n = len(ev["stu"])
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = np.any([ev[k][1:] != ev[k][:-1] for k in keys], axis=0)
    if new.all():
        return ev
    group = np.cumsum(new) - 1
    out = {k: ev[k][new] for k in keys}
    out["qty"] = np.bincount(group, weights=ev["qty"]).astype(np.int64)
    has = ev["mins"] >= 0
    mins = np.bincount(group, weights=np.where(has, ev["mins"], 0)).astype(np.int64)
    out["mins"] = np.where(np.bincount(group, weights=has) > 0, mins, -1)
    return out


def write_events(ev: dict[str, np.ndarray], pop: Population, out: Path) -> Path:
    path = out / "events.csv"
    sid = pop.students["student_id"].to_numpy().astype(str)
    codes = pop.modules["module_code"].to_numpy().astype(str)
    src_names = np.array(SOURCE_NAMES)
    with open(path, "wb") as fh:
        fh.write((",".join(EVENT_COLUMNS) + "\n").encode())
        opts = pacsv.WriteOptions(include_header=False, quoting_style="none")
        for lo in range(0, len(ev["stu"]), CHUNK_ROWS):
            sl = slice(lo, lo + CHUNK_ROWS)
            src = ev["src"][sl]
            when = ev["when"][sl]
            date_only = src == VLE
            occurred = np.datetime_as_string(when, unit="s").astype(object)
            occurred[date_only] = np.datetime_as_string(when[date_only], unit="D")
            mins = ev["mins"][sl]
            table = pa.table(
                {
                    "student_id": pa.array(sid[ev["stu"][sl]]),
                    "source": pa.array(src_names[src]),
                    "occurred_at": pa.array(occurred, pa.string()),
                    "quantity": pa.array(ev["qty"][sl]),
                    "minutes": pa.array(mins, mask=mins < 0),
                    "module_code": pa.array(codes[ev["mod"][sl]]),
                }
            )
            pacsv.write_csv(table, fh, opts)
    return path


def _iso_min(a: np.ndarray) -> np.ndarray:
    s = np.datetime_as_string(a, unit="s").astype(object)
    s[np.isnat(a)] = ""
    return s


def write_truth_tables(truth: Truth, pop: Population, out: Path) -> list[Path]:
    sid = pop.students["student_id"].to_numpy()
    adf = truth.assignments
    subs = pd.DataFrame(
        {
            "student_id": sid[truth.sub_stu],
            "assignment_id": adf["assignment_id"].to_numpy()[truth.sub_asg] if len(adf) else [],
            "module_code": adf["module_code"].to_numpy()[truth.sub_asg] if len(adf) else [],
            "due_at": _iso_min(adf["due_at"].to_numpy().astype("datetime64[s]")[truth.sub_asg])
            if len(adf)
            else [],
            "submitted_at": _iso_min(truth.sub_at),
        }
    )
    files = [
        write_csv(subs, out / "submissions.csv"),
        write_csv(truth.exemptions, out / "exemptions.csv"),
    ]
    files.append(write_csv(truth.ground_truth, out / "ground_truth.csv"))
    return files


def write_json(obj: dict, path: Path) -> Path:
    path.write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    return path


__all__ = [
    "write_people",
    "write_calendar",
    "event_arrays",
    "write_events",
    "write_truth_tables",
    "write_json",
    "write_csv",
    "STUDENT_COLUMNS",
    "EVENT_COLUMNS",
    "ONL",
]
