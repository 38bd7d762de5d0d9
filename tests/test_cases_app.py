"""AppTest: the ladder walked in the app (tutor -> wellbeing -> referral -> emergency decision ->
close) with the role checks at each step, Home worklists per role, bad form input refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from lib.auth import add_user
from lib.store.models import Case, CaseEntry
from tests import app_fixtures
from tests.app_fixtures import PASSWORD, open_page

seeded = app_fixtures.seeded


def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def entries(session, case_id: int | None = None) -> int:
    session.expire_all()
    statement = select(func.count()).select_from(CaseEntry)
    if case_id is not None:
        statement = statement.where(CaseEntry.case_id == case_id)
    return session.scalar(statement)


def the_case(session, student_id: str = "S001") -> Case:
    session.expire_all()
    return session.scalar(select(Case).where(Case.student_id == student_id))


def keys(at) -> set[str]:
    found = set()
    for kind in ("button", "selectbox", "text_area", "radio", "date_input", "text_input"):
        found |= {w.key for w in getattr(at, kind) if w.key}
    return found


def record(at, cid: int, channel: str, outcome: str = "no_response", step: int | None = None):
    if step is not None:
        at.selectbox(key=f"case_contact_step_{cid}").set_value(step).run()
    at.selectbox(key=f"case_contact_channel_{cid}").set_value(channel)
    at.selectbox(key=f"case_contact_outcome_{cid}").set_value(outcome)
    at.text_area(key=f"case_contact_note_{cid}").input(f"{channel} attempt")
    return at.button(key=f"case_contact_submit_{cid}").click().run()


def errors(at) -> str:
    return "\n".join(str(e.value) for e in at.error)


def test_walk_down_the_ladder(seeded):
    s = seeded
    add_user(s, "wb2", role="wellbeing", password=PASSWORD)
    s.commit()
    # tutor: Home lists the new flag with no case; opening it goes to the case in place
    at = open_page("tutor", "home")
    ok(at)
    assert "New flags with no case (1)" in "\n".join(m.value for m in at.markdown)
    at.button(key="case_open_button_home_new_flags_S001_welfare").click().run()
    ok(at)
    assert at.title[0].value == "Cases"  # went to the new case in place
    assert "Record a contact attempt" in [h.value for h in at.subheader]
    case = the_case(s)
    assert case is not None and case.flag_id is not None and case.owner_username == "tut_a"
    cid = case.id

    at = open_page("tutor", "case", {"case": str(cid)})
    ok(at)
    assert "Step" in [m.label for m in at.metric]
    assert any("due in 2 working days" in str(i.value) for i in at.info)
    # step 1 allows the university e-mail only: the channel list says so
    assert at.selectbox(key=f"case_contact_channel_{cid}").options == ["University e-mail"]
    at = record(at, cid, "uni_email")
    ok(at)
    assert entries(s, cid) == 2 and the_case(s).next_due is not None
    at = record(at, cid, "teams_message", step=2)
    at = record(at, cid, "phone", step=3)
    ok(at)
    assert entries(s, cid) == 4 and the_case(s).ladder_step == 3
    # a step the tutor may not record: refused next to the step, nothing saved
    at = record(at, cid, "phone", step=4)
    assert "Hand the case over" in errors(at)
    assert entries(s, cid) == 4
    # no referral or emergency form for a tutor
    assert f"case_refer_submit_{cid}" not in keys(at)
    assert f"case_emergency_submit_{cid}" not in keys(at)
    at.text_area(key=f"case_handover_note_{cid}").input("Three attempts, no reply")
    at.button(key=f"case_handover_submit_{cid}").click().run()
    ok(at)
    case = the_case(s)
    assert (case.state, case.ladder_step, case.owner_username) == ("escalated", 4, "wellbeing")

    # wellbeing: the escalated queue on Home, attempts, referral (ResX: on campus), decision
    at = open_page("wellbeing", "home")
    ok(at)
    assert "Escalated cases, by due date (1)" in "\n".join(m.value for m in at.markdown)
    at = open_page("wellbeing", "case", {"case": str(cid)})
    ok(at)
    at = record(at, cid, "sms", step=4)
    ok(at)
    assert f"case_emergency_submit_{cid}" not in keys(at)  # not before a referral
    assert any("ResX" in str(m.value) and "on campus" in str(m.value) for m in at.markdown)
    at.button(key=f"case_refer_submit_{cid}").click().run()
    ok(at)
    assert the_case(s).referral_team == "ResX"
    at.radio(key=f"case_emergency_decision_{cid}").set_value("initiate")
    at.text_area(key=f"case_emergency_reason_{cid}").input("No contact for three weeks")
    at.button(key=f"case_emergency_submit_{cid}").click().run()
    assert "second member of the wellbeing team" in errors(at)  # nobody chose who authorised
    before = entries(s, cid)
    at.selectbox(key=f"case_emergency_authorised_{cid}").set_value("wb2")
    at.button(key=f"case_emergency_submit_{cid}").click().run()
    ok(at)
    assert entries(s, cid) == before + 1
    assert (the_case(s).state, the_case(s).ladder_step) == ("emergency", 6)

    # the visa team never sees the welfare case
    at = open_page("visa", "case", {"case": str(cid)})
    ok(at)
    assert any("No case" in str(w.value) for w in at.warning)
    assert f"case_contact_submit_{cid}" not in keys(at)

    # close with an outcome (the tutor may), then the case shows it
    at = open_page("tutor", "case", {"case": str(cid)})
    at.button(key=f"case_close_submit_{cid}").click().run()
    assert "Choose the outcome" in errors(at)
    at.selectbox(key=f"case_close_outcome_{cid}").set_value("support_in_place")
    at.button(key=f"case_close_submit_{cid}").click().run()
    ok(at)
    assert (the_case(s).state, the_case(s).close_outcome) == ("closed", "support_in_place")
    assert f"case_reopen_submit_{cid}" in keys(at)


@pytest.fixture
def tutor_case(seeded):
    at = open_page("tutor", "student", {"id": "S001"})
    ok(at)
    at.button(key="case_open_button_student_S001_welfare").click().run()
    ok(at)
    assert at.title[0].value == "Cases"
    return the_case(seeded).id


def test_bad_form_input_is_refused_with_nothing_saved(seeded, tutor_case):
    cid = tutor_case
    at = open_page("tutor", "case", {"case": str(cid)})
    before = entries(seeded)
    # nothing chosen: channel and outcome refused next to their fields
    at.button(key=f"case_contact_submit_{cid}").click().run()
    text = errors(at)
    assert "Choose a channel" in text and "Choose the outcome" in text
    # a contact time in the future, a due date before the contact
    at.date_input(key=f"case_contact_day_{cid}").set_value(date.today() + timedelta(days=3))
    at.selectbox(key=f"case_contact_channel_{cid}").set_value("uni_email")
    at.selectbox(key=f"case_contact_outcome_{cid}").set_value("no_response")
    at.button(key=f"case_contact_submit_{cid}").click().run()
    assert "in the future" in errors(at)
    at.date_input(key=f"case_contact_day_{cid}").set_value(date.today())
    at.date_input(key=f"case_contact_due_{cid}").set_value(date.today() - timedelta(days=1))
    at.button(key=f"case_contact_submit_{cid}").click().run()
    assert "before the contact" in errors(at)
    assert entries(seeded) == before
    # out of scope: another tutor's student shows no case and no form
    at = open_page("tutor", "student", {"id": "S003"})
    assert "case_open_button_student_S003_welfare" not in keys(at)


def test_double_submit_records_one_entry(seeded, tutor_case):
    """The same form submitted twice (a double click, or a click again after the rerun) records
    one entry: the submission's idempotency key is its content."""
    cid = tutor_case
    at = open_page("tutor", "case", {"case": str(cid)})
    before = entries(seeded)
    at = record(at, cid, "uni_email")
    ok(at)
    assert entries(seeded) == before + 1
    at.button(key=f"case_contact_submit_{cid}").click().run()
    ok(at)
    assert entries(seeded) == before + 1
    saved = seeded.scalar(select(CaseEntry).where(CaseEntry.kind == "contact"))
    assert saved.idempotency_key.startswith("ui:contact:")
    # a different attempt (another outcome) is a new entry
    at = record(at, cid, "uni_email", outcome="replied_fine")
    assert entries(seeded) == before + 2


