"""Hand-made cases for the 'never flag' rules: vacations, reading weeks, exemptions, systemic weeks,
and the cold-start rule for students with little history."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from tests.engine_cases import (
    CALENDAR,
    READING,
    TEACHING,
    WEEKS,
    scenario,
    usual_attendance,
    usual_vle,
)

STOP = TEACHING[6]


def test_reading_week_and_vacation_never_flag_nor_count_as_consecutive():
    before = TEACHING[4]  # the teaching week just before the reading week

    def att(s, w):
        return 0 if s == 0 and w == before else usual_attendance(s, w)

    def vle(s, w):
        return 0 if s == 0 and w == before else usual_vle(s, w)

    _, _, flags, _, measures = scenario(attendance=att, vle=vle)
    assert flags.empty  # zero week + reading week (nobody active) is not two teaching weeks
    rows = measures[measures["source"] == "index"].drop_duplicates("week_start")
    teaching = dict(zip(rows["week_start"].dt.date, rows["teaching"], strict=True))
    assert teaching[READING] is False or not teaching[READING]
    assert not any(teaching[w] for w in WEEKS[-3:])  # the vacation weeks
    assert sum(teaching.values()) == len(TEACHING)


def test_exemption_suppresses_flags_and_keeps_baseline_clean():
    stop, back = STOP, TEACHING[9]

    def att(s, w):
        return 0 if s == 0 and stop <= w < back else usual_attendance(s, w)

    def vle(s, w):
        return 0 if s == 0 and stop <= w < back else usual_vle(s, w)

    exemption = [(0, stop - timedelta(days=2), back - timedelta(days=3))]
    _, _, flags, _, measures = scenario(attendance=att, vle=vle, exemptions=exemption)
    assert flags.empty
    att_rows = measures[(measures["student_id"] == "S00") & (measures["source"] == "attendance")]
    after = att_rows[att_rows["week_start"] == pd.Timestamp(back)].iloc[0]
    assert after["baseline"] >= 0.85  # the exempt zero weeks never entered the baseline


def test_flag_only_after_the_exemption_ends():
    def att(s, w):
        return 0 if s == 0 and w >= STOP else usual_attendance(s, w)

    def vle(s, w):
        return 0 if s == 0 and w >= STOP else usual_vle(s, w)

    end = TEACHING[8] + timedelta(days=4)
    _, _, flags, _, _ = scenario(attendance=att, vle=vle, exemptions=[(0, STOP, end)])
    assert not flags.empty
    assert (flags["week_start"] > end).all()


def test_module_outage_is_a_data_quality_event_not_flags():
    outage = TEACHING[7]

    def att(s, w):
        return 0 if w == outage else usual_attendance(s, w)

    _, _, flags, dq, _ = scenario(attendance=att)
    assert flags.empty
    assert len(dq) == 1
    event = dq.iloc[0]
    assert (event["module_code"], event["source"], event["week_start"]) == (
        "M1",
        "attendance",
        outage,
    )
    assert event["share_affected"] == 1.0 and event["students_affected"] == 12
    assert "no attendance in the week of" in event["explanation"]


def test_source_outage_is_a_data_quality_event_not_flags():
    outage = TEACHING[6]

    def vle(s, w):
        return 0 if w in (outage, TEACHING[7]) else usual_vle(s, w)

    _, _, flags, dq, _ = scenario(vle=vle)
    assert flags.empty
    assert set(dq["source"]) == {"vle"} and dq["module_code"].isna().all()
    assert set(dq["week_start"]) == {outage, TEACHING[7]}
    assert (dq["share_affected"] == 1.0).all()


def test_unconfigured_reading_week_is_systemic():
    calendar = CALENDAR[CALENDAR["kind"] != "reading_week"]
    import tests.engine_cases as cases

    original = cases.CALENDAR
    cases.CALENDAR = calendar
    try:
        _, _, flags, dq, _ = scenario()  # nobody is active in the (now "teaching") reading week
    finally:
        cases.CALENDAR = original
    assert flags.empty
    assert set(dq["week_start"]) == {READING}
    assert set(dq["source"]) == {"vle"}  # no sessions were timetabled that week: nothing expected


def test_cold_start_is_labelled_and_uses_the_cohort_prior():
    def att(s, w):
        if s == 0:
            return 1  # disengaged from the start: 1 of 4 sessions
        if s == 1:
            return 2  # a naturally lower attender: not a flag
        return usual_attendance(s, w)

    def vle(s, w):
        return 0 if s == 0 else (3 if s == 1 else usual_vle(s, w))

    _, _, flags, _, measures = scenario(attendance=att, vle=vle)
    index = measures[(measures["source"] == "index") & measures["teaching"]]
    first = index[index["week_start"] == pd.Timestamp(TEACHING[0])]
    assert first["cold_start"].all()
    later = index[
        (index["week_start"] == pd.Timestamp(TEACHING[6])) & (index["student_id"] != "S00")
    ]
    assert not later["cold_start"].any()
    assert set(flags["student_id"]) == {"S00"}
    row = flags.iloc[0]
    assert row["week_start"] == TEACHING[1]
    assert "cold start" in row["explanation"]
    # the usual value blends one own week (1 of 4) with the cohort prior (4 of 4): 3 of 4
    assert "attended 1 of 4 sessions (usually 3 of 4)" in row["explanation"]
    assert "no Moodle activity yet (usually 4 active days a week)" in row["explanation"]
