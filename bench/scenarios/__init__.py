"""An independent scenario generator for scoring detection on data the detector was not built on.

Written separately from lib/demo (no shared code, calendar or shape parameters). It writes the
canonical CSVs of SPEC §8 (students, calendar, exemptions, events, submissions; enrolments and a
timetable only where a scenario wants them) plus `ground_truth.csv` (student_id,kind,onset,end) and
`planted.json` (the feed problems planted, with the students they concern).

Institutions (`kind`):
- "mixed": attendance scans with module codes (no timetable, no enrolments), Moodle clicks, lecture
  capture, library visits and submissions; steady low engagers, fortnightly and bursty Moodle users,
  part-time students, students who never use some sources; one school's attendance feed down for a
  teaching week, one cohort's Moodle feed missing from a week on, the Moodle feed arriving late.
- "submissions": distance learning, assessments only (one every few weeks per module).
- "attendance": scans only.
`clean=True` writes the same population without the planted feed problems (the counterfactual).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

YEAR_START = date(2025, 9, 29)  # Monday of the first week of term 1
TERM_WEEKS = 11
READING = (5, 16)  # week positions (from YEAR_START, vacation included) of the reading weeks
EXAM = (10,)  # last week of term 1
VACATION = (11, 12, 13)
HORIZON_WEEK = 23  # data end: the Friday of this week position
SCHOOLS = ("Engineering", "Humanities", "Health", "Business")
OUTAGE_SCHOOL, OUTAGE_WEEK = "Health", 18
COHORT_YEAR, COHORT_FROM = 3, 21  # Moodle feed of year-3 students missing from this week on
LATE_FEED_DAYS = 4  # the Moodle feed's last days arrive after the horizon


EASTER = (25, 26, 27)  # a past year's spring vacation (a past year runs to HORIZON_PAST)
HORIZON_PAST = 36


def teaching_positions() -> list[int]:
    """Week positions (0 = YEAR_START) that are teaching weeks, up to the horizon."""
    skip = set(READING) | set(EXAM) | set(VACATION) | set(EASTER)
    return [w for w in range(HORIZON_WEEK + 1) if w not in skip]


def monday_of(position: int) -> date:
    return YEAR_START + timedelta(weeks=position)


def calendar_rows() -> pd.DataFrame:
    t1_end = monday_of(TERM_WEEKS - 1) + timedelta(days=4)
    t2_start = monday_of(VACATION[-1] + 1)
    rows = [
        ("term", YEAR_START, t1_end, "Michaelmas"),
        ("vacation", t1_end + timedelta(days=3), t2_start - timedelta(days=1), "Winter break"),
        ("term", t2_start, t2_start + timedelta(weeks=TERM_WEEKS) - timedelta(days=3), "Lent"),
    ]
    if HORIZON_WEEK > EASTER[-1]:
        t3_start = monday_of(EASTER[-1] + 1)
        rows += [
            (
                "vacation",
                monday_of(EASTER[0]) - timedelta(days=2),
                t3_start - timedelta(days=1),
                "Easter",
            ),
            ("term", t3_start, monday_of(HORIZON_WEEK) + timedelta(days=4), "Summer"),
        ]
    rows += [
        ("reading_week", monday_of(w), monday_of(w) + timedelta(days=4), "Reading") for w in READING
    ]
    rows += [
        ("exam", monday_of(w), monday_of(w) + timedelta(days=4), "January tests") for w in EXAM
    ]
    return pd.DataFrame(
        [(k, s.isoformat(), e.isoformat(), lab) for k, s, e, lab in rows],
        columns=["kind", "start", "end", "label"],
    )


@dataclass
class Person:
    """One student's engagement habits and planted episode."""

    sid: str
    school: str
    year: int
    part_time: bool
    modules: list[str]
    attend_p: float
    vle_style: str  # regular | fortnightly | bursty | none
    vle_days: float
    lc_minutes: float  # 0: never uses lecture capture
    library_rate: float  # 0: never uses the library
    submit_p: float
    late_p: float
    episode: str = ""
    onset: int = -1  # teaching-week index
    end: int = -1
    dropped_source: str = ""
    exempt: tuple[int, int] | None = None


def _modules(rng: np.random.Generator) -> dict[str, list[tuple[str, int, bool]]]:
    """Per school: module code, sessions a week, fortnightly."""
    out = {}
    for school in SCHOOLS:
        prefix = school[:3].upper()
        out[school] = [
            (f"{prefix}{100 + 7 * i}", int(rng.integers(1, 4)), bool(rng.random() < 0.3))
            for i in range(6)
        ]
    return out


