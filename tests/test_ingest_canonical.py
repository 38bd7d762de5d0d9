"""Canonical loaders (students, enrolments, calendar, events, submissions, exemptions): good and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lib.export import activity_csv, activity_frame
from lib.ingest.pipeline import load_file, preview_file
from lib.store.models import (
    Base,
    CalendarPeriod,
    DailyActivity,
    Enrolment,
    Exemption,
    Load,
    QuarantinedRow,
    Student,
    Submission,
)

STUDENTS_HEADER = (
    "student_id,given_name,family_name,email,personal_email,phone,course_code,course_name,"
    "school,level,year_of_study,mode,tutor_username,visa_sponsored,residence,status,start_date"
)
STUDENT_ROWS = [
    "20240001,Ann,Lee,ann.lee@uni.example.ac.uk,ann@example.com,07700 900001,G400,Computer Science,"
    "Computer Science,UG,1,FT,t.jones,no,on_campus,enrolled,2024-09-23",
    "20240002,Bo,Chan,bo.chan@uni.example.ac.uk,,,G400,Computer Science,Computer Science,UG,2,PT,"
    "t.jones,yes,off_campus,enrolled,2023-09-25",
    "20240003,Cy,Rao,cy.rao@uni.example.ac.uk,,,N100,Business,Business,PGT,1,FT,b.smith,yes,"
    "off_campus,enrolled,2024-09-23",
]
EVENTS_HEADER = "student_id,source,occurred_at,quantity,minutes,module_code"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def snapshot(session: Session) -> dict[str, int]:
    """Row count of every table: 'the store did not change' means this is equal before and after."""
    session.expire_all()
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


@pytest.fixture
def with_students(any_session: Session, tmp_path: Path) -> Session:
    text = "\n".join([STUDENTS_HEADER, *STUDENT_ROWS]) + "\n"
    report = load_file(any_session, "students", write(tmp_path, "students.csv", text))
    assert report.status == "loaded", report.as_text()
    return any_session


def load(session: Session, source: str, path: Path, **kwargs):
    report = load_file(session, source, path, **kwargs)
    session.expire_all()
    return report


# --- good input ------------------------------------------------------------------------------------


def test_students_load_with_types_and_provenance(with_students: Session):
    session = with_students
    ann = session.get(Student, "20240001")
    assert ann.visa_sponsored is False and ann.residence == "on_campus" and ann.year_of_study == 1
    assert session.get(Student, "20240002").visa_sponsored is True
    load_row = session.get(Load, ann.load_id)
    assert load_row.file_name == "students.csv" and load_row.rows_loaded == 3
    assert len(load_row.content_hash) == 64 and load_row.status == "loaded"


def test_events_are_aggregated_daily_and_exported(with_students: Session, tmp_path: Path):
    text = "\n".join(
        [
            EVENTS_HEADER,
            "20240001,vle,2024-10-01,5,,COMP1001",
            "20240001,vle,2024-10-01T15:30:00,2,,COMP1001",
            "20240001,attendance,2024-10-01 09:00,1,50,COMP1001",
            "20240002,library,2024-10-02,1,30,",
        ]
    )
    report = load(with_students, "events", write(tmp_path, "events.csv", text))
    assert (report.status, report.rows_read, report.rows_loaded, report.students) == (
        "loaded",
        4,
        4,
        2,
    )
    assert activity_csv(with_students) == (
        "student_id,source,date,quantity,minutes\n"
        "20240001,attendance,2024-10-01,1,50\n"
        "20240001,vle,2024-10-01,7,\n"
        "20240002,library,2024-10-02,1,30\n"
    )


def test_second_load_of_same_file_changes_nothing(with_students: Session, tmp_path: Path):
    path = write(tmp_path, "events.csv", EVENTS_HEADER + "\n20240001,vle,2024-10-01,5,,COMP1001\n")
    assert load(with_students, "events", path).status == "loaded"
    before = snapshot(with_students)
    again = load(with_students, "events", path)
    assert again.status == "unchanged" and "already loaded" in again.message
    assert snapshot(with_students) == before


def test_reexport_with_same_keys_replaces_not_adds(with_students: Session, tmp_path: Path):
    first = write(tmp_path, "a.csv", EVENTS_HEADER + "\n20240001,vle,2024-10-01,5,,COMP1001\n")
    second = write(tmp_path, "b.csv", EVENTS_HEADER + "\n20240001,vle,2024-10-01,6,,COMP1001\n")
    load(with_students, "events", first)
    load(with_students, "events", second)
    rows = with_students.scalars(select(DailyActivity)).all()
    assert [(r.quantity, with_students.get(Load, r.load_id).file_name) for r in rows] == [
        (6.0, "b.csv")
    ]


def test_reexported_unchanged_rows_keep_their_load(with_students: Session, tmp_path: Path):
    """A weekly export repeating last week's rows changes only what changed (the engine then
    recomputes from the earliest changed day)."""
    week1 = "20240001,vle,2024-10-01,5,,COMP1001\n20240001,vle,2024-10-02,1,,COMP1001\n"
    first = write(tmp_path, "week1.csv", EVENTS_HEADER + "\n" + week1)
    both = week1.replace("2024-10-02,1", "2024-10-02,2") + "20240001,vle,2024-10-08,4,,COMP1001\n"
    second = write(tmp_path, "week2.csv", EVENTS_HEADER + "\n" + both)
    load(with_students, "events", first)
    load(with_students, "events", second)
    rows = with_students.execute(
        select(DailyActivity.day, DailyActivity.quantity, Load.file_name)
        .join(Load, Load.id == DailyActivity.load_id)
        .order_by(DailyActivity.day)
    ).all()
    assert [(str(d), q, f) for d, q, f in rows] == [
        ("2024-10-01", 5.0, "week1.csv"),  # unchanged: keeps its load
        ("2024-10-02", 2.0, "week2.csv"),  # corrected
        ("2024-10-08", 4.0, "week2.csv"),  # new
    ]


def test_enrolments_calendar_exemptions_submissions(with_students: Session, tmp_path: Path):
    s = with_students
    enrol = "student_id,module_code,academic_year\n20240001,COMP1001,2024\n20240001,COMP1002,2024\n"
    assert load(s, "enrolments", write(tmp_path, "enrolments.csv", enrol)).status == "loaded"
    cal = (
        "kind,start,end,label\nterm,2024-09-23,2024-12-13,Autumn\n"
        "reading_week,2024-11-04,2024-11-08,Reading week\nvacation,2024-12-14,2025-01-05,Christmas\n"
    )
    assert load(s, "calendar", write(tmp_path, "calendar.csv", cal)).status == "loaded"
    ex = "student_id,reason,start,end,note\n20240002,illness,2024-10-07,2024-10-20,GP note\n"
    assert load(s, "exemptions", write(tmp_path, "exemptions.csv", ex)).status == "loaded"
    subs = (
        "student_id,assignment_id,module_code,due_at,submitted_at\n"
        "20240001,A1,COMP1001,2024-10-14T12:00:00,2024-10-14T10:05:00\n"
        "20240002,A1,COMP1001,2024-10-14T12:00:00,2024-10-15T09:00:00\n"
        "20240003,A1,COMP1001,2024-10-14T12:00:00,\n"
    )
    assert load(s, "submissions", write(tmp_path, "subs.csv", subs)).status == "loaded"
    assert s.scalar(select(func.count()).select_from(Enrolment)) == 2
    assert s.scalar(select(func.count()).select_from(CalendarPeriod)) == 3
    assert s.scalars(select(Exemption.reason)).all() == ["illness"]
    status = dict(s.execute(select(Submission.student_id, Submission.status)).all())
    assert status == {"20240001": "on_time", "20240002": "late", "20240003": "missing"}
    # submissions made appear as daily `submission` activity on the day they were made
    sub_days = activity_frame(s).query("source == 'submission'")[["student_id", "date"]]
    assert sub_days.values.tolist() == [["20240001", "2024-10-14"], ["20240002", "2024-10-15"]]


# --- bad input: a clear message and an unchanged store ---------------------------------------------

BAD_EVENTS = [
    ("wrong encoding", "latin1.csv", (EVENTS_HEADER + "\n20240001,vle,2024-10-01,5,,CAFÉ1\n").encode("cp1252"), "is not UTF-8 text"),
    ("missing column", "nominutes.csv", "student_id,source,occurred_at,quantity,module_code\n20240001,vle,2024-10-01,5,X\n", "missing column(s) 'minutes'"),
    ("renamed column", "renamed.csv", "student,source,occurred_at,quantity,minutes,module_code\n20240001,vle,2024-10-01,5,,X\n", "missing column(s) 'student_id'"),
    ("garbage date", "garbage.csv", EVENTS_HEADER + "\n20240001,vle,yesterday,5,,X\n", "row 2, column 'occurred_at': is not a valid ISO date"),
    ("impossible date", "feb30.csv", EVENTS_HEADER + "\n20240001,vle,2024-10-01,5,,X\n20240001,vle,2024-02-30,5,,X\n", "row 3, column 'occurred_at': is not a valid ISO date"),
    ("empty file", "empty.csv", "", "the file is empty"),
    ("header only", "header.csv", EVENTS_HEADER + "\n", "has a header but no data rows"),
    ("truncated last line", "truncated.csv", EVENTS_HEADER + "\n20240001,vle,2024-10-01,5,,X\n20240002,vl", "row 3, column 'occurred_at': is empty"),
    ("duplicate rows", "dups.csv", EVENTS_HEADER + "\n20240001,vle,2024-10-01T10:00,5,,X\n20240001,vle,2024-10-01T10:00,5,,X\n", "row 3, column 'student_id': duplicate row (a repeated export line?): same as row 2"),
    ("unknown student", "unknown.csv", EVENTS_HEADER + "\n20240001,vle,2024-10-01,5,,X\n29999999,vle,2024-10-01,5,,X\n", "row 3, column 'student_id': unknown student id '29999999'"),
    ("negative quantity", "negative.csv", EVENTS_HEADER + "\n20240001,vle,2024-10-01,-5,,X\n", "row 2, column 'quantity': is below 0"),
    ("not a number", "nan.csv", EVENTS_HEADER + "\n20240001,vle,2024-10-01,five,,X\n", "row 2, column 'quantity': is not a number"),
]  # fmt: skip


@pytest.mark.parametrize(
    "case, name, content, expected", BAD_EVENTS, ids=[c[0] for c in BAD_EVENTS]
)
def test_bad_events_file_is_rejected_whole(with_students, tmp_path, case, name, content, expected):
    good = write(tmp_path, "good.csv", EVENTS_HEADER + "\n20240001,vle,2024-09-30,3,,X\n")
    load(with_students, "events", good)
    before = snapshot(with_students)
    report = load(with_students, "events", write(tmp_path, name, content))
    assert report.status == "rejected"
    text = report.as_text()
    assert name in text and expected in text, text
    assert snapshot(with_students) == before


BAD_STUDENTS = [
    ("bad visa flag", STUDENT_ROWS[0].replace(",no,on_campus", ",maybe,on_campus"), "column 'visa_sponsored': must be one of yes, no"),
    ("bad residence", STUDENT_ROWS[0].replace("on_campus", "campus"), "column 'residence': must be one of on_campus, off_campus"),
    ("bad year", STUDENT_ROWS[0].replace(",UG,1,FT", ",UG,one,FT"), "column 'year_of_study': is not a number"),
    ("duplicate student", STUDENT_ROWS[1], "duplicate student id: same as row 2"),
]  # fmt: skip


@pytest.mark.parametrize("case, row, expected", BAD_STUDENTS, ids=[c[0] for c in BAD_STUDENTS])
def test_bad_students_file_is_rejected_whole(with_students, tmp_path, case, row, expected):
    before = snapshot(with_students)
    text = "\n".join([STUDENTS_HEADER, STUDENT_ROWS[1], row]) + "\n"
    report = load(with_students, "students", write(tmp_path, "students2.csv", text))
    assert report.status == "rejected"
    assert expected in report.as_text(), report.as_text()
    assert snapshot(with_students) == before


def test_bad_calendar_and_enrolments(with_students, tmp_path):
    before = snapshot(with_students)
    cal = (
        "kind,start,end,label\nholiday,2024-09-23,2024-12-13,Autumn\nterm,2024-12-13,2024-09-23,x\n"
    )
    report = load(with_students, "calendar", write(tmp_path, "cal.csv", cal))
    text = report.as_text()
    assert "row 2, column 'kind': must be one of term" in text
    assert "row 3, column 'end': is before start" in text
    enrol = "student_id,module_code,academic_year\n20240001,COMP1001,24/25\n"
    report = load(with_students, "enrolments", write(tmp_path, "enr.csv", enrol))
    assert "row 2, column 'academic_year': is not a number" in report.as_text()
    assert snapshot(with_students) == before


def test_quarantine_loads_good_rows_and_keeps_bad_ones(with_students, tmp_path):
    text = EVENTS_HEADER + "\n20240001,vle,2024-10-01,5,,X\n29999999,vle,2024-10-01,5,,X\n"
    report = load(with_students, "events", write(tmp_path, "q.csv", text), quarantine=True)
    assert report.status == "loaded_with_quarantine"
    assert (report.rows_loaded, report.rows_rejected) == (1, 1)
    kept = with_students.scalars(select(QuarantinedRow)).all()
    assert [(q.row_number, q.column) for q in kept] == [(3, "student_id")]
    assert "unknown student id" in kept[0].problem
    assert activity_frame(with_students)["student_id"].tolist() == ["20240001"]


def test_quarantine_never_loads_a_file_that_is_unreadable_as_a_whole(with_students, tmp_path):
    before = snapshot(with_students)
    report = load(with_students, "events", write(tmp_path, "h.csv", "a,b\n1,2\n"), quarantine=True)
    assert report.status == "rejected" and "missing column(s)" in report.message
    assert snapshot(with_students) == before


def test_preview_stores_nothing(with_students, tmp_path):
    before = snapshot(with_students)
    text = EVENTS_HEADER + "\n20240001,vle,2024-10-01,5,,X\n29999999,vle,2024-10-01,5,,X\n"
    report = preview_file(with_students, "events", write(tmp_path, "p.csv", text))
    assert (report.status, report.rows_read, report.rows_rejected) == ("preview", 2, 1)
    assert snapshot(with_students) == before


def test_cr_only_and_bom_files_load(with_students, tmp_path):
    text = EVENTS_HEADER + "\r20240001,vle,2024-10-01,5,,X\r20240002,vle,2024-10-02,1,,X\r"
    path = write(tmp_path, "cr.csv", b"\xef\xbb\xbf" + text.encode())
    report = load(with_students, "events", path)
    assert report.status == "loaded" and report.rows_loaded == 2


def test_cli_ingest_json_and_exit_status(sqlite_url, tmp_path, capsys):
    from lib.cli import main

    students = write(tmp_path, "students.csv", "\n".join([STUDENTS_HEADER, *STUDENT_ROWS]))
    assert main(["ingest", "students", str(students), "--json", "--no-compute"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert '"status": "loaded"' in line and '"rows_loaded": 3' in line and '"students": 3' in line
    bad = write(tmp_path, "bad.csv", EVENTS_HEADER + "\n1,vle,x,1,,\n")
    assert main(["ingest", "events", str(bad), "--json", "--no-compute"]) == 1
    assert '"status": "rejected"' in capsys.readouterr().out
