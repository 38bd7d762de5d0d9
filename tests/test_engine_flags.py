"""Hand-made cases for every flag kind: raised when due, with the explanation naming values."""

from __future__ import annotations

from datetime import date

import pandas as pd

from tests.engine_cases import TEACHING, WEEKS, scenario, usual_attendance, usual_vle

STOP = TEACHING[6]  # 2025-11-10, the 7th teaching week (after the reading week)


def test_steady_cohort_raises_nothing_and_index_is_one():
    _, res, flags, dq, measures = scenario()
    assert flags.empty
    assert dq.empty
    index = measures[(measures["source"] == "index") & measures["teaching"]]
    late = index[index["week_start"] >= pd.Timestamp(WEEKS[5])]
    assert late["value"].between(0.85, 1.15).all()
    assert (late["baseline"] - 1.0).abs().max() < 0.1


def test_zero_engagement_for_two_teaching_weeks():
    def att(s, w):
        return 0 if s == 0 and w >= STOP else usual_attendance(s, w)

    def vle(s, w):
        return 0 if s == 0 and w >= STOP else usual_vle(s, w)

    due_after = [w for w in TEACHING if w >= STOP and WEEKS.index(w) % 2 == 0]
    _, _, flags, _, _ = scenario(attendance=att, vle=vle, missing={0: due_after})
    mine = flags[flags["student_id"] == "S00"]
    assert list(mine["kind"])[0] == "no_engagement"
    assert "index_drop" not in set(mine["kind"])  # no double flag for the same drop
    row = mine.iloc[0]
    assert row["week_start"] == TEACHING[7]  # the second zero week
    assert row["severity"] == "high"
    assert row["ended_week"] is None
    # last Moodle day: Thursday of the week before STOP (4 or 5 active days from Monday)
    assert "attended 0 of 4 sessions (usually 4 of 4)" in row["explanation"]
    assert "no Moodle activity for 1" in row["explanation"]
    assert "(usually 4" in row["explanation"] and "active days a week)" in row["explanation"]
    assert "for 2 consecutive teaching weeks" in row["explanation"]
    assert set(flags["student_id"]) == {"S00"}


def test_index_drop_sustained_then_recovery_is_recorded():
    back = TEACHING[9]

    def att(s, w):
        return 1 if s == 0 and STOP <= w < back else usual_attendance(s, w)

    def vle(s, w):
        return 1 if s == 0 and STOP <= w < back else usual_vle(s, w)

    _, _, flags, _, _ = scenario(attendance=att, vle=vle)
    mine = flags[flags["student_id"] == "S00"]
    assert list(mine["kind"]) == ["index_drop"]
    row = mine.iloc[0]
    assert row["week_start"] == TEACHING[7]
    assert row["severity"] == "medium"  # index about 39% of usual (submissions still on time)
    assert row["explanation"].startswith("Engagement index at ")
    assert "% of usual for 2 teaching weeks" in row["explanation"]
    assert "attended 1 of 4 sessions (usually 4 of 4)" in row["explanation"]
    assert "Moodle active on 1 days, 3 events (usually" in row["explanation"]
    assert row["ended_week"] == back
    assert row["recovery_explanation"].startswith(f"Back to usual in the week of {back}")


def test_source_drop_while_others_hold():
    def att(s, w):
        return 0 if s == 0 and w >= STOP else usual_attendance(s, w)

    _, _, flags, _, _ = scenario(attendance=att)
    mine = flags[flags["student_id"] == "S00"]
    assert list(mine["kind"]) == ["source_drop"]
    text = mine.iloc[0]["explanation"]
    assert text.startswith("attendance dropped for 2 teaching weeks while other sources held")
    assert "attended 0 of 4 sessions (usually 4 of 4)" in text
    assert "others: Moodle active on" in text
    assert mine.iloc[0]["source"] == "attendance"


def test_missed_submissions():
    due_weeks = [w for w in TEACHING if WEEKS.index(w) % 2 == 0]
    _, _, flags, _, _ = scenario(missing={0: due_weeks[2:5]})
    mine = flags[flags["student_id"] == "S00"]
    assert list(mine["kind"]) == ["missed_submissions"]
    assert mine.iloc[0]["week_start"] == due_weeks[4]
    assert mine.iloc[0]["explanation"].startswith(
        "Missed 3 submissions due in the last 6 teaching weeks (usually 100% on time)"
    )


def test_one_missed_submission_is_not_a_flag():
    due_weeks = [w for w in TEACHING if WEEKS.index(w) % 2 == 0]
    _, _, flags, _, _ = scenario(missing={0: due_weeks[3:4]})
    assert flags.empty


def test_detectors_both_find_a_sustained_drop():
    def att(s, w):
        return 0 if s == 0 and w >= STOP else usual_attendance(s, w)

    def vle(s, w):
        return 1 if s == 0 and w >= STOP else usual_vle(s, w)

    for detector in ("robust_z", "ewma"):
        _, _, flags, _, _ = scenario(attendance=att, vle=vle, config={"detector": detector})
        assert list(flags["student_id"]) == ["S00"], detector
        assert flags.iloc[0]["kind"] == "index_drop"
        assert flags.iloc[0]["week_start"] <= date(2025, 11, 24)


def test_source_drop_raised_once_the_others_hold_again():
    wobble = TEACHING[7]

    def att(s, w):
        return 0 if s == 0 and w >= STOP else usual_attendance(s, w)

    def vle(s, w):
        return 1 if s == 0 and w == wobble else usual_vle(s, w)  # others dip in week 2 only

    _, _, flags, _, _ = scenario(attendance=att, vle=vle)
    mine = flags[flags["student_id"] == "S00"].set_index("kind")
    assert mine.loc["index_drop", "week_start"] == TEACHING[7]  # both low that week
    assert mine.loc["source_drop", "week_start"] == TEACHING[8]  # the run kept counting
    # the explanation counts the weeks the drop really ran (3), not the configured minimum (2)
    text = mine.loc["source_drop", "explanation"]
    assert text.startswith("attendance dropped for 3 teaching weeks while other sources held")
    assert "attended 0 of 4 sessions" in text


def test_source_drop_weeks_counted_when_the_others_hold_late():
    late = TEACHING[10]  # the others stay low until the fifth week of the attendance drop

    def att(s, w):
        return 0 if s == 0 and w >= STOP else usual_attendance(s, w)

    def vle(s, w):
        return 1 if s == 0 and STOP <= w < late else usual_vle(s, w)

    _, _, flags, _, _ = scenario(attendance=att, vle=vle)
    mine = flags[(flags["student_id"] == "S00") & (flags["kind"] == "source_drop")]
    assert list(mine["week_start"]) == [late]
    weeks = TEACHING.index(late) - TEACHING.index(STOP) + 1
    assert mine.iloc[0]["explanation"].startswith(f"attendance dropped for {weeks} teaching weeks")


def test_without_a_timetable_attendance_is_measured_by_sessions_attended():
    def att(s, w):
        return 0 if s == 0 and w >= STOP else usual_attendance(s, w)

    _, _, flags, _, measures = scenario(attendance=att, timetable=False)
    rows = measures[(measures["student_id"] == "S01") & (measures["source"] == "attendance")]
    assert rows["expected"].isna().all()
    assert rows.loc[rows["teaching"], "value"].between(3, 4).all()
    mine = flags[flags["student_id"] == "S00"]
    assert list(mine["kind"]) == ["source_drop"]
    assert "attended 0 sessions (usually 4)" in mine.iloc[0]["explanation"]