def _people(rng: np.random.Generator, n: int, kind: str, catalogue: dict) -> list[Person]:
    people = []
    taught = teaching_positions()
    for i in range(n):
        school = SCHOOLS[int(rng.integers(len(SCHOOLS)))]
        part_time = bool(rng.random() < 0.2)
        codes = [c for c, _, _ in catalogue[school]]
        modules = list(rng.choice(codes, size=2 if part_time else 3, replace=False))
        tier = rng.random()
        if tier < 0.15:  # steady low engagers
            attend_p = float(rng.uniform(0.2, 0.4))
        elif tier < 0.4:
            attend_p = float(rng.uniform(0.45, 0.7))
        else:
            attend_p = float(rng.uniform(0.75, 0.97))
        style = str(
            rng.choice(["regular", "fortnightly", "bursty", "none"], p=[0.55, 0.15, 0.2, 0.1])
        )
        p = Person(
            sid=f"S{700000 + 37 * i + int(rng.integers(0, 30))}",
            school=school,
            year=int(rng.integers(1, 4)),
            part_time=part_time,
            modules=modules,
            attend_p=attend_p,
            vle_style=style,
            vle_days=float(rng.uniform(1.0, 4.5)) * (0.6 if part_time else 1.0),
            lc_minutes=float(rng.gamma(2.0, 40.0)) if rng.random() < 0.4 else 0.0,
            library_rate=float(rng.uniform(0.3, 1.5)) if rng.random() < 0.3 else 0.0,
            submit_p=float(np.clip(attend_p + rng.uniform(0.05, 0.3), 0.5, 0.99)),
            late_p=float(rng.uniform(0.0, 0.25)),
        )
        roll = rng.random() * (0.6 if attend_p < 0.45 else 1.0)  # low engagers: more episodes
        n_t = len(taught)
        if roll < 0.05:
            p.episode, p.onset = "sudden_stop", int(rng.integers(4, n_t - 4))
        elif roll < 0.09:
            p.episode, p.onset = "gradual_fade", int(rng.integers(4, n_t - 6))
        elif roll < 0.14 and kind == "mixed":
            p.episode, p.onset = "source_drop", int(rng.integers(4, n_t - 4))
            p.dropped_source = (
                "attendance" if p.vle_style != "none" and rng.random() < 0.7 else "vle"
            )
            if p.dropped_source == "vle" and p.vle_style == "none":
                p.dropped_source = "attendance"
            if p.dropped_source == "vle":
                p.vle_style, p.vle_days = "regular", max(p.vle_days, 2.5)
            else:
                p.attend_p = max(p.attend_p, 0.6)
        elif roll < 0.17:
            p.episode, p.onset = "dip_recovery", int(rng.integers(4, n_t - 6))
            p.end = p.onset + int(rng.integers(2, 4))
        elif roll < 0.19 and kind != "submissions":
            p.episode, p.onset = "disengaged_from_start", 0
        elif roll < 0.22:  # documented absence: zero activity that must not flag
            start = int(rng.integers(3, n_t - 4))
            p.exempt = (start, start + int(rng.integers(1, 3)))
        people.append(p)
    return people


def _level(p: Person, t: int, rng: np.random.Generator) -> float:
    """This teaching week's engagement multiplier for everything the student does."""
    if p.episode == "sudden_stop" and t >= p.onset:
        return 0.0 if rng.random() < 0.9 else 0.1
    if p.episode == "gradual_fade" and t >= p.onset:
        return max(0.05, 1.0 - 0.2 * (t - p.onset + 1))
    if p.episode == "dip_recovery" and p.onset <= t < p.end:
        return 0.1
    if p.episode == "disengaged_from_start":
        return 0.08
    if p.exempt and p.exempt[0] <= t <= p.exempt[1]:
        return 0.0
    return 1.0


