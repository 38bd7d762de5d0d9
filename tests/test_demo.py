"""Demo data generator: determinism, believable population, planted truth, canonical round trip."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lib.demo import generate
from lib.demo.population import make_population
from lib.demo.term_calendar import academic_calendar
from lib.export import activity_frame
from lib.ingest.pipeline import load_files
from lib.usecases import CANONICAL_ORDER

KINDS = {"sudden_stop", "gradual_fade", "source_drop", "dip_recovery", "disengaged_from_start"}


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def expected_activity(folder: Path) -> pd.DataFrame:
    """events.csv aggregated per student, source and day, as `export activity` should show it."""
    ev = pd.read_csv(folder / "events.csv", dtype={"student_id": str, "module_code": str})
    ev["date"] = ev["occurred_at"].str.slice(0, 10)
    out = (
        ev.groupby(["student_id", "source", "date"], sort=True)
        .agg(quantity=("quantity", "sum"), minutes=("minutes", lambda s: s.sum(min_count=1)))
        .reset_index()
    )
    out["quantity"] = out["quantity"].astype(float)
    return out


def test_same_seed_same_bytes(tmp_path):
    kwargs = dict(students=80, seed=3, academic_year=2025, until=date(2025, 11, 7))
    generate(out=tmp_path / "a", **kwargs)
    generate(out=tmp_path / "b", **kwargs)
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert len(a) > 20 and a == b
    generate(out=tmp_path / "c", **{**kwargs, "seed": 4})
    assert _digests(tmp_path / "c")["events.csv"] != a["events.csv"]


def test_population_shares():
    pop = make_population(np.random.default_rng(11), 6000, 2026)
    st = pop.students
    share = lambda col, value: float((st[col] == value).mean())  # noqa: E731
    assert 0.17 < share("visa_sponsored", "yes") < 0.23
    assert 0.18 < share("level", "PGT") < 0.26
    assert 0.05 < share("mode", "PT") < 0.16
    assert 0.15 < share("residence", "on_campus") < 0.45
    assert st["student_id"].is_unique and st["email"].is_unique
    assert st["school"].nunique() == 6 and st["course_code"].nunique() > 15
    assert set(st["year_of_study"]) >= {1, 2, 3, 4}
    pt = st["mode"].to_numpy() == "PT"
    assert pop.n_modules_taken[pt].mean() < pop.n_modules_taken[~pt].mean()
    assert st["tutor_username"].isin(set(pop.staff["username"])).all()


def test_calendar_has_vacations_reading_week_and_exams(demo_dir):
    cal = pd.read_csv(demo_dir / "calendar.csv")
    assert {"term", "vacation", "reading_week", "exam", "bank_holiday"} <= set(cal["kind"])
    assert (cal["kind"] == "term").sum() == 3 and (cal["kind"] == "vacation").sum() >= 3
    reading = cal[cal["kind"] == "reading_week"].iloc[0]
    assert pd.Timestamp(reading["start"]).day_name() == "Monday"
    assert "2025-12-25" in set(cal.loc[cal["kind"] == "bank_holiday", "start"])
    assert len(academic_calendar(2026).teaching_mondays) >= 20


def test_ground_truth_lists_every_planted_kind(demo_dir):
    gt = pd.read_csv(demo_dir / "ground_truth.csv", dtype=str, keep_default_na=False)
    assert list(gt.columns) == ["student_id", "kind", "onset", "end"]
    assert KINDS <= set(gt["kind"])
    assert {"systemic_qr_outage", "exemption"} <= set(gt["kind"])
    assert (gt.loc[gt["kind"] == "sudden_stop", "end"] == "").all()
    dips = gt[gt["kind"] == "dip_recovery"]
    assert (dips["end"] > dips["onset"]).all()
    ex = pd.read_csv(demo_dir / "exemptions.csv", dtype=str)
    assert set(ex["student_id"]) <= set(gt.loc[gt["kind"] == "exemption", "student_id"])
    planted = json.loads((demo_dir / "planted.json").read_text())
    outage = planted["systemic"][0]
    scans = pd.read_csv(demo_dir / "qr" / "scans.csv", dtype=str)
    assert outage["event_ids"] and not scans["Event ID"].isin(outage["event_ids"]).any()
    # a sudden stop really stops: almost nothing after onset
    ev = pd.read_csv(demo_dir / "events.csv", dtype=str)
    stop = gt[gt["kind"] == "sudden_stop"].iloc[0]
    mine = ev[ev["student_id"] == stop["student_id"]]
    before = (mine["occurred_at"].str[:10] < stop["onset"]).sum()
    after = (mine["occurred_at"].str[:10] >= stop["onset"]).sum()
    assert before > 10 * max(after, 1) or after <= 3


def test_round_trip_canonical_files_equal_export_activity(demo_dir, any_session):
    for source, name in CANONICAL_ORDER:
        reports = load_files(any_session, source, [demo_dir / name], loaded_by="test")
        assert reports[0].status == "loaded", reports[0].as_text()
    got = activity_frame(any_session)
    want = expected_activity(demo_dir)
    assert len(got) == len(want) > 1000
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True),
        want[got.columns.tolist()].reset_index(drop=True),
        check_dtype=False,
    )
    assert set(got["source"]) == {"attendance", "online", "vle", "submission", "lecture_capture"}


def test_system_exports_have_their_real_shapes(demo_dir):
    teams = sorted((demo_dir / "teams").glob("*.csv"))
    raw = [p.read_bytes() for p in teams]
    utf16 = [b for b in raw if b.startswith(b"\xff\xfe")]
    assert len(utf16) > len(raw) / 2
    texts = [
        b.decode("utf-16") if b.startswith(b"\xff\xfe") else b.decode("utf-8-sig") for b in raw
    ]
    modern = [t for t in texts if t.startswith("1. Summary\r\nMeeting title\t")]
    assert modern and "2. Participants" in modern[0] and "3. In-Meeting Activities" in modern[0]
    assert any(t.lstrip("\ufeff").startswith("1. Zusammenfassung") for t in texts)
    assert any(t.lstrip("\ufeff").startswith("Full Name\tUser Action\tTimestamp") for t in texts)
    assert any(t.startswith("1. Summary\r\nMeeting title;") for t in texts)
    assert any("h " in t and "m " in t and "s\t" in t for t in modern)

    store = (demo_dir / "moodle_logstore" / "logstore_standard_log.csv").read_text()
    head = store.split("\n", 1)[0].split(",")
    assert head[:3] == ["id", "eventname", "component"] and head[-4:] == [
        "timecreated",
        "origin",
        "ip",
        "realuserid",
    ]
    assert ",NULL," in store and '"a:1:{s:7:""forumid"";i:' in store
    frame = pd.read_csv(demo_dir / "moodle_logstore" / "logstore_standard_log.csv")
    assert {0, 1, 2} <= set(frame["edulevel"])
    staff_on_student = frame[(frame["edulevel"] == 1) & frame["relateduserid"].notna()]
    assert len(staff_on_student) > 0

    logs = sorted((demo_dir / "moodle_log").glob("logs_*.csv"))
    data = [p.read_bytes() for p in logs]
    assert any(b"\r" in d and b"\n" not in d for d in data)  # CR-only line endings
    assert any(d.startswith(b"\xef\xbb\xbfTime,User full name,Affected user") for d in data)
    assert any(d.startswith(b"Time,Event context,") for d in data)
    yearless = [d for d in data if d.startswith(b"Time,User full name")]
    assert yearless and b'"' in yearless[0] and b"Submission graded" in b"".join(data)

    users = pd.read_csv(demo_dir / "moodle_users.csv", dtype=str, keep_default_na=False)
    assert list(users.columns) == ["id", "username", "idnumber", "email", "firstname", "lastname"]
    assert (users["idnumber"] == "").sum() > 5

    sheets = [p for p in (demo_dir / "submissions").glob("Grades-*.csv")]
    first = sheets[0].read_text(encoding="utf-8-sig").splitlines()[0]
    assert first.startswith('"Identifier","Full name","ID number","Email address","Status"')
    text = "".join(p.read_text(encoding="utf-8-sig") for p in sheets)
    assert "Submitted for grading - Graded" in text and '"No submission"' in text
    echo = pd.read_csv(demo_dir / "echo360" / "views.csv", nrows=5)
    assert {"Student Email", "Media Name", "Total Views", "Total View Time", "Last Viewed"} <= set(
        echo.columns
    )
    tt = pd.read_csv(demo_dir / "timetable" / "events.csv", nrows=5)
    assert list(tt.columns)[:5] == [
        "EVENT_ID",
        "EVENT_TYPE",
        "EVENT_START",
        "EVENT_END",
        "MOD_INSTANCE_ID",
    ]


@pytest.mark.parametrize("source", ["attendance", "lecture_capture", "submission", "online"])
def test_system_exports_render_the_same_truth(demo_dir, source):
    from tests.test_demo_readers import READERS

    want = expected_activity(demo_dir)
    want = want[want["source"] == source].drop(columns="source").reset_index(drop=True)
    got = READERS[source](demo_dir).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want[got.columns.tolist()], check_dtype=False)


def test_moodle_exports_render_the_same_vle_truth(demo_dir):
    from tests.test_demo_readers import logstore_vle

    planted = json.loads((demo_dir / "planted.json").read_text())
    covers = planted["system_exports"]["moodle_logstore"]["covers"]
    want = expected_activity(demo_dir)
    want = want[(want["source"] == "vle") & (want["date"] >= covers["from"])]
    assert covers["modules"] == "all"
    got = logstore_vle(demo_dir)
    assert len(want) > 100
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True),
        want[got.columns.tolist()].reset_index(drop=True),
        check_dtype=False,
    )


def test_moodle_log_downloads_render_the_same_vle_truth(demo_dir):
    from tests.test_demo_readers import log_download_vle

    planted = json.loads((demo_dir / "planted.json").read_text())
    entries = planted["system_exports"]["moodle_log"]["files"]
    assert len(entries) == 3
    ev = pd.read_csv(demo_dir / "events.csv", dtype={"student_id": str})
    for entry in entries:
        mine = ev[(ev["source"] == "vle") & (ev["module_code"] == entry["module"])]
        mine = mine.assign(date=mine["occurred_at"].str.slice(0, 10))
        mine = mine[mine["date"] >= entry["covers"]["from"]]
        want = mine.groupby(["student_id", "date"], sort=True)["quantity"].sum().reset_index()
        got = log_download_vle(demo_dir, entry, planted["academic_year"])
        assert len(got) > 20
        pd.testing.assert_frame_equal(
            got[["student_id", "date", "quantity"]].reset_index(drop=True),
            want.reset_index(drop=True),
            check_dtype=False,
        )
