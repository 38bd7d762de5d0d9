"""Case actions: the ladder walked in the store, the policy at each step, input refused field by field."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from lib.access import NotAllowed, User
from lib.auth import add_user
from lib.cases import service
from lib.cases.queries import cases_frame
from lib.cases.service import CaseInputError, Contact
from lib.store.models import Case, CaseEntry
from tests.app_fixtures import PASSWORD, seeded  # noqa: F401

TUTOR = User("tut_a", "tutor")
OTHER_TUTOR = User("tut_b", "tutor")
WB = User("wb", "wellbeing")
VISA = User("visa_team", "visa")
SENIOR = User("senior_sci", "senior_tutor", school="Science", years=(1, 2))
MON = datetime(2025, 11, 17, 10, 0)  # a Monday


def entries(session) -> int:
    return session.scalar(select(func.count()).select_from(CaseEntry))


def contact(when=MON, channel="uni_email", outcome="no_response", **kw) -> Contact:
    return Contact(contacted_at=when, channel=channel, outcome=outcome, **kw)


def test_walk_down_the_ladder_with_role_checks(seeded):  # noqa: F811
    s = seeded
    add_user(s, "wb2", role="wellbeing", password=PASSWORD)
    s.commit()
    case = service.open_case(s, TUTOR, "S001", flag_id=1, now=MON)
    s.commit()
    assert (case.owner_username, case.state, case.ladder_step, case.track) == (
        "tut_a",
        "open",
        1,
        "welfare",
    )
    assert case.next_due == date(2025, 11, 19)  # 2 working days
    e1 = service.record_contact(s, TUTOR, case.id, contact(), now=MON)
    s.commit()
    assert e1.next_due == date(2025, 11, 24)  # no response: 5 working days
    assert "Step 2" in e1.next_action
    with pytest.raises(CaseInputError) as refused:
        service.record_contact(s, TUTOR, case.id, contact(channel="phone"), now=MON)
    assert "channel" in refused.value.errors
    s.rollback()
    service.record_contact(
        s, TUTOR, case.id, contact(channel="teams_message", step=2), now=datetime(2025, 11, 24, 9)
    )
    service.record_contact(
        s, TUTOR, case.id, contact(channel="phone", step=3), now=datetime(2025, 11, 24, 9)
    )
    s.commit()
    with pytest.raises(CaseInputError) as refused:
        service.record_contact(s, TUTOR, case.id, contact(channel="phone", step=4), now=MON)
    assert "step" in refused.value.errors
    s.rollback()
    with pytest.raises(NotAllowed):
        service.refer(s, TUTOR, case.id, "", now=MON)
    s.rollback()
    service.hand_over(s, TUTOR, case.id, "Three attempts, no reply", now=datetime(2025, 12, 1, 9))
    s.commit()
    s.refresh(case)
    assert (case.state, case.ladder_step, case.owner_username) == ("escalated", 4, "wellbeing")
    service.record_contact(
        s,
        WB,
        case.id,
        contact(datetime(2025, 12, 1, 11), "sms", step=4),
        now=datetime(2025, 12, 1, 12),
    )
    referral = service.refer(s, WB, case.id, "", now=datetime(2025, 12, 8, 9))
    s.commit()
    assert referral.team == "ResX" and "on campus" in referral.note
    with pytest.raises(NotAllowed):
        service.emergency_decision(s, TUTOR, case.id, "initiate", "x", "wb2")
    s.rollback()
    with pytest.raises(CaseInputError) as refused:
        service.emergency_decision(s, WB, case.id, "initiate", "No contact", "wb")
    assert "authorised_by" in refused.value.errors
    s.rollback()
    service.emergency_decision(
        s, WB, case.id, "initiate", "No contact for 3 weeks", "wb2", now=datetime(2025, 12, 10, 9)
    )
    service.close_case(s, WB, case.id, "re_engaged", now=datetime(2025, 12, 12, 9))
    s.commit()
    s.refresh(case)
    assert (case.state, case.close_outcome, case.next_due) == ("closed", "re_engaged", None)
    frame = cases_frame(s, as_of=date(2025, 12, 5))
    row = frame.set_index("case_id").loc[case.id]
    assert (row["state"], row["step"]) == ("escalated", 4)
    service.reopen_case(s, TUTOR, case.id, "Stopped attending again", now=datetime(2025, 12, 15, 9))
    s.commit()
    s.refresh(case)
    assert (case.state, case.ladder_step) == ("emergency", 6)


def test_scope_and_tracks(seeded):  # noqa: F811
    s = seeded
    with pytest.raises(CaseInputError) as refused:
        service.open_case(s, OTHER_TUTOR, "S001", now=MON)
    assert "student_id" in refused.value.errors
    with pytest.raises(NotAllowed):
        service.open_case(s, VISA, "S002", track="welfare", now=MON)
    visa_case = service.open_case(s, VISA, "S002", track="visa", now=MON)
    s.commit()
    assert visa_case.owner_username == "visa_team"
    with pytest.raises(NotAllowed):
        service.record_contact(s, TUTOR, visa_case.id, contact())
    s.rollback()
    with pytest.raises(CaseInputError):
        service.open_case(s, VISA, "S001", track="visa", now=MON)  # not sponsored: out of scope


def test_double_submit_records_one_entry(seeded):  # noqa: F811
    s = seeded
    case = service.open_case(s, TUTOR, "S001", now=MON, key="open-1")
    again = service.open_case(s, TUTOR, "S001", now=MON, key="open-1")
    s.commit()
    assert again.id == case.id
    before = entries(s)
    for _ in range(2):
        service.record_contact(s, TUTOR, case.id, contact(), now=MON, key="form-1")
        s.commit()
    assert entries(s) == before + 1


def test_bad_input_refused_with_nothing_saved(seeded):  # noqa: F811
    s = seeded
    case = service.open_case(s, TUTOR, "S001", now=MON)
    s.commit()
    before = entries(s)
    bad = Contact(
        contacted_at=datetime(2025, 11, 18, 9),
        channel="uni_email",
        outcome=None,
        next_due=date(2025, 11, 1),
    )
    with pytest.raises(CaseInputError) as refused:
        service.record_contact(s, TUTOR, case.id, bad, now=MON)
    s.rollback()
    assert set(refused.value.errors) == {"contacted_at", "outcome", "next_due"}
    bad = contact(next_due=date(2025, 11, 14))
    with pytest.raises(CaseInputError) as refused:
        service.record_contact(s, TUTOR, case.id, bad, now=MON)
    s.rollback()
    assert set(refused.value.errors) == {"next_due"}
    assert entries(s) == before
    assert s.get(Case, case.id).revision == 0  # the refused writes' lock bumps were rolled back


def test_correction_is_a_new_entry_and_entries_are_never_rewritten(seeded):  # noqa: F811
    from sqlalchemy import event

    s = seeded
    statements: list[str] = []

    def watch(conn, cursor, statement, params, context, executemany):
        statements.append(statement.upper())

    engine = s.get_bind()
    event.listen(engine, "before_cursor_execute", watch)
    try:
        case = service.open_case(s, TUTOR, "S001", now=MON)
        first = service.record_contact(s, TUTOR, case.id, contact(), now=MON)
        s.commit()
        fixed = service.correct_entry(
            s,
            TUTOR,
            first.id,
            contact(outcome="replied_fine", next_due=date(2025, 11, 28)),
            "The student had replied the same day",
            now=datetime(2025, 11, 18, 9),
        )
        s.commit()
        with pytest.raises(CaseInputError) as refused:
            service.correct_entry(s, TUTOR, first.id, contact(), "", now=MON)
        assert "reason" in refused.value.errors
        s.rollback()
        service.close_case(s, TUTOR, case.id, "re_engaged", now=datetime(2025, 11, 19, 9))
        service.reopen_case(s, TUTOR, case.id, "Flagged again", now=datetime(2025, 11, 20, 9))
        s.commit()
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    s.refresh(first)
    assert (first.outcome, fixed.corrects_entry_id, fixed.kind) == (
        "no_response",
        first.id,
        "correction",
    )
    assert "replied the same day" in fixed.note
    frame = cases_frame(s, as_of=date(2025, 11, 18)).set_index("case_id")
    assert frame.loc[case.id, "next_due"] == date(2025, 11, 28)  # the correction stands in
    assert not any(
        st.startswith(("UPDATE CASE_ENTRIES", "DELETE FROM CASE_ENTRIES")) for st in statements
    )
    assert any(st.startswith("UPDATE CASES") for st in statements)  # the case row's lock/state


def test_latest_entry_is_the_latest_recorded_even_if_dated_earlier(seeded):  # noqa: F811
    s = seeded
    case = service.open_case(s, TUTOR, "S001", now=datetime(2025, 11, 17, 10, 5))
    # the e-mail went out at 09:30, before the case was opened in the app at 10:05
    service.record_contact(
        s,
        TUTOR,
        case.id,
        contact(when=datetime(2025, 11, 17, 9, 30)),
        now=datetime(2025, 11, 17, 10, 6),
    )
    s.commit()
    s.refresh(case)
    assert case.next_action.startswith("Step 2") and case.next_due == date(2025, 11, 24)
    assert case.last_entry_at == datetime(2025, 11, 17, 10, 5)  # the latest dated entry
