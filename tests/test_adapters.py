"""System-format adapters on real-shape fixtures: what each stores, and what it does with awkward files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lib.export import activity_frame
from lib.ingest.pipeline import load_file
from lib.store.models import Attendance, Submission, TimetableEvent

FIX = Path(__file__).parent / "fixtures" / "adapters"
AMIRA, BEN, CHEN, DANA = "26000001", "26000002", "26000003", "26000004"


def load(session: Session, source: str, path: Path, **kwargs):
    report = load_file(session, source, path, **kwargs)
    session.expire_all()
    return report


def ok(session: Session, source: str, path: Path, **kwargs):
    report = load(session, source, path, **kwargs)
    assert report.status == "loaded", report.as_text()
    return report


@pytest.fixture
def base(any_session: Session) -> Session:
    """Students, enrolments, the timetable with its tutorial list, and the Moodle user export."""
    ok(any_session, "students", FIX / "students.csv")
    ok(any_session, "enrolments", FIX / "enrolments.csv")
    ok(any_session, "timetable", FIX / "timetable" / "events.csv")
    ok(any_session, "timetable", FIX / "timetable" / "student_event.csv")
    ok(any_session, "moodle-users", FIX / "moodle_users.csv")
    return any_session


def activity(session: Session, source: str) -> dict[tuple[str, str], tuple[float, float | None]]:
    frame = activity_frame(session)
    frame = frame[frame["source"] == source]
    return {
        (r.student_id, r.date): (r.quantity, None if pd.isna(r.minutes) else r.minutes)
        for r in frame.itertuples()
    }


def snapshot(session: Session) -> dict[str, int]:
    from lib.store.models import Base

    session.expire_all()
    return {
        t.name: session.execute(text(f'SELECT COUNT(*) FROM "{t.name}"')).scalar_one()
        for t in Base.metadata.sorted_tables
    }


# --- timetable -------------------------------------------------------------------------------------


def test_timetable_events_and_explicit_lists(base: Session):
    ev1 = base.get(TimetableEvent, "EV1")
    assert ev1.module_code == "COMP1001" and ev1.event_type == "lecture" and not ev1.online
    assert str(ev1.start_at) == "2024-12-16 10:00:00"
    assert base.get(TimetableEvent, "EV2").online is True
    assert base.get(TimetableEvent, "EV3").explicit_list is True
    assert base.get(TimetableEvent, "EV1").explicit_list is False


# --- QR --------------------------------------------------------------------------------------------


def test_qr_scans_matched_collapsed_and_unexpected_kept(base: Session):
    report = ok(base, "qr", FIX / "qr" / "scans.csv")
    rows = {
        (a.student_id, a.event_id): a.expected
        for a in base.scalars(select(Attendance).where(Attendance.source == "attendance"))
    }
    assert rows == {
        (AMIRA, "EV1"): True,
        (BEN, "EV1"): True,
        (DANA, "EV1"): False,  # not enrolled on COMP1001: kept and reported
        (AMIRA, "EV3"): True,
        (CHEN, "EV3"): False,  # not on the tutorial group's list
    }
    notes = " ".join(report.notes)
    assert "1 repeated scan" in notes and "2 scan(s) by students not expected" in notes
    assert "1 scan(s) outside their event's window" in notes and "row 6" in notes
    assert activity(base, "attendance") == {
        (AMIRA, "2024-12-16"): (1.0, None),
        (AMIRA, "2024-12-17"): (1.0, None),
        (BEN, "2024-12-16"): (1.0, None),
    }


def test_qr_by_module_and_room(base: Session):
    ok(base, "qr", FIX / "qr" / "scans_by_room.csv")
    rows = {(a.student_id, a.event_id, a.expected) for a in base.scalars(select(Attendance))}
    assert rows == {(CHEN, "EV1", True), (CHEN, "EV3", False)}


# --- Moodle logs -----------------------------------------------------------------------------------

LOG_TRUTH = {
    (AMIRA, "2024-12-20"): (1.0, None),
    (AMIRA, "2025-01-13"): (1.0, None),
    (BEN, "2024-12-19"): (1.0, None),
}


@pytest.mark.parametrize(
    "name",
    [
        "logs_COMP1001-2425_yearless.csv",  # '13 January, 09:44' across New Year, LF
        "logs_COMP1001-2425_cr_only.csv",  # CR-only, BOM, reordered columns, 12-hour clock
        "logs_COMP1001-2425_de.csv",  # German headers, ';', '13.01.25, 09:44'
    ],
)
def test_moodle_log_variants_count_student_learning_events(base: Session, name: str):
    report = ok(base, "moodle-log", FIX / "moodle_log" / name, year=2024)
    assert activity(base, "vle") == LOG_TRUTH
    modules = {m for (m,) in base.execute(text("SELECT DISTINCT module_code FROM daily_activity"))}
    assert modules == {"COMP1001"}
    if "_de" not in name:
        assert any("staff or other non-student" in n for n in report.notes)


def test_moodle_log_yearless_needs_year(base: Session):
    before = snapshot(base)
    report = load(base, "moodle-log", FIX / "moodle_log" / "logs_COMP1001-2425_yearless.csv")
    assert report.status == "rejected"
    assert "no year" in report.message and "--year" in report.message
    assert snapshot(base) == before


def test_moodle_log_needs_user_mapping(any_session: Session):
    ok(any_session, "students", FIX / "students.csv")
    before = snapshot(any_session)
    path = FIX / "moodle_log" / "logs_COMP1001-2425_cr_only.csv"
    report = load(any_session, "moodle-log", path)
    assert report.status == "rejected" and "moodle-users" in report.message
    assert snapshot(any_session) == before


# --- logstore --------------------------------------------------------------------------------------


def test_logstore_counts_participating_student_events_only(base: Session):
    report = ok(base, "moodle-logstore", FIX / "moodle_logstore" / "logstore_standard_log.csv")
    assert activity(base, "vle") == {
        (AMIRA, "2024-12-20"): (2.0, None),
        (BEN, "2024-12-19"): (1.0, None),  # the post; log-in and 'logged in as' not counted
        (CHEN, "2024-12-31"): (1.0, None),
        (CHEN, "2025-06-02"): (2.0, None),  # 23:30 UTC in summer time is the next London day
    }
    modules = {m for (m,) in base.execute(text("SELECT DISTINCT module_code FROM daily_activity"))}
    assert modules == {"COMP1001"}  # from courses.csv beside the export
    assert report.rows_read == 11
    notes = report.notes[0]
    assert "6 participating student event(s) counted of 11" in notes
    assert "1 done to another user" not in notes  # grading is edulevel 1: not participating
    assert "1 logged in as" in notes and "1 anonymous" in notes and "1 not a student" in notes


def test_logstore_bad_numbers_and_missing_columns_change_nothing(base: Session, tmp_path: Path):
    source = (FIX / "moodle_logstore" / "logstore_standard_log.csv").read_text()
    bad = tmp_path / "logstore_standard_log.csv"
    bad.write_text(source.replace(",1734692400,", ",yesterday,"))
    before = snapshot(base)
    report = load(base, "moodle-logstore", bad)
    assert report.status == "rejected"
    assert "timecreated" in report.message and "yesterday" in report.message
    cut = tmp_path / "cut.csv"
    cut.write_text(source.replace("timecreated", "created_at"))
    report = load(base, "moodle-logstore", cut)
    assert report.status == "rejected" and "formats tried" in report.message
    assert "timecreated" in report.message
    assert snapshot(base) == before


# --- submissions -----------------------------------------------------------------------------------


def test_grading_worksheet_statuses_and_no_grades_stored(base: Session):
    path = FIX / "submissions" / "Grades-COMP1001-Coursework 1-502.csv"
    report = ok(base, "submissions", path)
    rows = {s.student_id: s for s in base.scalars(select(Submission))}
    assert {k: v.status for k, v in rows.items()} == {
        AMIRA: "on_time",
        BEN: "late",
        CHEN: "missing",
    }
    assert str(rows[AMIRA].due_at) == "2024-10-14 12:00:00"
    assert str(rows[AMIRA].submitted_at) == "2024-10-14 10:05:00"
    assert rows[CHEN].submitted_at is None
    assert {r.assignment_id for r in rows.values()} == {"AS1"}
    assert activity(base, "submission") == {
        (AMIRA, "2024-10-14"): (1.0, None),
        (BEN, "2024-10-15"): (1.0, None),
    }
    assert "grades and feedback dropped" in report.notes[0]
    dump = " ".join(
        str(v)
        for table in ("submissions", "loads", "quarantined_rows", "daily_activity")
        for row in base.execute(text(f'SELECT * FROM "{table}"'))
        for v in row
    )
    assert "71.00" not in dump and "recursion" not in dump and "No work received" not in dump


def test_worksheet_without_due_date_is_rejected(base: Session, tmp_path: Path):
    lonely = tmp_path / "Grades-COMP1001-Coursework 1-502.csv"
    shutil.copy(FIX / "submissions" / lonely.name, lonely)
    before = snapshot(base)
    report = load(base, "submissions", lonely)
    assert report.status == "rejected" and "due date is unknown" in report.message
    assert "assignments.csv" in report.message
    assert snapshot(base) == before


def test_worksheet_bad_submission_time_rejects_whole_file(base: Session, tmp_path: Path):
    shutil.copy(FIX / "submissions" / "assignments.csv", tmp_path / "assignments.csv")
    name = "Grades-COMP1001-Coursework 1-502.csv"
    data = (FIX / "submissions" / name).read_bytes()
    (tmp_path / name).write_bytes(data.replace(b"Tuesday, 15 October 2024", b"sometime soon"))
    before = snapshot(base)
    report = load(base, "submissions", tmp_path / name)
    assert report.status == "rejected"
    assert any(p.row == 3 and p.column == "submitted" for p in report.problems)
    assert snapshot(base) == before


# --- Teams -----------------------------------------------------------------------------------------


def test_teams_variants_match_online_events_with_minutes(base: Session):
    reports = {
        p.name: ok(base, "teams", p) for p in sorted((FIX / "teams").glob("*.csv"))
    }  # UTF-16 tab, ';' lower case without sections, German, legacy Joined/Left, upper case ','
    rows = {
        (a.event_id, a.student_id): (a.minutes, a.expected)
        for a in base.scalars(select(Attendance).where(Attendance.source == "online"))
    }
    assert rows == {
        ("EV2", AMIRA): (55.0, True),  # 55m 29s
        ("EV2", BEN): (20.0, True),  # two join/leave rows: 20m 10s + 10s
        ("EV2", DANA): (10.0, False),  # not on the module: kept, not counted as activity
        ("EV5", CHEN): (46.0, True),  # 45m 30s rounds half up
        ("EV6", AMIRA): (40.0, True),  # '40 Min. 5 Sek.'
        ("EV7", BEN): (40.0, True),  # legacy: 30 min + 10 min
        ("EV7", CHEN): (0.0, True),  # legacy: 10 s
        ("EV8", AMIRA): (58.0, True),
    }
    assert activity(base, "online") == {
        (AMIRA, "2025-01-13"): (1.0, 55.0),
        (BEN, "2025-01-13"): (1.0, 20.0),
        (CHEN, "2025-01-20"): (1.0, 46.0),
        (AMIRA, "2025-01-27"): (1.0, 40.0),
        (BEN, "2025-02-03"): (1.0, 40.0),
        (CHEN, "2025-02-03"): (1.0, 0.0),
        (AMIRA, "2025-02-10"): (1.0, 58.0),
    }
    first = reports["COMP1001 Lecture - Programming - Attendance report 1-13-25.csv"]
    assert "matched to timetabled event EV2" in first.notes[0]
    assert any("External Guest" in n for n in first.notes)


def test_teams_report_without_timetabled_event_is_stored_as_online_activity(
    base: Session, tmp_path: Path
):
    source = FIX / "teams" / "COMP1001 Lecture - Programming - Attendance report 1-13-25.csv"
    moved = tmp_path / "moved.csv"
    moved.write_bytes(source.read_text(encoding="utf-16").replace("1/13/25", "3/13/25").encode(
        "utf-16"))  # fmt: skip
    report = ok(base, "teams", moved)
    assert any("no timetabled online event" in n for n in report.notes)
    assert activity(base, "online")[(AMIRA, "2025-03-13")] == (1.0, 55.0)


# --- Echo360 ---------------------------------------------------------------------------------------


def test_echo360_views_and_minutes_per_day(base: Session):
    ok(base, "echo360", FIX / "echo360" / "views.csv")
    assert activity(base, "lecture_capture") == {
        (AMIRA, "2024-12-16"): (3.0, 38.0),  # 27:46 -> 28 and 10:20 -> 10
        (BEN, "2024-12-17"): (1.0, 62.0),  # 1:02:29
    }


def test_echo360_unknown_email_and_bad_time_reject_file(base: Session, tmp_path: Path):
    data = (FIX / "echo360" / "views.csv").read_text()
    bad = tmp_path / "views.csv"
    bad.write_text(data.replace("ben.ortiz@", "b.ortiz@").replace("00:27:46", "about half"))
    before = snapshot(base)
    report = load(base, "echo360", bad)
    assert report.status == "rejected"
    problems = {(p.row, p.column) for p in report.problems}
    assert problems == {(2, "view_time"), (4, "email")}
    assert snapshot(base) == before
    quarantined = load(base, "echo360", bad, quarantine=True)
    assert quarantined.status == "loaded_with_quarantine" and quarantined.rows_rejected == 2
    assert activity(base, "lecture_capture") == {(AMIRA, "2024-12-16"): (1.0, 10.0)}


# --- unrecognised files, bad rows, unchanged store -------------------------------------------------

GARBAGE = "Report generated 2025-01-01\nnothing,to,see\n"


@pytest.mark.parametrize(
    "source",
    [
        "timetable",
        "qr",
        "moodle-users",
        "moodle-log",
        "moodle-logstore",
        "submissions",
        "teams",
        "echo360",
    ],
)
def test_unrecognised_file_names_formats_tried_and_stores_nothing(
    base: Session, tmp_path: Path, source: str
):
    path = tmp_path / "mystery.csv"
    path.write_bytes(GARBAGE.encode("utf-16"))
    before = snapshot(base)
    report = load(base, source, path)
    assert report.status == "rejected"
    assert "formats tried" in report.message
    assert "Report generated 2025-01-01" in report.message and "utf-16" in report.message
    assert snapshot(base) == before


@pytest.mark.parametrize(
    ("source", "name", "old", "new", "column"),
    [
        ("timetable", "timetable/events.csv", "2024-12-16T11:00:00", "2024-12-16T09:00:00", "end_at"),
        ("qr", "qr/scans.csv", ",EV3,", ",EV99,", "event_id"),
        ("qr", "qr/scans.csv", "17/12/2024 09:01:00", "31/02/2024 09:01", "scan_time"),
        ("moodle-users", "moodle_users.csv", "103,chen.wei", "10x,chen.wei", "id"),
        ("moodle-log", "moodle_log/logs_COMP1001-2425_yearless.csv", '"19 December, 11:00"',
         '"19 Decembre, 11:00"', "time"),
    ],
)  # fmt: skip
def test_bad_rows_reject_file_with_row_and_column(
    base: Session, tmp_path: Path, source: str, name: str, old: str, new: str, column: str
):
    data = (FIX / name).read_text(encoding="utf-8-sig")
    assert old in data
    path = tmp_path / Path(name).name
    path.write_text(data.replace(old, new, 1))
    before = snapshot(base)
    report = load(base, source, path, year=2024)
    assert report.status == "rejected", report.as_text()
    assert report.problems and all(p.row >= 2 for p in report.problems)
    assert column in {p.column for p in report.problems}
    assert "bad row" in report.message
    assert snapshot(base) == before


def test_reloading_the_same_exports_changes_nothing(base: Session):
    for source, path in [
        ("qr", FIX / "qr" / "scans.csv"),
        ("teams", FIX / "teams" / "COMP1001 Lecture - Programming - Attendance report 1-13-25.csv"),
        ("echo360", FIX / "echo360" / "views.csv"),
    ]:
        ok(base, source, path)
        before = snapshot(base)
        assert load(base, source, path).status == "unchanged"
        assert snapshot(base) == before


def test_timetable_without_enrolments_strips_instance_suffix(any_session: Session):
    ok(any_session, "timetable", FIX / "timetable" / "events.csv")
    codes = set(any_session.scalars(select(TimetableEvent.module_code)))
    assert codes == {"COMP1001", "MATH1002"}


def test_student_event_list_before_its_events_is_rejected(any_session: Session):
    ok(any_session, "students", FIX / "students.csv")
    before = snapshot(any_session)
    report = load(any_session, "timetable", FIX / "timetable" / "student_event.csv")
    assert report.status == "rejected"
    assert {(p.row, p.column) for p in report.problems} == {(2, "event_id"), (3, "event_id")}
    assert "load the timetable events file first" in report.problems[0].problem
    assert snapshot(any_session) == before


def test_teams_meeting_summary_variant_with_unsectioned_table(base: Session, tmp_path: Path):
    """The 2021 download: 'Meeting Summary' block, then one table with Join/Leave Time columns."""
    path = tmp_path / "meetingAttendanceReport(COMP1001 Lecture - Programming).csv"
    lines = [
        "Meeting Summary",
        "Total Number of Participants\t2",
        "Meeting Title\tCOMP1001 Lecture - Programming",
        "Meeting Start Time\t1/20/2025, 1:58:00 PM",
        "Meeting End Time\t1/20/2025, 3:00:00 PM",
        "",
        "Full Name\tJoin Time\tLeave Time\tDuration\tEmail\tRole\tParticipant ID (UPN)",
        "Tom Lecturer\t1/20/2025, 1:58:00 PM\t1/20/2025, 3:00:00 PM\t1h 2m\tt.lecturer@uni.example.ac.uk"
        "\tOrganizer\tt.lecturer@uni.example.ac.uk",
        "Ben Ortiz\t1/20/2025, 2:00:00 PM\t1/20/2025, 2:30:00 PM\t30m\tben.ortiz@uni.example.ac.uk"
        "\tAttendee\tben.ortiz@uni.example.ac.uk",
    ]
    path.write_bytes("\r\n".join(lines).encode("utf-16"))
    ok(base, "teams", path)
    rows = {(a.event_id, a.student_id, a.minutes) for a in base.scalars(select(Attendance))}
    assert rows == {("EV5", BEN, 30.0)}


def test_logstore_null_time_rejects_file_or_is_quarantined(base: Session, tmp_path: Path):
    source = (FIX / "moodle_logstore" / "logstore_standard_log.csv").read_text()
    path = tmp_path / "logstore_standard_log.csv"
    path.write_text(source.replace(",1734696000,", ",NULL,"))  # the 2nd data row (line 3)
    shutil.copy(FIX / "moodle_logstore" / "courses.csv", tmp_path / "courses.csv")
    before = snapshot(base)
    report = load(base, "moodle-logstore", path)
    assert report.status == "rejected"
    assert [(p.row, p.column) for p in report.problems] == [(3, "timecreated")]
    assert snapshot(base) == before
    report = load(base, "moodle-logstore", path, quarantine=True)
    assert report.status == "loaded_with_quarantine" and report.rows_rejected == 1
    assert activity(base, "vle")[(AMIRA, "2024-12-20")] == (1.0, None)


def test_teams_unreadable_join_time_rejects_report(base: Session, tmp_path: Path):
    source = FIX / "teams" / "COMP1001 Lecture - Programming - Attendance report 1-13-25.csv"
    text_ = source.read_text(encoding="utf-16").replace("1/13/25, 1:59:40 PM", "soon", 1)
    path = tmp_path / source.name
    path.write_bytes(text_.encode("utf-16"))
    before = snapshot(base)
    report = load(base, "teams", path)
    assert report.status == "rejected"
    assert "Amira Khan" in report.problems[0].problem and "soon" in report.problems[0].problem
    assert snapshot(base) == before


def test_logstore_courses_sharing_a_module_code_are_summed(any_session: Session, tmp_path: Path):
    """Two Moodle courses (this year's and a merged old one) of one module; site rows have none."""
    for source, name in [("students", "students.csv"), ("moodle-users", "moodle_users.csv")]:
        ok(any_session, source, FIX / name)
    header = (FIX / "moodle_logstore" / "logstore_standard_log.csv").read_text().split("\n")[0]
    rows = [
        "1,\\core\\event\\course_viewed,core,viewed,course,NULL,NULL,r,2,1,50,12,101,12,NULL,0,N;,"
        "1734692400,web,10.1.2.3,NULL",
        "2,\\core\\event\\course_viewed,core,viewed,course,NULL,NULL,r,2,1,50,13,101,13,NULL,0,N;,"
        "1734692500,web,10.1.2.3,NULL",
        "3,\\core\\event\\dashboard_viewed,core,viewed,dashboard,NULL,NULL,r,2,1,10,0,101,1,NULL,0,"
        "N;,1734692600,web,10.1.2.3,NULL",
        "4,\\core\\event\\dashboard_viewed,core,viewed,dashboard,NULL,NULL,r,2,1,10,0,101,0,NULL,0,"
        "N;,1734692700,web,10.1.2.3,NULL",
    ]
    (tmp_path / "logstore_standard_log.csv").write_text("\n".join([header, *rows]) + "\n")
    (tmp_path / "courses.csv").write_text(
        "id,shortname\n12,COMP1001-2425\n13,COMP1001-2324 (merged)\n"
    )
    ok(any_session, "moodle-logstore", tmp_path / "logstore_standard_log.csv")
    stored = {
        (m, q)
        for m, q in any_session.execute(text("SELECT module_code, quantity FROM daily_activity"))
    }
    assert stored == {("COMP1001", 2.0), ("", 2.0)}


def test_worksheet_due_date_given_for_the_file(base: Session, tmp_path: Path):
    name = "Grades-COMP1001-Coursework 1-502.csv"
    shutil.copy(FIX / "submissions" / name, tmp_path / name)
    facts = {"due_at": "2024-10-15 09:30", "assignment_id": "CW1-resit"}
    ok(base, "submissions", tmp_path / name, extra=facts)
    rows = {s.student_id: (s.assignment_id, s.module_code, s.status) for s in base.scalars(
        select(Submission))}  # fmt: skip
    assert rows == {
        AMIRA: ("CW1-resit", "COMP1001", "on_time"),
        BEN: ("CW1-resit", "COMP1001", "on_time"),  # 09:00 before the 09:30 given
        CHEN: ("CW1-resit", "COMP1001", "missing"),
    }


def test_moodle_log_identity_column_resolves_same_full_names(base: Session, tmp_path: Path):
    """Two accounts named Amira Khan: the Email address identity column tells them apart."""
    users = (
        FIX / "moodle_users.csv"
    ).read_text() + "105,amira.k2,,a.khan@uni.example.ac.uk,Amira,Khan\n"
    (tmp_path / "users.csv").write_text(users)
    ok(base, "moodle-users", tmp_path / "users.csv")
    header = "Time,User full name,Email address,Affected user,Event context,Component,Event name,"
    log = [
        header + "Description,Origin,IP address",
        '"13/01/25, 09:44",Amira Khan,amira.khan@uni.example.ac.uk,-,Course: COMP1001,System,'
        "Course viewed,Viewed the course.,web,10.1.2.3",
        '"13/01/25, 09:45",Amira Khan,a.khan@uni.example.ac.uk,-,Course: COMP1001,System,'
        "Course viewed,Viewed the course.,web,10.1.2.9",
    ]
    path = tmp_path / "logs_COMP1001-2425.csv"
    path.write_text("\n".join(log) + "\n")
    ok(base, "moodle-log", path)
    assert activity(base, "vle") == {(AMIRA, "2025-01-13"): (1.0, None)}
    no_identity = tmp_path / "logs_COMP1001-2425_names.csv"
    no_identity.write_text(
        "\n".join(line.replace(",amira.khan@uni.example.ac.uk", "").replace(
            ",a.khan@uni.example.ac.uk", "").replace(",Email address", "") for line in log) + "\n"
    )  # fmt: skip
    report = load(base, "moodle-log", no_identity)
    assert report.status == "rejected"
    assert "more than one Moodle user by full name" in report.problems[0].problem


def test_logstore_quoted_value_spanning_lines(base: Session, tmp_path: Path):
    source = (FIX / "moodle_logstore" / "logstore_standard_log.csv").read_text()
    assert '""Hi, all ""x""""' in source
    path = tmp_path / "logstore_standard_log.csv"
    path.write_text(source.replace('""Hi, all ""x""""', '""Hi,\nall""'))
    shutil.copy(FIX / "moodle_logstore" / "courses.csv", tmp_path / "courses.csv")
    report = ok(base, "moodle-logstore", path)
    assert report.rows_read == 11
    assert activity(base, "vle")[(BEN, "2024-12-19")] == (1.0, None)


def test_cli_due_date_for_a_worksheet(sqlite_url: str, tmp_path: Path, capsys):
    """`ingest submissions FILE --due ... --module ...`: a worksheet without assignments.csv."""
    import json

    from lib.cli import main

    for source, path in (
        ("students", FIX / "students.csv"),
        ("enrolments", FIX / "enrolments.csv"),
    ):
        assert main(["ingest", source, str(path), "--json", "--no-compute"]) == 0
    name = "Grades-COMP1001-Coursework 1-502.csv"
    shutil.copy(FIX / "submissions" / name, tmp_path / name)
    worksheet = str(tmp_path / name)
    assert main(["ingest", "submissions", worksheet, "--json", "--no-compute"]) == 1  # no due date
    capsys.readouterr()
    args = ["ingest", "submissions", worksheet, "--due", "2024-10-15 09:30", "--module", "COMP1001"]
    assert main([*args, "--json", "--no-compute"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["status"] == "loaded" and report["rows_loaded"] == 3
    from lib.store.db import session_scope

    with session_scope() as session:
        statuses = sorted(s.status for s in session.scalars(select(Submission)))
    assert statuses == ["missing", "on_time", "on_time"]
