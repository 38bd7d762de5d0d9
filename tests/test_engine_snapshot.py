"""Resuming the engine from a stored snapshot over later weeks alone gives what one pass gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_cases import TEACHING, WEEKS, scenario_frames, usual_attendance, usual_vle

from lib.engagement.engine import earlier_flag_ends, flag_records, run
from lib.engagement.explain import dq_frame, measures_frame
from lib.engagement.measures import build_inputs
from lib.engagement.snapshot import Snapshot, dumps, loads

OUTAGE = WEEKS[8]  # every student misses the module's sessions: a systemic module week
STOPS = 3  # stops everything from week 6 on, and is back in week 11


def stopped(student: int, week) -> bool:
    return student == STOPS and 6 <= WEEKS.index(week) < 11


def attendance(student: int, week) -> int:
    if week == OUTAGE or stopped(student, week):
        return 0
    return usual_attendance(student, week)


def vle(student: int, week) -> int:
    return 0 if stopped(student, week) else usual_vle(student, week)


@pytest.mark.parametrize("split", [3, 6, 9, 12])
def test_resumed_weeks_equal_one_pass(split):
    ids, frames, cfg = scenario_frames(
        students=14,
        attendance=attendance,
        vle=vle,
        missing={5: [WEEKS[6], WEEKS[8]]},
        exemptions=[(6, WEEKS[5], WEEKS[9])],
    )
    students = pd.Index(ids)
    weeks = np.array(WEEKS, dtype="datetime64[D]")
    whole = build_inputs(students, *frames, cfg, weeks=weeks)
    one_pass = run(whole, cfg)

    first = build_inputs(students, *frames, cfg, weeks=weeks[:split])
    before = run(first, cfg)
    blob = dumps(Snapshot(students, first.sources, weeks[split - 1], before.state, first.carry()))
    snap = loads(blob)
    assert str(snap.last_week) == str(weeks[split - 1]) and list(snap.student_ids) == ids
    later = build_inputs(
        students, *frames, cfg, weeks=weeks[split:], sources=snap.sources, carry=snap.carry
    )
    after = run(later, cfg, state=snap.state.resumed(before.state.n_flags))

    for name in ("index", "index_base", "baseline", "spread", "ratio"):
        np.testing.assert_array_equal(getattr(after, name), getattr(one_pass, name)[:, split:])
    np.testing.assert_array_equal(later.vle_last_day, whole.vle_last_day[:, split:])

    # flags: those raised before (ended before or in the later weeks) and those raised after
    raised = flag_records(before.state)
    for flag_id, week in earlier_flag_ends(after.state)[["id", "ended_w"]].itertuples(index=False):
        raised.loc[flag_id, "ended_w"] = week + split
    later_flags = flag_records(after.state)
    later_flags["w"] += split
    later_flags.loc[later_flags["ended_w"] >= 0, "ended_w"] += split
    stepwise = pd.concat([raised, later_flags], ignore_index=True).astype(np.int64)
    pd.testing.assert_frame_equal(stepwise, flag_records(one_pass.state).astype(np.int64))
    stops = stepwise[stepwise["s"] == STOPS]
    assert (stops["kind"] == 1).any() and (stops["ended_w"] >= 11).all()  # raised and ended

    # the outage is found in whichever part holds it (the module's usual rate so far)
    events = pd.concat([dq_frame(first, before), dq_frame(later, after)], ignore_index=True)
    pd.testing.assert_frame_equal(events, dq_frame(whole, one_pass), check_dtype=False)
    assert (events["week_start"] == OUTAGE).sum() == 1

    # stored measure rows of the later weeks are the same
    full_rows = measures_frame(whole, one_pass)
    full_rows = full_rows[full_rows["week_start"] >= weeks[split]].reset_index(drop=True)
    pd.testing.assert_frame_equal(measures_frame(later, after), full_rows)


def test_module_groups_of_resumed_weeks_come_from_the_snapshot_not_rereading_earlier_weeks():
    """A module's feed down for its group in the first resumed week: the module's members are
    known from the weeks before (carried in the snapshot), though only the resumed weeks' rows
    are given, so the outage is the same data-quality event as in one pass, not flags."""
    split = WEEKS.index(TEACHING[7])
    group = range(9)  # S00-S08 take module M2 for attendance

    def att(s, w):
        if s in group and w == TEACHING[7]:
            return 0
        return 3 if (WEEKS.index(w) + s) % 4 == 0 else 4

    ids, (act, exp, sub, cal, ex), cfg = scenario_frames(
        students=40, attendance=att, vle=usual_vle, timetable=False
    )
    act = act.copy()
    in_group = act["student_id"].isin([ids[s] for s in group]) & (act["source"] == "attendance")
    act.loc[in_group, "module_code"] = "M2"
    students, weeks = pd.Index(ids), np.array(WEEKS, dtype="datetime64[D]")
    whole = build_inputs(students, act, exp, sub, cal, ex, cfg, weeks=weeks)
    one_pass = run(whole, cfg)
    first = build_inputs(students, act, exp, sub, cal, ex, cfg, weeks=weeks[:split])
    before = run(first, cfg)
    blob = dumps(Snapshot(students, first.sources, weeks[split - 1], before.state, first.carry()))
    snap = loads(blob)
    new_days = act[pd.to_datetime(act["day"]) >= pd.Timestamp(weeks[split])]
    later = build_inputs(
        students,
        new_days,
        exp,
        sub,
        cal,
        ex,
        cfg,
        weeks=weeks[split:],
        sources=snap.sources,
        carry=snap.carry,
    )
    after = run(later, cfg, state=snap.state.resumed(before.state.n_flags))

    events = dq_frame(later, after)
    assert "module M2" in set(events.loc[events["week_start"] == TEACHING[7], "module_code"])
    whole_events = dq_frame(whole, one_pass)
    pd.testing.assert_frame_equal(
        events, whole_events[whole_events["week_start"] >= weeks[split]].reset_index(drop=True)
    )
    assert flag_records(after.state).empty


def test_packed_arrays_round_trip_every_kind_stored():
    from lib.engagement.snapshot import pack_arrays, unpack_arrays

    grid = np.arange(12, dtype=np.int32).reshape(3, 4)
    arrays = {
        "scalar": np.array(7),
        "empty": np.zeros(0, float),
        "texts": np.array(["B000001", "Ω-student", ""], dtype=str),
        "days": np.array(["2025-09-22", "NaT"], dtype="datetime64[D]"),
        "flags": np.array([[True, False], [False, True]]),
        "column": grid[:, 1],  # not contiguous
        "nan": np.array([np.nan, 1.5]),
    }
    back = unpack_arrays(pack_arrays(arrays))
    assert list(back) == list(arrays)
    for name, value in arrays.items():
        assert back[name].dtype == value.dtype and back[name].shape == value.shape
        np.testing.assert_array_equal(back[name], value)
    with pytest.raises(ValueError, match="read-only"):  # views of the stored bytes
        back["flags"][0, 0] = False


def _four_students_three_weeks():
    """(ids, students, weeks, inputs, results) of a small usual cohort's first three weeks."""
    ids, frames, cfg = scenario_frames(students=4, attendance=usual_attendance, vle=usual_vle)
    students = pd.Index(ids)
    weeks = np.array(WEEKS, dtype="datetime64[D]")
    inp = build_inputs(students, *frames, cfg, weeks=weeks[:3])
    return ids, students, weeks, inp, run(inp, cfg)


