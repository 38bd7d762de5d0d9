"""The termly assumed-withdrawal review: the list, decisions kept per term, the Student page section."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from lib.access import User
from lib.compliance.review import Term, record_decision, review_list, student_decisions, terms
from lib.store.models import CalendarPeriod, DailyActivity, Load, WithdrawalReviewDecision
from tests import app_fixtures
from tests.app_fixtures import open_page

seeded = app_fixtures.seeded
WELLBEING = User("wb", "wellbeing")
SENIOR = User("senior_sci", "senior_tutor", school="Science", years=(1, 2))
TODAY = date(2025, 12, 12)


@pytest.fixture
def term_store(seeded):
    load = seeded.scalar(select(Load))
    seeded.add(CalendarPeriod(kind="term", start=date(2025, 9, 22), end=TODAY, label="Autumn 2025"))
    for sid, day in (("S001", date(2025, 12, 10)), ("S003", date(2025, 10, 1))):
        seeded.add(
            DailyActivity(
                student_id=sid,
                source="attendance",
                day=day,
                module_code="",
                quantity=1.0,
                load_id=load.id,
            )
        )
    seeded.commit()
    return seeded


def test_review_list_finds_the_silent_students_in_scope(term_store):
    (term,) = terms(term_store)
    assert term == Term("Autumn 2025", date(2025, 9, 22), TODAY)
    frame = review_list(term_store, WELLBEING, term, 28, today=TODAY).set_index("student_id")
    assert set(frame.index) == {"S002", "S003", "S004", "S005"}  # S001 engaged on 10 Dec
    assert frame.loc["S003", "days_without_engagement"] == 72  # 1 Oct to 12 Dec
    assert frame.loc["S003", "last_attendance_on"] == date(2025, 10, 1)
    assert frame.loc["S002", "days_without_engagement"] == 81  # since the 22 Sep start
    scoped = review_list(term_store, SENIOR, term, 28, today=TODAY)
    assert list(scoped["student_id"]) == ["S002"]
    with pytest.raises(PermissionError):
        review_list(term_store, User("visa_team", "visa"), term, 28, today=TODAY)


def test_decisions_are_kept_per_term_and_notes_stay_with_welfare_roles(term_store):
    (term,) = terms(term_store)
    record_decision(term_store, WELLBEING, term, "S002", "contact", "left a voicemail")
    record_decision(term_store, WELLBEING, term, "S002", "start_withdrawal", "no reply")
    frame = review_list(term_store, WELLBEING, term, 28, today=TODAY).set_index("student_id")
    assert frame.loc["S002", "decision"] == "start_withdrawal"
    assert term_store.scalar(select(WithdrawalReviewDecision).limit(1)).decision == "contact"
    tutor = student_decisions(term_store, User("tut_a", "tutor"), "S002")
    assert list(tutor["note"]) == ["no reply", "left a voicemail"]
    visa = student_decisions(term_store, User("visa_team", "visa"), "S002")
    assert "note" not in visa.columns and list(visa["decision"]) == ["start_withdrawal", "contact"]
    with pytest.raises(ValueError, match="decision must be one of"):
        record_decision(term_store, WELLBEING, term, "S002", "expel")
    with pytest.raises(ValueError, match="longer than"):
        record_decision(term_store, WELLBEING, term, "S002", "contact", "x" * 2001)
    with pytest.raises(PermissionError):
        record_decision(term_store, SENIOR, term, "S004", "contact")  # Arts: out of scope


def test_review_page_records_a_decision_shown_on_the_student_page(term_store):
    at = open_page("wellbeing", "withdrawal_review")
    assert not at.exception, [e.value for e in at.exception]
    at.number_input(key="review_span").set_value(28).run()
    table = at.dataframe[0].value
    assert "S001" not in set(table["student_id"])  # engaged in the last 28 days of the term
    at.selectbox(key="review_student").set_value("S002")
    at.radio(key="review_decision").set_value("contact")
    at.text_area(key="review_note").input("phoned twice")
    at.button(key="FormSubmitter:review_decision_form-Record decision").click().run()
    assert not at.exception, [e.value for e in at.exception]
    row = term_store.scalar(select(WithdrawalReviewDecision))
    assert (row.student_id, row.decision, row.decided_by, row.note) == (
        "S002",
        "contact",
        "wb",
        "phoned twice",
    )
    student = open_page("tutor", "student", {"id": "S002"})
    shown = student.dataframe[-1].value
    assert list(shown["decision"]) == ["Contact the student"]
    assert list(shown["note"]) == ["phoned twice"]