def generate(
    out: Path, students: int = 400, seed: int = 5, kind: str = "mixed", clean: bool = False
) -> dict:
    """Write one scenario's CSVs into `out`; returns what was planted."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    catalogue = _modules(rng)
    people = _people(rng, students, kind, catalogue)
    taught = teaching_positions()
    sessions = {code: (n, fort) for school in catalogue.values() for code, n, fort in school}
    events: list[tuple] = []
    subs: list[tuple] = []
    horizon = monday_of(HORIZON_WEEK) + timedelta(days=4)
    vle_last = horizon - timedelta(days=LATE_FEED_DAYS if not clean else 0)
    # assessments: each module has one due every 4-5 teaching weeks (staggered by module)
    due_weeks = {
        code: [t for t in range(len(taught)) if (t + 2 + j) % (4 + j % 2) == 0 and t >= 2]
        for j, code in enumerate(sorted(sessions))
    }
    for p in people:
        wrng = np.random.default_rng(rng.integers(1 << 31))
        for t, pos in enumerate(taught):
            monday = monday_of(pos)
            lv = _level(p, t, wrng)
            outage = (
                not clean and kind == "mixed" and p.school == OUTAGE_SCHOOL and pos == OUTAGE_WEEK
            )
            # the draws are made during the outage too (its scans are dropped below), so that the
            # clean copy is the same population with the same later weeks
            if kind in ("mixed", "attendance"):
                att_lv = (
                    0.0
                    if (
                        p.episode == "source_drop"
                        and p.dropped_source == "attendance"
                        and t >= p.onset
                    )
                    else lv
                )
                for code in p.modules:
                    n, fort = sessions[code]
                    if fort and pos % 2:
                        continue
                    days = [0, 2, 3][:n] if not p.part_time else [1] * n
                    for d in days:
                        came = wrng.random() < p.attend_p * att_lv
                        hour, minute = 9 + int(wrng.integers(0, 8)), int(wrng.integers(0, 50))
                        if came and not outage:
                            when = f"{monday + timedelta(days=d)}T{hour:02d}:{minute:02d}:00"
                            events.append((p.sid, "attendance", when, 1, "", code))
            if kind == "mixed":
                vle_lv = (
                    0.0
                    if (p.episode == "source_drop" and p.dropped_source == "vle" and t >= p.onset)
                    else lv
                )
                cohort_gap = not clean and p.year == COHORT_YEAR and pos >= COHORT_FROM
                if p.vle_style != "none":
                    due_soon = any(t + 1 in due_weeks[c] or t in due_weeks[c] for c in p.modules)
                    mean = {
                        "regular": p.vle_days,
                        "fortnightly": 2 * p.vle_days if pos % 2 == 0 else 0.2,
                        "bursty": 4.5 if due_soon else 0.6,
                    }[p.vle_style]
                    k = min(7, int(wrng.poisson(mean * vle_lv)))
                    for d in sorted(wrng.choice(7, size=k, replace=False)):
                        day = monday + timedelta(days=int(d))
                        clicks = int(wrng.geometric(0.15))
                        if day > vle_last or cohort_gap:
                            continue
                        events.append((p.sid, "vle", f"{day}T20:00:00", clicks, "", p.modules[0]))
                if p.lc_minutes > 0 and wrng.random() < 0.8:
                    minutes = round(float(wrng.gamma(3.0, p.lc_minutes / 3.0)) * lv)
                    if minutes > 0:
                        day = monday + timedelta(days=int(wrng.integers(0, 7)))
                        events.append(
                            (p.sid, "lecture_capture", f"{day}T18:00:00", 1, minutes, p.modules[0])
                        )
                if p.library_rate > 0:
                    for _ in range(int(wrng.poisson(p.library_rate * lv))):
                        day = monday + timedelta(days=int(wrng.integers(0, 5)))
                        events.append((p.sid, "library", f"{day}T13:00:00", 1, "", ""))
            if kind in ("mixed", "submissions"):
                for code in p.modules:
                    if t not in due_weeks[code]:
                        continue
                    due = monday + timedelta(days=3)
                    submitted = ""
                    if wrng.random() < p.submit_p * (lv if lv < 1 else 1.0) ** 0.5 * (lv > 0.09):
                        late = wrng.random() < p.late_p
                        stamp = (
                            due + timedelta(days=int(wrng.integers(1, 5)))
                            if late
                            else due - timedelta(days=int(wrng.integers(0, 3)))
                        )
                        submitted = f"{stamp}T11:00:00"
                    subs.append((p.sid, f"{code}-A{t}", code, f"{due}T12:00:00", submitted))
    students_frame = pd.DataFrame(
        {
            "student_id": [p.sid for p in people],
            "given_name": "Test",
            "family_name": [f"Person{i}" for i in range(len(people))],
            "email": [f"{p.sid.lower()}@example.org" for p in people],
            "personal_email": "",
            "phone": "",
            "course_code": [p.school[:2].upper() + str(p.year) for p in people],
            "course_name": [f"{p.school} studies" for p in people],
            "school": [p.school for p in people],
            "level": "ug",
            "year_of_study": [p.year for p in people],
            "mode": ["pt" if p.part_time else "ft" for p in people],
            "tutor_username": "",
            "visa_sponsored": "no",
            "residence": "off_campus",
            "status": "enrolled",
            "start_date": YEAR_START.isoformat(),
        }
    )
    students_frame.to_csv(out / "students.csv", index=False)
    calendar_rows().to_csv(out / "calendar.csv", index=False)
    ex = [
        (
            p.sid,
            "illness",
            monday_of(taught[p.exempt[0]]).isoformat(),
            (monday_of(taught[p.exempt[1]]) + timedelta(days=6)).isoformat(),
            "fit note",
        )
        for p in people
        if p.exempt
    ]
    pd.DataFrame(ex, columns=["student_id", "reason", "start", "end", "note"]).to_csv(
        out / "exemptions.csv", index=False
    )
    if events:
        pd.DataFrame(
            events,
            columns=["student_id", "source", "occurred_at", "quantity", "minutes", "module_code"],
        ).drop_duplicates().to_csv(out / "events.csv", index=False)
    if subs:
        pd.DataFrame(
            subs, columns=["student_id", "assignment_id", "module_code", "due_at", "submitted_at"]
        ).to_csv(out / "submissions.csv", index=False)
    truth = [
        (
            p.sid,
            p.episode,
            monday_of(taught[p.onset]).isoformat(),
            monday_of(taught[p.end]).isoformat() if p.end >= 0 else "",
        )
        for p in people
        if p.episode
    ]
    planted: dict = {"kind": kind, "clean": clean, "horizon": horizon.isoformat(), "systemic": []}
    if kind == "mixed" and not clean:
        health = [p.sid for p in people if p.school == OUTAGE_SCHOOL]
        cohort = [p.sid for p in people if p.year == COHORT_YEAR and p.vle_style != "none"]
        planted["systemic"] = [
            {
                "kind": "systemic_school_attendance_outage",
                "start": monday_of(OUTAGE_WEEK).isoformat(),
                "weeks": 1,
                "students": health,
            },
            {
                "kind": "systemic_cohort_vle_missing",
                "start": monday_of(COHORT_FROM).isoformat(),
                "weeks": HORIZON_WEEK - COHORT_FROM + 1,
                "students": cohort,
            },
            {
                "kind": "systemic_vle_feed_late",
                "start": monday_of(HORIZON_WEEK).isoformat(),
                "weeks": 1,
                "students": [p.sid for p in people if p.vle_style != "none"],
            },
        ]
        truth += [("", e["kind"], e["start"], "") for e in planted["systemic"]]
    pd.DataFrame(truth, columns=["student_id", "kind", "onset", "end"]).to_csv(
        out / "ground_truth.csv", index=False
    )
    (out / "planted.json").write_text(json.dumps(planted))
    return planted


def generate_years(out: Path, students: int = 400, seed: int = 5, past_years: int = 2) -> dict:
    """A mixed institution over `past_years` complete earlier years with outcomes (a student who
    stopped or faded mostly withdrew a few weeks later: status withdrawn with its status_date) and
    the current year (no planted feed problems), in one folder: for the learned risk ranking."""
    global YEAR_START, HORIZON_WEEK
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frames: dict[str, list[pd.DataFrame]] = {}
    current = (YEAR_START, HORIZON_WEEK)
    rng = np.random.default_rng(seed + 1000)
    try:
        for back in range(past_years, -1, -1):
            YEAR_START = current[0] - timedelta(weeks=52 * back)
            HORIZON_WEEK = HORIZON_PAST if back else current[1]
            part = out / f"year-{back}"
            generate(part, students=students, seed=seed + 17 * back, kind="mixed", clean=True)
            loaded = {
                name: pd.read_csv(part / name, dtype=str, keep_default_na=False)
                for name in (
                    "students.csv",
                    "calendar.csv",
                    "exemptions.csv",
                    "events.csv",
                    "submissions.csv",
                    "ground_truth.csv",
                )
            }
            prefix = f"Y{back}"
            for frame in loaded.values():
                if "student_id" in frame:
                    frame["student_id"] = np.where(
                        frame["student_id"] != "", prefix + frame["student_id"], ""
                    )
            st, truth = loaded["students.csv"], loaded["ground_truth.csv"]
            st["status_date"] = ""
            if back:
                st["status"] = "completed"
                st["status_date"] = (YEAR_START + timedelta(weeks=HORIZON_PAST + 1)).isoformat()
                for ep in truth.itertuples(index=False):
                    if ep.kind in ("sudden_stop", "gradual_fade") and rng.random() < 0.8:
                        left = date.fromisoformat(ep.onset) + timedelta(
                            weeks=int(rng.integers(2, 7))
                        )
                        row = st["student_id"] == ep.student_id
                        st.loc[row, "status"] = "withdrawn"
                        st.loc[row, "status_date"] = left.isoformat()
            for name, frame in loaded.items():
                frames.setdefault(name, []).append(frame)
    finally:
        YEAR_START, HORIZON_WEEK = current
    for name, parts in frames.items():
        pd.concat(parts, ignore_index=True).drop_duplicates().to_csv(out / name, index=False)
    st = pd.concat(frames["students.csv"])
    return {
        "students": int(len(st)),
        "withdrawn": int((st["status"] == "withdrawn").sum()),
        "past_years": past_years,
    }
