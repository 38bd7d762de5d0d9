"""Public data (tests/fixtures/public, OULAD excerpt, CC BY 4.0): the missed-submission signal on a
real module's withdrawals, offline. A distance-learning module with assessment submissions as its only
evidence; withdrawals are the students' unregistration days.

Run with `-s` to see the figures printed as JSON."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from lib.store.db import init_db, session_scope
from lib.store.models import Flag
from lib.usecases import load_and_recompute

DATA = Path(__file__).resolve().parent / "fixtures" / "public" / "oulad_aaa_2013j"
DAY0 = date(2025, 10, 6)  # OULAD gives days from the module start only; any Monday will do
MODULE_DAYS = 269  # AAA 2013J's length in days
TMAS = {1752: 19, 1753: 54}  # the assessments whose submissions the excerpt holds: due day


def _day(n: int) -> datetime:
    return datetime.combine(DAY0 + timedelta(days=int(n)), time(12, 0))


@pytest.fixture(scope="module")
def oulad() -> dict[str, pd.DataFrame]:
    reg = pd.read_csv(DATA / "registrations.csv")
    subs = pd.read_csv(DATA / "student_assessments.csv")
    started = reg[~(reg["date_unregistration"] <= 0)].copy()  # left before day 0: never studied
    return {"reg": started, "subs": subs}


def _first_missed_rule(reg: pd.DataFrame, subs: pd.DataFrame) -> dict:
    """The plain rule: flag at the first assessment's due day whoever has not submitted it by then."""
    due = TMAS[1752]
    present = reg[~(reg["date_unregistration"] <= due)]
    first = subs[(subs["id_assessment"] == 1752) & (subs["date_submitted"] <= due)]
    flagged = ~present["id_student"].isin(first["id_student"])
    withdrew = present["date_unregistration"].notna()
    return {
        "students_at_due_day": int(len(present)),
        "withdrew_after_due_day": int(withdrew.sum()),
        "flagged": int(flagged.sum()),
        "flagged_who_withdrew": int((flagged & withdrew).sum()),
        "precision": round(float((flagged & withdrew).sum() / flagged.sum()), 3),
        "recall_before_leaving": round(float((flagged & withdrew).sum() / withdrew.sum()), 3),
    }


def test_the_plain_first_missed_rule_on_the_public_module(oulad):
    figures = _first_missed_rule(oulad["reg"], oulad["subs"])
    print(json.dumps({"oulad_aaa_2013j_first_assessment_missed": figures}))
    assert len(oulad["reg"]) == 376  # 383 registrations, 7 withdrew before the start
    assert figures == {
        "students_at_due_day": 372,
        "withdrew_after_due_day": 49,
        "flagged": 79,
        "flagged_who_withdrew": 25,
        "precision": 0.316,
        "recall_before_leaving": 0.51,
    }


def _canonical(oulad, folder: Path) -> list[tuple[str, Path]]:
    """The excerpt as a submission-only institution's canonical files (students, calendar,
    submissions): each student present at a due day owes that assessment."""
    reg = oulad["reg"]
    left = reg["date_unregistration"]
    students = pd.DataFrame(
        {
            "student_id": reg["id_student"].astype(str),
            "given_name": "Student",
            "family_name": reg["id_student"].astype(str),
            "email": reg["id_student"].astype(str) + "@ou.example",
            "personal_email": "",
            "phone": "",
            "course_code": "AAA",
            "course_name": "OULAD module AAA",
            "school": "OU",
            "level": "UG",
            "year_of_study": 1,
            "mode": "PT",
            "tutor_username": "",
            "visa_sponsored": "no",
            "residence": "off_campus",
            "status": left.notna().map({True: "withdrawn", False: "enrolled"}),
            "status_date": [
                "" if pd.isna(d) else (DAY0 + timedelta(days=int(d))).isoformat() for d in left
            ],
            "start_date": DAY0.isoformat(),
        }
    )
    rows = []
    for aid, due in TMAS.items():
        owed = reg[~(left <= due)]
        done = oulad["subs"][oulad["subs"]["id_assessment"] == aid].set_index("id_student")
        for sid in owed["id_student"]:
            when = done["date_submitted"].get(sid)
            rows.append(
                {
                    "student_id": str(sid),
                    "assignment_id": f"AAA-{aid}",
                    "module_code": "AAA",
                    "due_at": _day(due).isoformat(),
                    "submitted_at": "" if when is None else _day(when).isoformat(),
                }
            )
    calendar = pd.DataFrame(
        [
            {
                "kind": "term",
                "start": DAY0.isoformat(),
                "end": (DAY0 + timedelta(days=MODULE_DAYS)).isoformat(),
                "label": "AAA 2013J",
            }
        ]
    )
    files = []
    for source, frame in (
        ("students", students),
        ("calendar", calendar),
        ("submissions", pd.DataFrame(rows)),
    ):
        path = folder / f"{source}.csv"
        frame.to_csv(path, index=False)
        files.append((source, path))
    return files


def test_the_engine_flags_on_the_public_module(oulad, tmp_path):
    """Through the app: load as a submission-only institution, compute, and score the engine's
    flags against the real withdrawals (caught = a flag in a week that began before the student
    unregistered)."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    init_db(url)
    with session_scope(url) as session:
        outcome = load_and_recompute(session, _canonical(oulad, tmp_path), loaded_by="test")
        assert not outcome.failed, [r.as_text() for r in outcome.reports]
        session.commit()
        flags = pd.DataFrame(
            session.execute(select(Flag.student_id, Flag.kind, Flag.week_start)).all(),
            columns=["student_id", "kind", "week_start"],
        )
    reg = oulad["reg"].assign(student_id=oulad["reg"]["id_student"].astype(str))
    left = reg.set_index("student_id")["date_unregistration"].dropna()
    left = left[left > TMAS[1752]]  # could be caught: still there at the first due day
    left_on = {s: DAY0 + timedelta(days=int(d)) for s, d in left.items()}
    figures = {}
    for name, rows in (
        ("missed_submissions", flags[flags["kind"] == "missed_submissions"]),
        ("any_flag", flags),
    ):
        first = rows.groupby("student_id")["week_start"].min()
        caught = [s for s, day in left_on.items() if s in first.index and first[s] < day]
        flagged = set(first.index)
        figures[name] = {
            "students_flagged": len(flagged),
            "withdrawers_caught_before_leaving": len(caught),
            "withdrawers": len(left_on),
            "recall_before_leaving": round(len(caught) / len(left_on), 3),
            "precision": round(
                len(flagged & set(reg.loc[reg["date_unregistration"].notna(), "student_id"]))
                / len(flagged),
                3,
            )
            if flagged
            else None,
        }
    print(json.dumps({"oulad_aaa_2013j_engine": figures}))
    missed = flags[flags["kind"] == "missed_submissions"]
    # a missed-submission flag is only ever raised for a student who missed or was late with a TMA
    on_time = oulad["subs"].merge(
        pd.DataFrame({"id_assessment": list(TMAS), "due": list(TMAS.values())}), on="id_assessment"
    )
    on_time = on_time[on_time["date_submitted"] <= on_time["due"]]
    always = on_time.groupby("id_student").size()
    always = set(always[always == len(TMAS)].index.astype(str))
    assert not set(missed["student_id"]) & always
    assert figures["missed_submissions"]["withdrawers"] == 49
