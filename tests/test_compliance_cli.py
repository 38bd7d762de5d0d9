"""`python -m lib compliance` and `compliance report|withdrawn` against a real store (SPEC §8)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from lib.auth import add_user
from lib.cli import main
from lib.compliance.policy import Thresholds, save_thresholds
from lib.store.models import CalendarPeriod, DailyActivity, Enrolment, Load, Student, TimetableEvent
from tests.factories import load_row, student

MONDAYS = [date(2025, 9, 22) + timedelta(weeks=i) for i in range(5)]


def seed(session) -> None:
    """Sponsored V1 (attends the first two Monday sessions of M1, then nothing) and V2 (attends all)."""
    load = load_row()
    session.add(load)
    session.flush()
    for sid in ("V1", "V2", "N1"):
        session.add(student(sid, visa_sponsored=sid != "N1", start_date=date(2025, 9, 22)))
    session.flush()
    for sid in ("V1", "V2", "N1"):
        session.add(Enrolment(student_id=sid, module_code="M1", academic_year=2025))
    session.add(CalendarPeriod(kind="term", start=date(2025, 9, 22), end=date(2025, 12, 12)))
    for i, monday in enumerate(MONDAYS):
        start = datetime.combine(monday, datetime.min.time()) + timedelta(hours=10)
        session.add(
            TimetableEvent(
                event_id=f"E{i}",
                module_code="M1",
                event_type="lecture",
                start_at=start,
                end_at=start + timedelta(hours=1),
            )
        )
        for sid in ("V1", "V2") if i < 2 else ("V2",):
            session.add(
                DailyActivity(
                    student_id=sid,
                    source="attendance",
                    day=monday,
                    module_code="M1",
                    quantity=1.0,
                    load_id=load.id,
                )
            )
    add_user(session, "visa_team", role="visa", password="correct-horse-battery")
    session.commit()
    save_thresholds(session, Thresholds(missed_points=3), by="admin1")


@pytest.fixture
def store(any_session):
    seed(any_session)
    return any_session


def rows(capsys, *extra: str) -> dict:
    assert main(["compliance", "--as-of", "2025-10-24", "--format", "json", *extra]) == 0
    return {r["student_id"]: r for r in json.loads(capsys.readouterr().out)}


def test_list_report_and_withdrawal(store, capsys):
    listed = rows(capsys)
    assert set(listed) == {"V1", "V2"}  # sponsored students only
    v1 = listed["V1"]
    # points: 22, 29 Sep met; 6, 13, 20 Oct missed -> the 3rd miss (threshold 3) on Mon 20 Oct
    assert v1 == {
        "student_id": "V1",
        "status": "threshold_crossed",
        "expected_points": 5,
        "missed_consecutive": 3,
        "days_without_engagement": 25,  # 30 Sep .. 24 Oct
        "last_engagement_on": "2025-09-29",
        "threshold_crossed_on": "2025-10-20",
        "report_due_by": "2025-11-03",
        "reported_on": "",
    }
    assert listed["V2"]["status"] == "compliant" and listed["V2"]["missed_consecutive"] == 0

    base = ["compliance", "report", "V1", "--reference", "UKVI-42"]
    assert main([*base, "--on", "2025-10-19", "--by", "visa_team"]) == 2
    assert "before the threshold was crossed (2025-10-20)" in capsys.readouterr().err
    assert main([*base, "--on", "2099-01-01", "--by", "visa_team"]) == 2
    assert "in the future" in capsys.readouterr().err
    assert main([*base, "--on", "2025-10-22", "--by", "nobody"]) == 2
    assert "not a user" in capsys.readouterr().err
    assert (
        main(
            [
                "compliance",
                "report",
                "V2",
                "--on",
                "2025-10-22",
                "--reference",
                "R",
                "--by",
                "visa_team",
            ]
        )
        == 2
    )
    # V2 last attended on 20 Oct: its 60th day without engagement is 19 Dec (11 + 30 + 19 days)
    assert "before the threshold was crossed (2025-12-19)" in capsys.readouterr().err
    assert main([*base, "--on", "2025-10-22", "--by", "visa_team"]) == 0
    capsys.readouterr()

    v1 = rows(capsys)["V1"]
    assert v1["status"] == "reported" and v1["reported_on"] == "2025-10-22"

    assert main(["compliance", "withdrawn", "V1", "--on", "2025-10-23", "--by", "visa_team"]) == 0
    capsys.readouterr()
    assert rows(capsys)["V1"]["status"] == "withdrawn"


def test_csv_has_the_spec_columns(store, capsys):
    assert main(["compliance", "--as-of", "2025-10-24"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header == (
        "student_id,status,expected_points,missed_consecutive,days_without_engagement,"
        "last_engagement_on,threshold_crossed_on,report_due_by,reported_on"
    )


def test_a_scan_counts_inside_the_session_with_the_grace(store):
    from lib.compliance.service import evidence
    from lib.store.models import Attendance

    load = store.scalar(select(Load))
    monday = datetime.combine(MONDAYS[0], datetime.min.time())
    for event, seen, source in (
        ("E0", monday + timedelta(hours=9, minutes=50), "attendance"),  # 10 min early: inside
        ("E1", monday + timedelta(days=7, hours=11, minutes=5), "online"),  # after the end
        ("E2", monday + timedelta(days=14, hours=10, minutes=30), "online"),
    ):
        store.add(
            Attendance(
                student_id="N1", event_id=event, source=source, first_seen=seen, load_id=load.id
            )
        )
    store.get(Student, "N1").visa_sponsored = True
    store.commit()
    _, points, _ = evidence(store, "N1", date(2025, 10, 24))
    by_ref = points.set_index("ref")
    assert by_ref.loc["lecture M1 (E0)", "evidence"] == "QR scan at 09:50"
    assert by_ref.loc["lecture M1 (E1)", "state"] == "missed"
    assert by_ref.loc["lecture M1 (E2)", "evidence"] == "Teams join at 10:30"