@pytest.mark.parametrize(
    "role, section",
    [
        ("senior_tutor", "Flagged"),
        ("senior_tutor", "Stalled cases"),
        ("senior_tutor", "Unanswered flags per personal tutor"),
        ("tutor", "Next actions due this week or overdue"),
        ("tutor", "Students who re-engaged"),
    ],
)
def test_home_worklist_sections(seeded, role, section):
    at = open_page(role, "home")
    ok(at)
    assert section in "\n".join(m.value for m in at.markdown)


def test_visa_team_works_its_own_track(seeded):
    at = open_page("visa", "student", {"id": "S002"})
    ok(at)
    assert "case_open_button_student_S002_welfare" not in keys(at)
    at.button(key="case_open_button_student_S002_visa").click().run()
    ok(at)
    case = the_case(seeded, "S002")
    assert (case.track, case.owner_username) == ("visa", "visa_team")
    at = open_page("visa", "case", {"case": str(case.id)})
    ok(at)
    channels = at.selectbox(key=f"case_contact_channel_{case.id}").options
    assert "Phone call" in channels and len(channels) == 8  # the visa team uses any channel
    at = record(at, case.id, "phone", outcome="replied_fine")
    ok(at)
    assert entries(seeded, case.id) == 2
    # the tutor sees the visa-track case of a tutee but may not record on it
    at = open_page("tutor", "case", {"case": str(case.id)})
    ok(at)
    assert f"case_contact_submit_{case.id}" not in keys(at)


def test_correction_from_the_case_page(seeded, tutor_case):
    cid = tutor_case
    at = open_page("tutor", "case", {"case": str(cid)})
    at = record(at, cid, "uni_email")
    first = seeded.scalar(select(CaseEntry).where(CaseEntry.kind == "contact"))
    slot = f"{cid}_{first.id}"
    at.selectbox(key=f"case_correct_outcome_{slot}").set_value("replied_fine")
    at.button(key=f"case_correct_submit_{slot}").click().run()
    assert "Say what the correction changes" in errors(at)
    at.text_input(key=f"case_correct_reason_{slot}").input("The reply came the same day")
    at.button(key=f"case_correct_submit_{slot}").click().run()
    ok(at)
    fixed = seeded.scalar(select(CaseEntry).where(CaseEntry.kind == "correction"))
    assert fixed.corrects_entry_id == first.id and fixed.outcome == "replied_fine"
    history = at.dataframe[0].value
    assert history["What"].str.contains("corrected by a later entry").any()


def test_case_list_and_bad_case_numbers(seeded, tutor_case):
    at = open_page("tutor", "case")
    ok(at)
    links = at.get("page_link")
    assert any(f"Case {tutor_case} · S001" in str(link.proto.label) for link in links)
    for bad in ("abc", "99999", "1" * 20):
        at = open_page("tutor", "case", {"case": bad})
        ok(at)
        assert at.warning, bad
    at = open_page("senior_tutor", "case")  # S001 is in the senior tutor's scope too
    assert any(f"Case {tutor_case}" in str(link.proto.label) for link in at.get("page_link"))
