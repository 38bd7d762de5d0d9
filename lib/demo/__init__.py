"""Deterministic synthetic demo data: `generate()` writes canonical CSVs and real-format system exports.

Layout of `out/` (everything renders ONE truth; see planted.json for coverage and format notes):

- canonical (SPEC §8): students.csv, staff.csv, enrolments.csv, calendar.csv, events.csv (the daily
  activity truth), submissions.csv, exemptions.csv, ground_truth.csv (planted episodes, systemic events,
  exemptions) and planted.json (details the CSV cannot hold: source of each source_drop, outage building,
  modules and event ids, format variants, rounding rules, export coverage).
- history/<year>/ (only with past_years > 0): earlier complete years of other students with their
  outcomes (students.csv `status` withdrawn or completed, with `status_date`), canonical files only.
- timetable/ (Jisc UDD-like events.csv and student_event.csv for tutorial groups): always written,
  as the sample loader needs the expected contact points.
- system exports (SPEC §3, only with system_exports=True), one folder per adapter: qr/scans.csv,
  moodle_users.csv, moodle_log/ (course Logs report downloads, three courses), moodle_logstore/
  (logstore_standard_log.csv + courses.csv), submissions/ (assignments.csv + one grading worksheet per
  assignment), teams/ (attendance reports, mixed variants), echo360/views.csv. planted.json
  `system_exports` documents, per adapter, the format, the counting rule that reproduces events.csv
  and the coverage (the Moodle exports are bounded by max_file_bytes).

Deterministic for (students, seed, academic_year, until, past_years, past_students): one numpy Generator seeded with `seed`.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np

from lib.demo.activity import simulate
from lib.demo.canonical import (
    event_arrays,
    write_calendar,
    write_events,
    write_json,
    write_people,
    write_truth_tables,
)
from lib.demo.exports import write_timetable
from lib.demo.population import make_population
from lib.demo.term_calendar import academic_calendar
from lib.demo.timetable import make_timetable

DEFAULT_MAX_FILE_BYTES = 4_800_000


def default_academic_year(today: date) -> int:
    """First calendar year of the academic year containing `today` (years start 1 September)."""
    return today.year if today.month >= 9 else today.year - 1


def generate(
    students: int = 500,
    seed: int = 1,
    out: Path | str = Path("demo_out"),
    academic_year: int | None = None,
    until: date | None = None,
    system_exports: bool = True,
    max_file_bytes: int | None = DEFAULT_MAX_FILE_BYTES,
    past_years: int = 0,
    past_students: int | None = None,
) -> dict:
    """Write the demo data set into `out` and return a small summary of counts.

    `academic_year` is the first calendar year (2026 = Sept 2026 - Aug 2027; default: the one containing
    today); `until` is the last day with activity (default: the earlier of today and 31 August ending the
    year). `max_file_bytes` bounds the Moodle logstore/log-download exports by narrowing their coverage
    (documented in planted.json); None writes the full-site logstore. `past_years` complete earlier
    years of `past_students` (default: `students`) other students, with their outcomes, go under
    history/<year>/ (lib.demo.history), for the withdrawal-risk model.
    """
    t0 = time.perf_counter()
    today = date.today()
    year = default_academic_year(today) if academic_year is None else int(academic_year)
    end_of_year = date(year + 1, 8, 31)
    if until is None:
        until = min(today, end_of_year)
    until = min(until, end_of_year)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(seed)
    cal = academic_calendar(year)
    pop = make_population(rng, int(students), year)
    tt = make_timetable(rng, pop, cal)
    truth = simulate(rng, pop, cal, tt, until)

    files = write_people(pop, year, out)
    files.append(write_calendar(cal, out))
    files += write_timetable(pop, tt, year, out)
    ev = event_arrays(truth, tt, cal)
    files.append(write_events(ev, pop, out))
    files += write_truth_tables(truth, pop, out)

    planted = {k: v for k, v in truth.planted.items() if not k.startswith("_")}
    planted.update(
        {
            "students": int(students),
            "seed": int(seed),
            "academic_year": year,
            "until": until.isoformat(),
            "timezone": "Europe/London",
            "rounding": "online and lecture_capture minutes in events.csv = whole minutes of the exported "
            "seconds, rounded half up: (seconds + 30) // 60",
        }
    )
    if system_exports:
        from lib.demo.exports import write_exports

        export_rng = np.random.default_rng([seed, 1])
        files += write_exports(
            export_rng, pop, cal, tt, truth, ev, until, out, planted, max_file_bytes
        )
    history: list[dict] = []
    if past_years > 0:
        from lib.demo.history import write_history

        taken = set(pop.students["student_id"].astype(str))
        more, history = write_history(seed, past_students or students, year, past_years, out, taken)
        files += more
        planted["history"] = history
    files.append(write_json(planted, out / "planted.json"))
    counts = {
        name: int((ev["src"] == i).sum())
        for i, name in enumerate(["attendance", "online", "vle", "submission", "lecture_capture"])
    }
    return {
        "students": int(len(pop.students)),
        "academic_year": year,
        "until": until.isoformat(),
        "events_rows": int(len(ev["stu"])),
        "events_by_source": counts,
        "ground_truth_rows": int(len(truth.ground_truth)),
        "files_written": len(files),
        "history": history,
        "seconds": round(time.perf_counter() - t0, 1),
    }
