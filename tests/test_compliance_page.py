"""The visa team's Compliance page (AppTest by widget key) and its exports (neutralised, logged)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from lib.access import User
from lib.compliance import views
from lib.compliance.policy import Thresholds, save_thresholds
from lib.safe_markdown import escape_markdown
from lib.store.models import (
    AccessLogEntry,
    CalendarPeriod,
    ComplianceRecord,
    DailyActivity,
    Enrolment,
    Load,
    Student,
    TimetableEvent,
)
from tests import app_fixtures
from tests.app_fixtures import open_page

seeded = app_fixtures.seeded
AS_OF = date(2025, 11, 7)
VISA = User("visa_team", "visa")


def plant_crossing(session) -> None:
    """S002 (sponsored) attends two Monday M1 sessions then misses 6 Oct, is exempt on 13 and 20 Oct
    (the seeded illness), misses 27 Oct and 3 Nov: the third miss, on 3 Nov, crosses threshold 3."""
    load = session.scalar(select(Load))
    session.add(Enrolment(student_id="S002", module_code="M1", academic_year=2025))
    session.add(CalendarPeriod(kind="term", start=date(2025, 9, 22), end=date(2025, 12, 12)))
    for i in range(7):
        monday = date(2025, 9, 22) + timedelta(weeks=i)
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
        if i < 2:
            session.add(
                DailyActivity(
                    student_id="S002",
                    source="attendance",
                    day=monday,
                    module_code="M1",
                    quantity=1.0,
                    load_id=load.id,
                )
            )
    session.commit()
    save_thresholds(session, Thresholds(missed_points=3), by="admin1")


@pytest.fixture
def crossing(seeded):
    """The crossing of S002 (plant_crossing), and S004 named as a spreadsheet formula."""
    plant_crossing(seeded)
    student = seeded.get(Student, "S004")
    student.given_name = '=HYPERLINK("http://x")'
    seeded.commit()
    return seeded


def test_visa_list_evidence_and_report(crossing):
    at = open_page("visa", "compliance", {"id": "S002"})
    at.date_input(key="compliance_as_of").set_value(AS_OF).run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert list(table["student_id"]) == ["S002", "S004"]  # crossed first, sponsored only
    assert table.iloc[0]["status"] == "threshold_crossed"
    assert table.iloc[0]["threshold_crossed_on"] == date(2025, 11, 3)
    assert table.iloc[0]["report_due_by"] == date(2025, 11, 17)
    assert table.iloc[1]["status"] == "at_risk"
    points = at.dataframe[1].value
    states = ["missed", "missed", "exempt", "exempt", "missed", "met", "met"]
    assert list(points["state"]) == states
    assert points["evidence"].iloc[-1] == "attendance recorded for M1 that day"
    assert points["evidence"].iloc[0] == "no QR scan or Teams join inside the session"
    assert points["ref"].iloc[0] == "lecture M1 (E6)"

    at.date_input(key="compliance_report_on").set_value(date(2025, 11, 2))
    at.text_input(key="compliance_report_reference").input("UKVI-7")
    at.button(key="FormSubmitter:compliance_report_form-Record report").click().run()
    assert escape_markdown("before the threshold was crossed (2025-11-03)") in at.error[0].value
    at.date_input(key="compliance_report_on").set_value(date(2025, 11, 5))
    at.text_input(key="compliance_report_reference").input("UKVI-7")
    at.button(key="FormSubmitter:compliance_report_form-Record report").click().run()
    assert at.success[0].value == "Report recorded."
    record = crossing.scalar(select(ComplianceRecord).where(ComplianceRecord.kind == "report"))
    assert (record.student_id, record.reference, record.recorded_by) == (
        "S002",
        "UKVI-7",
        "visa_team",
    )
    at.run()
    after = at.dataframe[0].value.set_index("student_id")["status"].to_dict()
    assert after == {"S004": "at_risk", "S002": "reported"}


def test_status_filter(crossing):
    at = open_page("visa", "compliance")
    at.date_input(key="compliance_as_of").set_value(AS_OF).run()
    at.multiselect(key="compliance_status").set_value(["at_risk"]).run()
    assert list(at.dataframe[0].value["student_id"]) == ["S004"]


def test_exports_are_neutralised_and_logged(crossing):
    with crossing as session:
        frame = views.compliance_list(session, VISA, AS_OF, views.ListFilters())
        data = views.list_export(session, VISA, frame, AS_OF, "csv")
        page = views.student_export(session, VISA, "S004", AS_OF, "html")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [r["name"] for r in rows if r["student_id"] == "S004"] == [
        '\'=HYPERLINK("http://x") FamilyS004'
    ]
    assert b"<script" not in page and b"S004" in page
    logged = crossing.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "export")).all()
    assert [(e.student_ids, e.username) for e in logged] == [
        (["S002", "S004"], "visa_team"),
        (["S004"], "visa_team"),
    ]


def test_other_roles_may_not_use_it(crossing):
    with pytest.raises(PermissionError):
        views.compliance_list(crossing, User("wb", "wellbeing"), AS_OF, views.ListFilters())