def test_a_snapshot_packed_from_its_parts_reads_back_as_read_only_views():
    from lib.engagement.snapshot import dump_parts
    from lib.store.packed import pack_parts, unpack_view

    ids, students, weeks, inp, res = _four_students_three_weeks()
    snap = Snapshot(students, inp.sources, weeks[2], res.state, inp.carry())
    assert b"".join(bytes(memoryview(p).cast("B")) for p in dump_parts(snap)) == dumps(snap)
    back = loads(unpack_view(pack_parts(dump_parts(snap))))
    assert back is not None and list(back.student_ids) == list(students)
    for name in back.state.ARRAYS:
        np.testing.assert_array_equal(getattr(back.state, name), getattr(res.state, name))
    first = getattr(back.state, back.state.ARRAYS[0])
    with pytest.raises(ValueError, match="read-only"):  # views of the decompressed buffer
        first.flat[0] = 0


def test_packed_arrays_refuse_objects_and_damage():
    from lib.engagement.snapshot import loads, pack_arrays, unpack_arrays

    with pytest.raises(TypeError, match="object"):
        pack_arrays({"names": np.array(["a", None], dtype=object)})
    blob = pack_arrays({"format": np.array(5), "values": np.arange(1000.0)})
    with pytest.raises(ValueError, match="'values' runs past its end"):
        unpack_arrays(blob[:-8])
    assert loads(blob[:-8]) is None  # a damaged snapshot: the compute passes over every week
    assert loads(b"PK\x03\x04 an .npz of an older format") is None
    assert unpack_arrays(b"PK\x03\x04") is None


def test_kept_enrolments_round_trip_by_position_and_refuse_damage():
    from lib.engagement.snapshot import Enrolled, pack_arrays, unpack_arrays

    ids, students, weeks, inp, res = _four_students_three_weeks()
    frame = pd.DataFrame(
        {
            "student_id": [ids[2], ids[0], ids[2]],
            "module_code": ["MOD2", "MOD1", "MOD1"],
            "academic_year": [2025, 2025, 2024],
        }
    )
    enrolled = Enrolled.of(frame, students, "3:9:12:")
    snap = Snapshot(students, inp.sources, weeks[2], res.state, inp.carry(), enrolled)
    back = loads(dumps(snap))
    assert back is not None and back.enrolled is not None and back.enrolled.key == "3:9:12:"
    again = back.enrolled.frame(back.student_ids)
    assert again["student_id"].astype(str).tolist() == frame["student_id"].tolist()
    assert again["module_code"].astype(str).tolist() == frame["module_code"].tolist()
    assert again["academic_year"].tolist() == [2025, 2025, 2024]
    # an enrolment of a student the engine does not compute: nothing kept (read every time)
    stranger = frame.assign(student_id=["nobody", ids[0], ids[2]])
    assert Enrolled.of(stranger, students, "k") is None
    # positions past the students: the snapshot is damaged, not used
    arrays = unpack_arrays(dumps(snap))
    assert arrays is not None
    arrays = {**arrays, "enrolled_s": np.array([0, 1, 99], np.int32)}
    assert loads(pack_arrays(arrays)) is None
    assert (
        loads(dumps(Snapshot(students, inp.sources, weeks[2], res.state, inp.carry()))).enrolled
        is None
    )
