"""The sample contacts file: loads all-or-nothing through `ingest contacts`, and with the closures
gives cases in every state and at every step; loading both again changes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from lib.cases.queries import cases_frame
from lib.cases.sample import build_sample_contacts, close_sample_cases
from lib.ingest.pipeline import load_files

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


def test_sample_contacts_give_every_state_and_step(session):
    for source, name in (("students", "students.csv"), ("contacts", "contacts.csv")):
        (report,) = load_files(session, source, [SAMPLE / name], loaded_by="test")
        assert report.status == "loaded", report.as_text()
    assert close_sample_cases(session, SAMPLE / "case_closures.csv") == 9
    cases = cases_frame(session, as_of=date(2026, 11, 30))
    assert set(cases["state"]) == {"open", "escalated", "referred", "emergency", "closed"}
    assert set(cases.loc[cases["track"] == "welfare", "step"]) == {1, 2, 3, 4, 5, 6}
    assert set(cases["track"]) == {"welfare", "visa"}
    assert cases["overdue"].any() and cases["stalled"].any() and not cases["overdue"].all()
    assert set(cases["close_outcome"].dropna()) == {"re_engaged", "support_in_place", "no_concern"}
    (again,) = load_files(session, "contacts", [SAMPLE / "contacts.csv"], loaded_by="test")
    assert close_sample_cases(session, SAMPLE / "case_closures.csv") == 0
    assert len(cases_frame(session, as_of=date(2026, 11, 30))) == len(cases)
    assert (SAMPLE / "contacts.csv").stat().st_size < 5_000_000


def test_generator_is_deterministic_and_stops_at_the_horizon():
    students = pd.DataFrame(
        {
            "student_id": [f"S{i}" for i in range(8)],
            "tutor_username": ["tut"] * 8,
            "visa_sponsored": [False] * 8,
        }
    )
    flags = pd.DataFrame(
        {"student_id": students["student_id"], "week_start": [date(2026, 10, 5)] * 8}
    )
    staff = {"wellbeing": "wb", "visa": "visa"}
    first, closures = build_sample_contacts(students, flags, staff, date(2026, 10, 30))
    again, _ = build_sample_contacts(students, flags, staff, date(2026, 10, 30))
    pd.testing.assert_frame_equal(first, again)
    assert pd.to_datetime(first["occurred_at"]).max() <= pd.Timestamp("2026-10-30 23:59")
    # the emergency ladder is cut at the horizon: steps 1-3 by the tutor on 13, 20 and 27 Oct
    assert first[first["student_id"] == "S0"]["step"].tolist() == [1, 2, 3]
    assert set(first["staff_username"]) == {"tut"}
    assert closures["outcome"].tolist() == ["re_engaged", "support_in_place"]
