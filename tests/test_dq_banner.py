"""The Cohort page's data-quality banner names only the events touching the user's own students
(a module one of them takes, or a whole source), collapsed to one line."""

from __future__ import annotations

from datetime import timedelta

from lib.access import User
from lib.store.models import DataQualityEvent, Enrolment
from lib.views.data_quality import events_for_user
from tests import app_fixtures
from tests.app_fixtures import FIRST_WEEK, open_page

seeded = app_fixtures.seeded


def _events(session) -> None:
    """SCI101 (taken by S001) and HIS200 (taken by S005 only) outages, and a Moodle-wide one."""
    week = FIRST_WEEK + timedelta(weeks=8)
    session.add_all(
        [
            Enrolment(student_id="S001", module_code="SCI101", academic_year=2025),
            Enrolment(student_id="S005", module_code="HIS200", academic_year=2025),
            DataQualityEvent(
                week_start=week,
                source="attendance",
                module_code="HIS200",
                share_affected=0.95,
                students_affected=30,
                explanation="HIS200 seminar cancelled",
            ),
            DataQualityEvent(
                week_start=week,
                source="vle",
                module_code=None,
                share_affected=0.9,
                students_affected=900,
                explanation="Moodle down for two days",
            ),
        ]
    )
    session.commit()


def test_events_are_those_of_the_users_students(any_session):
    from tests.app_fixtures import seed

    seed(any_session)  # SQLite, and PostgreSQL when TEST_DATABASE_URL is set
    seeded = any_session
    _events(seeded)
    explanations = {
        role: set(events_for_user(seeded, user, None, None)["explanation"])
        for role, user in {
            "tutor": User("tut_a", "tutor"),
            "wellbeing": User("wb", "wellbeing"),
            "other_tutor": User("tut_c", "tutor"),
        }.items()
    }
    outage = "QR scanner outage: 90% of SCI101 students had no scans"
    assert explanations["tutor"] == {outage, "Moodle down for two days"}
    assert explanations["other_tutor"] == {"HIS200 seminar cancelled", "Moodle down for two days"}
    assert len(explanations["wellbeing"]) == 3


def test_banner_is_one_collapsed_line_listing_own_events(seeded):
    _events(seeded)
    at = open_page("tutor", "cohort")
    assert not at.exception and not at.warning
    (line,) = [e for e in at.expander if "data-quality" in e.label]
    assert line.label.startswith("⚠️ 2 data-quality event(s) in these weeks touch your students")
    table = next(d.value for d in at.dataframe if "What happened" in d.value.columns)
    assert set(table["Module"]) == {"SCI101", "all modules"}
    assert set(table["Source"]) == {"Attendance (QR scans)", "Moodle"}
    assert "HIS200" not in " ".join(table["What happened"])
