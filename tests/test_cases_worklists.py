"""Home worklists per role, computed for the whole scope at once."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from lib.access import User
from lib.cases import service
from lib.cases.worklists import worklist
from lib.store.models import Flag
from tests.app_fixtures import seeded  # noqa: F401

TUTOR = User("tut_a", "tutor")
SENIOR = User("senior_sci", "senior_tutor", school="Science", years=(1, 2))
WB = User("wb", "wellbeing")
VISA = User("visa_team", "visa")
OPENED = datetime(2025, 11, 10, 9)  # Monday


def test_tutor_new_flags_then_due_then_re_engaged(seeded):  # noqa: F811
    s = seeded
    lists = worklist(s, TUTOR, date(2025, 11, 11))
    assert list(lists["new_flags"]["student_id"]) == ["S001"]  # S003's flag is another tutor's
    assert "fell from" in lists["new_flags"].loc[0, "why"]
    case = service.open_case(s, TUTOR, "S001", flag_id=1, now=OPENED)
    s.commit()
    lists = worklist(s, TUTOR, date(2025, 11, 11))
    assert lists["new_flags"].empty
    due = lists["due"]
    assert list(due["case_id"]) == [case.id] and not due.loc[0, "overdue"]
    assert worklist(s, TUTOR, date(2025, 11, 13))["due"].loc[0, "overdue"]  # due 12 Nov
    assert worklist(s, TUTOR, date(2025, 11, 3))["due"].empty  # due 12 Nov: not this week yet
    # the flag ends: the student re-engaged, the case is still open
    flag = s.scalar(select(Flag).where(Flag.student_id == "S001"))
    flag.ended_week = date(2025, 11, 10)
    flag.recovery_explanation = "Engagement back to the usual level"
    s.commit()
    back = worklist(s, TUTOR, date(2025, 11, 17))["re_engaged"]
    assert list(back["student_id"]) == ["S001"] and "usual level" in back.loc[0, "recovery"]


def test_senior_tutor_no_case_stalled_and_per_tutor(seeded):  # noqa: F811
    s = seeded
    lists = worklist(s, SENIOR, date(2025, 11, 11))
    assert list(lists["new_flags"]["student_id"]) == ["S001"]  # S003 is year 3: out of scope
    per_tutor = lists["per_tutor"].set_index("tutor")
    assert (per_tutor.loc["tut_a", "flagged"], per_tutor.loc["tut_a", "unanswered"]) == (1, 1)
    service.open_case(s, TUTOR, "S001", now=OPENED)
    s.commit()
    lists = worklist(s, SENIOR, date(2025, 11, 21))
    assert lists["new_flags"].empty and lists["stalled"].empty
    assert lists["per_tutor"].set_index("tutor").loc["tut_a", "unanswered"] == 0
    stalled = worklist(s, SENIOR, date(2025, 11, 24))["stalled"]  # 10 working days after 10 Nov
    assert list(stalled["student_id"]) == ["S001"]


def test_wellbeing_queue_and_visa_scope(seeded):  # noqa: F811
    s = seeded
    case = service.open_case(s, TUTOR, "S001", now=OPENED)
    s.commit()
    assert worklist(s, WB, date(2025, 11, 11))["queue"].empty
    service.hand_over(s, TUTOR, case.id, "No reply", now=datetime(2025, 11, 11, 9))
    s.commit()
    queue = worklist(s, WB, date(2025, 11, 11))["queue"]
    assert list(queue["case_id"]) == [case.id] and queue.loc[0, "state"] == "escalated"
    visa = worklist(s, VISA, date(2025, 11, 11))
    assert visa["due"].empty  # the welfare case is not the visa team's to see
    assert set(visa["new_flags"]["student_id"]) <= {"S002", "S004"}
