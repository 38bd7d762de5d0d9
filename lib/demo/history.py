"""Earlier academic years for the demo: other students' whole years with their outcomes (withdrawn on
a date, or completed), so that the withdrawal-risk model (lib/risk) can be trained out of the box.

Each past year is its own population (its own people, ids distinct from the current year's), drawn
from its own random stream, so adding history leaves the current year's files byte-identical. It is
written as canonical files under `out/history/<year>/` (students, enrolments, calendar, exemptions,
events, submissions, ground_truth); no timetable and no system exports, to keep the folder small.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from lib.demo.activity import simulate
from lib.demo.canonical import (
    STUDENT_COLUMNS,
    event_arrays,
    write_calendar,
    write_csv,
    write_events,
    write_people,
    write_truth_tables,
)
from lib.demo.population import Population, make_population
from lib.demo.term_calendar import academic_calendar
from lib.demo.timetable import make_timetable

HISTORY_DIR = "history"
# chance that a student with this planted episode withdrew a few weeks after its onset
WITHDRAW_AFTER = {
    "sudden_stop": 0.8,
    "gradual_fade": 0.7,
    "disengaged_from_start": 0.75,
    "source_drop": 0.2,
    "dip_recovery": 0.05,
}
WITHDRAW_UNANNOUNCED = 0.01  # students who left with no engagement drop planted (unpredictable)
# weeks from a drop's onset to the recorded withdrawal: a university records it weeks after the
# student stopped (after contact attempts, or at the termly review)
WITHDRAW_WEEKS = (4, 11)


def _distinct_ids(ids: np.ndarray, taken: set[str]) -> np.ndarray:
    """The same ids, each one already taken replaced by the next free id of its entry year."""
    out = ids.astype(object).copy()
    for i, sid in enumerate(out):
        value = int(sid)
        while str(value) in taken:
            value = (value // 1_000_000) * 1_000_000 + (value + 1) % 1_000_000
        out[i] = str(value)
        taken.add(out[i])
    return out


def _outcomes(
    rng: np.random.Generator, pop: Population, truth, first: date, last: date
) -> pd.DataFrame:
    """status, status_date per student: withdrawn (a few weeks after a planted drop, or now and
    then with none) or completed at the end of the year."""
    st = pop.students
    n = len(st)
    left = np.full(n, None, dtype=object)
    gt = truth.ground_truth
    episodes = gt[gt["kind"].isin(list(WITHDRAW_AFTER))].drop_duplicates("student_id")
    index = {sid: i for i, sid in enumerate(st["student_id"])}
    draws = rng.random(len(episodes))
    weeks = rng.integers(*WITHDRAW_WEEKS, len(episodes))
    for (sid, kind, onset), u, w in zip(
        episodes[["student_id", "kind", "onset"]].itertuples(index=False), draws, weeks, strict=True
    ):
        if u < WITHDRAW_AFTER[kind]:
            left[index[sid]] = min(date.fromisoformat(onset) + timedelta(weeks=int(w)), last)
    span = (last - first).days
    unannounced = (rng.random(n) < WITHDRAW_UNANNOUNCED) & (left == None)  # noqa: E711
    days = rng.integers(21, max(span - 21, 22), n)
    for i in np.flatnonzero(unannounced):
        left[i] = first + timedelta(days=int(days[i]))
    withdrawn = left != None  # noqa: E711
    return pd.DataFrame(
        {
            "status": np.where(withdrawn, "withdrawn", "completed"),
            "status_date": [
                (d if d is not None else last + timedelta(days=1)).isoformat() for d in left
            ],
        }
    )


def _until_left(truth, outcome: pd.DataFrame):
    """The truth without activity or assessments due on or after each student's leaving day."""
    leave = pd.to_datetime(outcome["status_date"]).to_numpy().astype("datetime64[s]")
    due = (
        truth.assignments["due_at"].to_numpy().astype("datetime64[s]")[truth.sub_asg]
        if len(truth.assignments)
        else np.zeros(0, "datetime64[s]")
    )
    keep = due < leave[truth.sub_stu]
    return replace(
        truth,
        sub_stu=truth.sub_stu[keep],
        sub_asg=truth.sub_asg[keep],
        sub_at=truth.sub_at[keep],
    )


def write_history(
    seed: int, students: int, year: int, past_years: int, out: Path, taken: set[str]
) -> tuple[list[Path], list[dict]]:
    """Write `past_years` complete years before `year` under out/history/<year>/; `taken` holds the
    ids already used (the current year's), extended with each past year's."""
    files: list[Path] = []
    summary: list[dict] = []
    for back in range(past_years, 0, -1):
        y = year - back
        folder = Path(out) / HISTORY_DIR / str(y)
        rng = np.random.default_rng([seed, 2, back])
        cal = academic_calendar(y)
        pop = make_population(rng, int(students), y)
        tt = make_timetable(rng, pop, cal)
        terms = [(s, e) for k, s, e, _ in cal.rows if k == "term"]
        last_day = terms[-1][1]
        truth = simulate(rng, pop, cal, tt, last_day)
        old = pop.students["student_id"].to_numpy()
        new = dict(zip(old, _distinct_ids(old, taken), strict=True))
        pop.students["student_id"] = pop.students["student_id"].map(new)
        for table in (truth.ground_truth, truth.exemptions):
            table["student_id"] = table["student_id"].map(new).fillna(table["student_id"])
        outcome = _outcomes(
            np.random.default_rng([seed, 3, back]), pop, truth, terms[0][0], last_day
        )
        truth = _until_left(truth, outcome)
        ev = event_arrays(truth, tt, cal)
        leave = pd.to_datetime(outcome["status_date"]).to_numpy().astype("datetime64[s]")
        keep = ev["when"] < leave[ev["stu"]]
        ev = {k: v[keep] for k, v in ev.items()}
        st = pop.students
        # they have left: no tutor now, no sponsorship to report on
        st["tutor_username"] = ""
        st["visa_sponsored"] = "no"
        st["status"] = outcome["status"].to_numpy()
        st["status_date"] = outcome["status_date"].to_numpy()
        people = write_people(pop, y, folder)
        write_csv(st[[*STUDENT_COLUMNS, "status_date"]], folder / "students.csv")
        files += [p for p in people if p.name != "staff.csv"]
        (folder / "staff.csv").unlink()
        files.append(write_calendar(cal, folder))
        files.append(write_events(ev, pop, folder))
        files += write_truth_tables(truth, pop, folder)
        summary.append(
            {
                "academic_year": y,
                "students": int(len(st)),
                "withdrawn": int((st["status"] == "withdrawn").sum()),
                "events_rows": int(len(ev["stu"])),
            }
        )
    return files, summary
