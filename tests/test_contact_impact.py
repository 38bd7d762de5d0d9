""" "Did contact help?": the index in the 4 teaching weeks after a first contact against the 4
before, by channel and by step, checked against numbers worked out by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from lib.access import User
from lib.cases.impact import case_windows, contact_impact, summarise
from lib.cases.service import Contact, open_case, record_contact
from tests import app_fixtures
from tests.app_fixtures import FIRST_WEEK, seed

seeded = app_fixtures.seeded

NT = None  # week 5 is a reading week: never in a window


def _index(values: dict[str, list[float | None]]) -> pd.DataFrame:
    rows = []
    for sid, series in values.items():
        for w, value in enumerate(series):
            week = FIRST_WEEK + timedelta(weeks=w)
            rows.append((sid, week, np.nan if value is None else value, w != 5))
    return pd.DataFrame(rows, columns=["student_id", "week_start", "value", "teaching"])


INDEX = _index(
    {
        #     w0   w1   w2   w3   w4   w5(NT) w6   w7   w8   w9
        "A": [1.0, 0.9, 0.8, 0.7, 0.6, 0.1, 0.5, 0.9, 1.0, 1.1],
        "B": [None, 0.5, 0.2, 0.3, 0.4, 0.1, 0.4, 0.4, 0.4, 0.4],
        "C": [1.0, 1.0, 1.0, 1.0, 0.2, 0.1, 0.4, 0.4, 0.4, 0.4],
    }
)
CONTACTS = pd.DataFrame(
    {
        "case_id": [1, 2, 3],
        "student_id": ["A", "B", "C"],
        "day": pd.to_datetime(["2025-11-12", "2025-10-15", "2025-10-29"]),  # weeks 6, 2, 4
        "channel": ["uni_email", "uni_email", "phone"],
        "step": [1.0, 1.0, 3.0],
    }
)


def test_windows_skip_the_contact_week_and_non_teaching_weeks():
    windows = case_windows(CONTACTS, INDEX).set_index("case_id")
    # A: before = weeks 4,3,2,1 (0.6+0.7+0.8+0.9)/4; after = weeks 7,8,9 (only 3 exist)
    assert windows.loc[1, "before"] == pytest.approx(0.75)
    assert windows.loc[1, "after"] == pytest.approx(1.0)
    assert (windows.loc[1, "weeks_before"], windows.loc[1, "weeks_after"]) == (4, 3)
    # B: before = week 1 (week 0 not measured); after = weeks 3,4,6,7 (5 is a reading week)
    assert (windows.loc[2, "weeks_before"], windows.loc[2, "weeks_after"]) == (1, 4)
    assert windows.loc[2, "after"] == pytest.approx((0.3 + 0.4 + 0.4 + 0.4) / 4)
    # C: before = weeks 3,2,1,0 = 1.0; after = weeks 6,7,8,9 = 0.4
    assert (windows.loc[3, "before"], windows.loc[3, "after"]) == pytest.approx((1.0, 0.4))


def test_summaries_by_channel_and_step_count_usable_cases_only():
    windows = case_windows(CONTACTS, INDEX).merge(CONTACTS[["case_id", "channel", "step"]])
    overall = summarise(windows, None).iloc[0]
    assert overall["cases"] == 2  # B has one measured week before its contact
    assert overall["index_before"] == pytest.approx((0.75 + 1.0) / 2)
    assert overall["index_after"] == pytest.approx((1.0 + 0.4) / 2)
    assert overall["change"] == pytest.approx((0.25 - 0.6) / 2)
    assert overall["improved_share"] == pytest.approx(0.5)
    by_channel = summarise(windows, "channel").set_index("channel")
    assert by_channel.loc["uni_email", "cases"] == 1
    assert by_channel.loc["uni_email", "change"] == pytest.approx(0.25)
    assert by_channel.loc["phone", "change"] == pytest.approx(-0.6)
    by_step = summarise(windows, "step").set_index("step")
    assert list(by_step.index) == [1.0, 3.0] and list(by_step["cases"]) == [1, 1]


def test_store_summary_is_scoped_and_for_senior_tutors_and_wellbeing(any_session):
    session = any_session
    seed(session)  # S001 and S003 drop to 10% of usual from week 7; everyone else holds at 100%
    tutor = User("tut_a", "tutor")
    for sid, owner in (("S001", "tut_a"), ("S003", "tut_b")):
        user = User(owner, "tutor")
        case = open_case(session, user, sid, now=datetime(2025, 11, 11, 9))
        contact = Contact(datetime(2025, 11, 11, 10), "uni_email", "no_response", next_due=None)
        record_contact(session, user, case.id, contact, now=datetime(2025, 11, 11, 11))
        if sid == "S001":  # then a tutorial invitation by Teams message in week 7
            invite = Contact(datetime(2025, 11, 18, 10), "teams_message", "no_response", step=2)
            record_contact(session, user, case.id, invite, now=datetime(2025, 11, 18, 11))
    session.commit()
    senior = User("senior_sci", "senior_tutor", school="Science", years=(1, 2))
    result = contact_impact(session, senior)
    overall = result["overall"].iloc[0]
    # S001 only (S003 is in year 3): contact in week 6; before = weeks 4,3,2,1 at 1.0;
    # after = weeks 7,8,9 at 0.1
    assert overall["cases"] == 1
    assert (overall["index_before"], overall["index_after"]) == pytest.approx((1.0, 0.1))
    # by step / channel: each case's first contact at that step / by that channel; the step-2
    # Teams message in week 7: before = weeks 6,4,3,2 at 1.0, after = weeks 8,9 at 0.1
    by_step = result["by_step"].set_index("step")
    assert by_step["cases"].to_dict() == {1: 1, 2: 1}
    assert (by_step.loc[2, "index_before"], by_step.loc[2, "index_after"]) == pytest.approx(
        (1.0, 0.1)
    )
    by_channel = result["by_channel"].set_index("channel")
    assert by_channel["cases"].to_dict() == {"teams_message": 1, "uni_email": 1}
    assert result["pending"]["cases"].tolist() == [0]
    assert contact_impact(session, User("wb", "wellbeing"))["overall"]["cases"].tolist() == [2]
    with pytest.raises(PermissionError):
        contact_impact(session, tutor)
    assert date(2025, 11, 10) == FIRST_WEEK + timedelta(weeks=6)


def test_cohort_page_shows_the_section_to_senior_tutors_and_wellbeing_only(seeded):
    from tests.app_fixtures import open_page

    user = User("tut_a", "tutor")
    case = open_case(seeded, user, "S001", now=datetime(2025, 11, 11, 9))
    contact = Contact(datetime(2025, 11, 11, 10), "uni_email", "no_response")
    record_contact(seeded, user, case.id, contact, now=datetime(2025, 11, 11, 11))
    seeded.commit()
    at = open_page("senior_tutor", "cohort")
    assert not at.exception
    assert "Did contact help?" in [h.value for h in at.subheader]
    assert any("Descriptive, not causal" in c.value for c in at.caption)
    table = next(d.value for d in at.dataframe if "Channel" in d.value.columns)
    assert table.iloc[0].tolist() == ["University e-mail", 1, "100%", "10%", "-90%", "0%"]
    tutor = open_page("tutor", "cohort")
    assert "Did contact help?" not in [h.value for h in tutor.subheader]
