"""Detection beyond one's own baseline drop: single-source stops, assessment-only evidence, no data,
and a group's feed going silent without a timetable (SPEC §4)."""

from __future__ import annotations

import pandas as pd

from lib.engagement.engine import run
from lib.engagement.explain import dq_frame, flags_frame
from lib.engagement.measures import build_inputs
from tests.engine_cases import (
    TEACHING,
    WEEKS,
    scenario,
    scenario_frames,
    usual_attendance,
    usual_vle,
)


def _run(ids, frames, cfg, **extra):
    inp = build_inputs(pd.Index(ids), *frames, cfg, **extra)
    res = run(inp, cfg)
    return flags_frame(inp, res, cfg), dq_frame(inp, res)


def _module_outage_run(group, att, vle):
    """40 students without a timetable, those of `group` taking module M2 for attendance (whose
    scanner feed the callers' `att` silences); (flags, dq events)."""
    ids, (act, exp, sub, cal, ex), cfg = scenario_frames(
        students=40, attendance=att, vle=vle, timetable=False
    )
    act = act.copy()
    in_group = act["student_id"].isin([ids[s] for s in group]) & (act["source"] == "attendance")
    act.loc[in_group, "module_code"] = "M2"
    return _run(ids, (act, exp, sub, cal, ex), cfg)


def test_a_student_who_never_scans_in_again_but_keeps_moodle_is_flagged_by_that_source():
    stop = TEACHING[5]

    def att(s, w):
        return 0 if s == 3 and w >= stop else (3 if (WEEKS.index(w) + s) % 4 == 0 else 4)

    _, _, flags, _, _ = scenario(attendance=att)
    mine = flags[flags["student_id"] == "S03"]
    assert list(mine["kind"]) == ["source_drop"]
    assert mine.iloc[0]["source"] == "attendance"
    assert mine.iloc[0]["week_start"] == TEACHING[6]  # the second teaching week without a scan
    assert "attendance dropped" in mine.iloc[0]["explanation"]
    assert "attended 0 of 4 sessions" in mine.iloc[0]["explanation"]
    assert set(flags["student_id"]) == {"S03"}


def test_submissions_only_one_missed_assessment_flags_at_once_and_no_data_weeks_never_flag():
    ids, (act, exp, sub, cal, ex), cfg = scenario_frames(missing={2: [TEACHING[7]]})
    # a weekly quiz besides the fortnightly assignments: S02 had submitted everything before
    quiz = pd.DataFrame(
        [(sid, pd.Timestamp(w) + pd.Timedelta(days=2), "on_time") for sid in ids for w in TEACHING],
        columns=["student_id", "due_at", "status"],
    )
    sub = pd.concat([sub, quiz[quiz["due_at"] < pd.Timestamp(TEACHING[7])]], ignore_index=True)
    empty_act = act.iloc[0:0]
    flags, _ = _run(ids, (empty_act, exp.iloc[0:0], sub, cal, ex), cfg)
    assert list(flags["student_id"]) == ["S02"]
    row = flags.iloc[0]
    assert row["kind"] == "missed_submissions"
    assert row["week_start"] == TEACHING[7]
    assert "Missed 1 submission due" in row["explanation"]
    assert "Submissions are the only source measured for this student." in row["explanation"]


def test_submissions_only_a_first_ever_assessment_missed_flags_at_once():
    """No history at all: the first due of the year missed is 1 in 10 at the prior, which is
    missed_alone_surprise exactly (0.5/5 is 0.10000000000000009 in floating point)."""
    ids, (act, exp, _, cal, ex), cfg = scenario_frames()
    due = pd.Timestamp(TEACHING[2]) + pd.Timedelta(days=4, hours=12)
    sub = pd.DataFrame(
        [(sid, due, "missing" if sid == "S04" else "on_time") for sid in ids],
        columns=["student_id", "due_at", "status"],
    )
    flags, _ = _run(ids, (act.iloc[0:0], exp.iloc[0:0], sub, cal, ex), cfg)
    assert list(zip(flags["student_id"], flags["kind"], flags["week_start"], strict=True)) == [
        ("S04", "missed_submissions", TEACHING[2])
    ]


def test_a_student_with_nothing_measured_is_not_flagged():
    ids, (act, exp, sub, cal, ex), cfg = scenario_frames()
    act = act[act["student_id"] != "S04"]  # no feed loaded for S04 at all, nothing expected
    exp = exp[exp["student_id"] != "S04"]
    sub = sub[sub["student_id"] != "S04"]
    flags, _ = _run(ids, (act, exp, sub, cal, ex), cfg)
    assert "S04" not in set(flags["student_id"])


