"""The bulk compliance read (one grouped scan parsed by numpy) against a real store: same-day
sessions met by the day's quantity, codes that only share a prefix, codes that are not ASCII."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from lib.compliance import service
from lib.store.models import CalendarPeriod, DailyActivity, Enrolment, TimetableEvent
from tests.factories import load_row, student

MONDAY = date(2025, 9, 22)


def add_student(session, sid: str, modules: list[str]) -> None:
    session.add(student(sid, visa_sponsored=True, start_date=MONDAY))
    session.flush()
    for module in modules:
        session.add(Enrolment(student_id=sid, module_code=module, academic_year=2025))


def add_session(session, event_id: str, module: str, day: date, hour: int) -> None:
    start = datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)
    session.add(
        TimetableEvent(
            event_id=event_id,
            module_code=module,
            event_type="lecture",
            start_at=start,
            end_at=start + timedelta(hours=1),
        )
    )


@pytest.fixture
def store(any_session):
    s = any_session
    load = load_row()
    s.add(load)
    s.flush()
    s.add(CalendarPeriod(kind="term", start=MONDAY, end=date(2025, 12, 12)))
    add_session(s, "A", "M1", MONDAY, 10)
    add_session(s, "B", "M1", MONDAY, 14)
    add_session(s, "C", "MÖD-Ω", MONDAY + timedelta(days=1), 10)
    attended = {  # student -> (module, day offset, quantity)
        "TWICE": ("M1", 0, 2.0),
        "ONCE": ("M1", 0, 1.0),
        "OTHER": ("M10", 0, 1.0),  # a code that starts like a timetabled one
        "UNICODE": ("MÖD-Ω", 1, 1.0),
    }
    for sid, (module, offset, quantity) in attended.items():
        add_student(s, sid, ["M1", "MÖD-Ω"] if sid == "UNICODE" else ["M1"])
        s.flush()
        s.add(
            DailyActivity(
                student_id=sid,
                source="attendance",
                day=MONDAY + timedelta(days=offset),
                module_code=module,
                quantity=quantity,
                load_id=load.id,
            )
        )
    s.commit()
    return s


def met_events(session) -> dict[str, list[str]]:
    points = service.result(session, MONDAY + timedelta(days=6), detail=True).points
    sessions = points[(points["kind"] == "session") & (points["state"] == "met")]
    out: dict[str, list[str]] = {}
    for sid, ref in zip(
        sessions["student_id"].astype(str), sessions["ref"].astype(str), strict=True
    ):
        out.setdefault(sid, []).append(ref.rsplit("(", 1)[1].rstrip(")"))
    return {sid: sorted(refs) for sid, refs in out.items()}


def test_the_days_quantity_meets_that_many_sessions_of_the_module(store):
    met = met_events(store)
    assert met["TWICE"] == ["A", "B"]
    assert met["ONCE"] == ["A"]  # the first session of the day
    assert "OTHER" not in met  # M10 is not M1


def test_codes_that_are_not_ascii_are_read_too(store):
    assert met_events(store)["UNICODE"] == ["C"]


def test_attendance_at_an_untimetabled_module_still_counts_as_engagement(store):
    statuses = service.result(store, MONDAY + timedelta(days=6)).statuses.set_index("student_id")
    assert statuses.loc["OTHER", "last_engagement_on"] == MONDAY
    assert statuses.loc["OTHER", "days_without_engagement"] == 6
