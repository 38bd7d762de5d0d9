"""Earlier years' leavers are in nobody's cohort; this year's leavers stay visible with their status."""

from __future__ import annotations

from datetime import date

from lib.access import User
from lib.store.models import Student
from lib.views.cohort import cohort_size
from lib.views.filters import CohortFilters
from tests.factories import student

SENIOR = User("st", "senior_tutor", school="Science")


def _student(student_id: str, status: str, status_date: date | None) -> Student:
    return student(student_id, status=status, status_date=status_date)


def test_cohort_leaves_out_who_left_before_the_window(any_session):
    any_session.add_all(
        [
            _student("S1", "enrolled", None),
            _student("S2", "withdrawn", date(2025, 3, 1)),  # an earlier year
            _student("S3", "Completed", date(2025, 6, 30)),  # an earlier year, any case
            _student("S4", "withdrawn", date(2026, 10, 20)),  # this year: still in the cohort
            _student("S5", "withdrawn", None),  # no date: kept, nothing says when
        ]
    )
    any_session.flush()
    window = CohortFilters(week_from=date(2026, 9, 28), week_to=date(2026, 11, 23))
    assert cohort_size(any_session, SENIOR, window) == 3
    assert cohort_size(any_session, SENIOR, CohortFilters()) == 5  # no window: everyone