def test_a_module_feed_down_for_a_week_without_timetable_is_a_data_quality_event_not_flags():
    outage = TEACHING[7]
    group = range(9)  # S00-S08 take module M2; its scanner feed is down one week

    def att(s, w):
        if s in group and w == outage:
            return 0
        return 3 if (WEEKS.index(w) + s) % 4 == 0 else 4

    flags, dq = _module_outage_run(group, att, usual_vle)
    assert flags.empty
    events = dq[dq["week_start"] == outage]
    assert "module M2" in set(events["module_code"])
    assert (events["source"] == "attendance").all()
    assert "feed outage" in events.iloc[0]["explanation"]


def test_a_student_who_often_misses_is_not_flagged_for_one_more_miss_like_the_earlier_ones():
    due = [w for w in TEACHING if WEEKS.index(w) % 2 == 0]  # the fortnightly assignments
    ids, (act, exp, sub, cal, ex), cfg = scenario_frames(missing={5: due[0::2]})
    flags, _ = _run(ids, (act.iloc[0:0], exp.iloc[0:0], sub, cal, ex), cfg)
    # the first due missed flags at once (nothing known of them yet: 1 in 10), and the flag ends
    # when they submit; the later misses, every other one as before, are their usual pattern
    assert list(zip(flags["student_id"], flags["week_start"], strict=True)) == [("S05", due[0])]
    assert flags.iloc[0]["ended_week"] == due[1]


def test_a_sparse_moodle_user_with_two_quiet_weeks_is_not_flagged_by_that_source():
    sparse = [2, 1, 3, 2, 0, 2, 2, 0, 0, 2, 3, 2, 1, 2, 2]  # about 2 active days, some weeks none

    def vle(s, w):
        return sparse[WEEKS.index(w)] if s == 4 else usual_vle(s, w)

    _, _, flags, _, _ = scenario(vle=vle)
    assert flags.empty  # two quiet weeks in a row happen by chance at two days a week


def test_a_regular_moodle_user_who_stops_for_two_weeks_is_flagged_by_that_source():
    stop = TEACHING[6]

    def vle(s, w):
        return 0 if s == 4 and w >= stop else usual_vle(s, w)

    _, _, flags, _, _ = scenario(vle=vle)
    assert set(flags["student_id"]) == {"S04"}
    row = flags[flags["kind"] == "source_drop"].iloc[0]
    assert (row["source"], row["week_start"]) == ("vle", TEACHING[7])
    assert "vle dropped for 2 teaching weeks while other sources held" in row["explanation"]


def test_a_two_week_dip_is_caught_in_a_student_whose_index_is_often_low_but_never_this_low():
    dip = TEACHING[7:9]
    quiet = {TEACHING[i] for i in (1, 3, 5)}  # bursty: every other week or so, half as active

    def att(s, w):
        if s == 6 and w in dip:
            return 0
        return 2 if s == 6 and w in quiet else usual_attendance(s, w)

    def vle(s, w):
        if s == 6 and w in dip:
            return 0
        return 1 if s == 6 and w in quiet else usual_vle(s, w)

    _, _, flags, _, _ = scenario(attendance=att, vle=vle)
    assert set(flags["student_id"]) == {"S06"}
    first = flags.iloc[0]
    assert first["week_start"] == dip[1]  # the second week of the dip, not after it
    assert first["kind"] in ("index_drop", "no_engagement")


def test_a_stop_around_a_feed_outage_is_flagged_the_week_after_it_not_reset_by_it():
    outage, stop = TEACHING[7], TEACHING[6]
    group = range(9)  # S00-S08 take module M2; its scanner feed is down one week

    def att(s, w):
        if (s in group and w == outage) or (s == 3 and w >= stop):
            return 0
        return 3 if (WEEKS.index(w) + s) % 4 == 0 else 4

    def vle(s, w):
        return 0 if s == 3 and w >= stop else usual_vle(s, w)

    flags, dq = _module_outage_run(group, att, vle)
    assert "module M2" in set(dq.loc[dq["week_start"] == outage, "module_code"])
    assert set(flags["student_id"]) == {"S03"}
    # the outage week is unknown for S03: two measured weeks without engagement span it
    assert flags["week_start"].min() == TEACHING[8]


def test_a_feed_outage_week_whose_other_sources_are_usual_ends_a_run_of_low_weeks():
    outage = TEACHING[7]
    group = range(9)  # S00-S08 take module M2; its scanner feed is down one week
    low = (TEACHING[6], TEACHING[8])  # S03: one quiet week on each side of the outage

    def att(s, w):
        if s in group and w == outage:
            return 0
        if s == 3 and w in low:
            return 0
        return 3 if (WEEKS.index(w) + s) % 4 == 0 else 4

    def vle(s, w):
        return 0 if s == 3 and w in low else usual_vle(s, w)

    flags, dq = _module_outage_run(group, att, vle)
    assert "module M2" in set(dq.loc[dq["week_start"] == outage, "module_code"])
    # Moodle was usual in the outage week: the two quiet weeks are not a run
    assert flags.empty
