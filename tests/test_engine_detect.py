"""Detection beyond one's own baseline drop: single-source stops, assessment-only evidence, no data,
and a group's feed going silent without a timetable (SPEC §4)."""

from __future__ import annotations

import pandas as pd

from lib.engagement.engine import run
from lib.engagement.explain import dq_frame, flags_frame
from lib.engagement.measures import build_inputs
from tests.engine_cases import TEACHING, WEEKS, scenario, scenario_frames, usual_vle


def _run(ids, frames, cfg, **extra):
    inp = build_inputs(pd.Index(ids), *frames, cfg, **extra)
    res = run(inp, cfg)
    return flags_frame(inp, res, cfg), dq_frame(inp, res)


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
    empty_act = act.iloc[0:0]
    flags, _ = _run(ids, (empty_act, exp.iloc[0:0], sub, cal, ex), cfg)
    assert list(flags["student_id"]) == ["S02"]
    row = flags.iloc[0]
    assert row["kind"] == "missed_submissions"
    assert row["week_start"] == TEACHING[7]
    assert "Missed 1 submission due" in row["explanation"]
    assert "Submissions are the only source measured for this student." in row["explanation"]


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

    ids, (act, exp, sub, cal, ex), cfg = scenario_frames(
        students=40, attendance=att, vle=lambda s, w: usual_vle(s, w), timetable=False
    )
    act = act.copy()
    in_group = act["student_id"].isin([ids[s] for s in group]) & (act["source"] == "attendance")
    act.loc[in_group, "module_code"] = "M2"
    flags, dq = _run(ids, (act, exp, sub, cal, ex), cfg)
    assert flags.empty
    events = dq[dq["week_start"] == outage]
    assert "module M2" in set(events["module_code"])
    assert (events["source"] == "attendance").all()
    assert "feed outage" in events.iloc[0]["explanation"]
