"""Hostile values (issue #13): dates, numbers and sizes out of range are refused with a clear
file/row/column message on both stores, the store is unchanged, and compute survives bad stored rows."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lib.compute.service import compute
from lib.ingest.limits import MAX_LINE_BYTES
from lib.ingest.pipeline import load_file
from lib.store.models import DailyActivity, Load, QuarantinedRow, Student
from tests.test_ingest_canonical import (
    EVENTS_HEADER,
    STUDENT_ROWS,
    STUDENTS_HEADER,
    snapshot,
    write,
)

FAR = (date.today() + timedelta(days=400)).isoformat()
BAD_EVENTS = [
    ("year 9999", "20240001,vle,9999-12-31,1,,X", "row 2, column 'occurred_at': is outside the store's window"),
    ("year 1", "20240001,vle,0001-01-01,1,,X", "row 2, column 'occurred_at': is outside the store's window"),
    ("2030", "20240001,vle,2030-01-01,1,,X", "row 2, column 'occurred_at': is outside the store's window"),
    ("far ahead", f"20240001,vle,{FAR},1,,X", "row 2, column 'occurred_at': is outside the store's window"),
    ("inf", "20240001,vle,2024-10-01,inf,,X", "row 2, column 'quantity': is not a finite number"),
    ("NaN", "20240001,vle,2024-10-01,NaN,,X", "row 2, column 'quantity': is not a number"),
    ("1e400", "20240001,vle,2024-10-01,1e400,,X", "row 2, column 'quantity': is not a finite number"),
    ("30 digits", "20240001,vle,2024-10-01," + "9" * 30 + ",,X", "row 2, column 'quantity': is above 100000"),
    ("huge minutes", "20240001,vle,2024-10-01,1,1e9,X", "row 2, column 'minutes': is above 100000"),
    ("negative minutes", "20240001,vle,2024-10-01,1,-3,X", "row 2, column 'minutes': is below 0"),
    ("long module", "20240001,vle,2024-10-01,1,," + "M" * 500_000, "row 2, column 'module_code': is longer than 40 characters"),
]  # fmt: skip


@pytest.fixture
def with_students(any_session: Session, tmp_path: Path) -> Session:
    text = "\n".join([STUDENTS_HEADER, *STUDENT_ROWS]) + "\n"
    report = load_file(any_session, "students", write(tmp_path, "students.csv", text))
    assert report.status == "loaded", report.as_text()
    return any_session


@pytest.mark.parametrize("case, row, expected", BAD_EVENTS, ids=[c[0] for c in BAD_EVENTS])
def test_implausible_event_values_are_refused(with_students, tmp_path, case, row, expected):
    before = snapshot(with_students)
    path = write(tmp_path, "hostile.csv", f"{EVENTS_HEADER}\n20240001,vle,2024-10-02,1,,X\n{row}\n")
    report = load_file(with_students, "events", path)
    text = report.as_text().replace("row 3", "row 2")
    assert report.status == "rejected"
    assert "hostile.csv, " + expected in text, text
    assert len(text) < 5_000  # a 5 MB value is never echoed back
    assert snapshot(with_students) == before


HOSTILE_STUDENTS = [
    ("1 MB name", lambda r: r.replace(",Ann,", "," + "A" * 1_000_000 + ","), "column 'given_name': is longer than 100 characters"),
    ("long id", lambda r: r.replace("20240001", "2" * 5_000), "column 'student_id': is longer than 20 characters"),
    ("year 1e400", lambda r: r.replace(",UG,1,FT", ",UG,1e400,FT"), "column 'year_of_study': is not a finite number"),
    ("year 2.5", lambda r: r.replace(",UG,1,FT", ",UG,2.5,FT"), "column 'year_of_study': is not a whole number"),
    ("start 9999", lambda r: r.replace("2024-09-23", "9999-12-31"), "column 'start_date': is outside a plausible start date"),
]  # fmt: skip


@pytest.mark.parametrize(
    "case, change, expected", HOSTILE_STUDENTS, ids=[c[0] for c in HOSTILE_STUDENTS]
)
def test_implausible_student_values_are_refused(any_session, tmp_path, case, change, expected):
    before = snapshot(any_session)
    text = "\n".join([STUDENTS_HEADER, change(STUDENT_ROWS[0]), STUDENT_ROWS[1]]) + "\n"
    report = load_file(any_session, "students", write(tmp_path, "students.csv", text))
    assert report.status == "rejected"
    assert "students.csv, row 2, " + expected in report.as_text(), report.as_text()
    assert len(report.as_text()) < 5_000
    assert snapshot(any_session) == before


@pytest.mark.parametrize("year", ["2026.5", "1999", "2999", "1e400"])
def test_implausible_academic_year_is_refused(with_students, tmp_path, year):
    before = snapshot(with_students)
    path = write(
        tmp_path, "enr.csv", f"student_id,module_code,academic_year\n20240001,COMP1001,{year}\n"
    )
    report = load_file(with_students, "enrolments", path)
    assert report.status == "rejected"
    assert "enr.csv, row 2, column 'academic_year'" in report.as_text(), report.as_text()
    assert snapshot(with_students) == before


def test_single_name_student_loads(any_session, tmp_path):
    row = STUDENT_ROWS[0].replace(",Ann,Lee,", ",Sukarno,,")
    text = "\n".join([STUDENTS_HEADER, row]) + "\n"
    report = load_file(any_session, "students", write(tmp_path, "students.csv", text))
    assert report.status == "loaded", report.as_text()
    student = any_session.get(Student, "20240001")
    assert (student.given_name, student.family_name) == ("Sukarno", "")


def test_a_200_mb_line_fails_fast_with_a_clear_message(with_students, tmp_path):
    path = tmp_path / "one_line.csv"
    with open(path, "wb") as handle:
        handle.write((EVENTS_HEADER + "\n20240001,vle,2024-10-01,1,,").encode())
        block = b"X" * (1 << 24)
        for _ in range(12):  # 200 MB without a newline
            handle.write(block)
    before = snapshot(with_students)
    report = load_file(with_students, "events", path)
    path.unlink()  # 200 MB of temp space back at once
    assert report.status == "rejected"
    assert f"line 2 is longer than {MAX_LINE_BYTES >> 20} MiB" in report.as_text()
    assert snapshot(with_students) == before


def test_calendar_window_bounds_activity(with_students, tmp_path):
    """With a calendar loaded, activity before its first academic year is refused."""
    cal = "kind,start,end,label\nterm,2024-09-23,2024-12-13,Autumn 2024\n"
    assert load_file(with_students, "calendar", write(tmp_path, "cal.csv", cal)).status == "loaded"
    path = write(tmp_path, "old.csv", f"{EVENTS_HEADER}\n20240001,vle,2023-10-01,1,,X\n")
    report = load_file(with_students, "events", path)
    assert report.status == "rejected"
    text = report.as_text()
    assert "old.csv, row 2, column 'occurred_at': is outside the store's window (2024-09-01" in text
    assert "load that year's calendar first" in text


def test_compute_survives_implausible_stored_days(with_students, tmp_path):
    """Rows stored before the checks existed (9999-12-31, 0001-01-01) are left out of compute."""
    path = write(tmp_path, "ok.csv", f"{EVENTS_HEADER}\n20240001,vle,2024-10-01,1,,X\n")
    assert load_file(with_students, "events", path).status == "loaded"
    load_id = with_students.scalar(select(Load.id).order_by(Load.id.desc()).limit(1))
    rows = [
        {"student_id": "20240002", "source": "vle", "day": day, "module_code": "X",
         "quantity": 1.0, "minutes": None, "load_id": load_id}
        for day in (date(9999, 12, 31), date(1, 1, 1))
    ]  # fmt: skip
    with_students.execute(insert(DailyActivity), rows)
    with_students.commit()
    summary = compute(with_students, full=True)
    assert summary.weeks < 200  # weeks of 2024 to today, not 0001..9999


def test_quarantine_of_many_bad_rows_on_each_store(with_students, tmp_path):
    """1,500 negative quantities and 500 bad dates beside 300 good rows: exactly the good ones load."""
    good = [
        f"20240001,vle,2024-10-{d % 28 + 1:02d}T{d // 28 % 24:02d}:{d // 672:02d},1,,X"
        for d in range(300)
    ]
    negative = [
        f"20240002,vle,2024-10-{d % 28 + 1:02d}T{d // 28 % 24:02d}:{d // 672:02d},-1,,X"
        for d in range(1500)
    ]
    dates = [f"20240003,vle,9999-10-{d % 28 + 1:02d},1,,X{d}" for d in range(500)]
    text = EVENTS_HEADER + "\n" + "\n".join(good + negative + dates) + "\n"
    report = load_file(with_students, "events", write(tmp_path, "many.csv", text), quarantine=True)
    assert (report.status, report.rows_loaded, report.rows_rejected) == (
        "loaded_with_quarantine",
        300,
        2000,
    )
    with_students.expire_all()
    kept = with_students.scalars(select(QuarantinedRow.row_number)).all()
    assert len(kept) == 2000 and set(kept) == set(range(302, 2302))
    stored = with_students.scalars(select(DailyActivity.student_id).distinct()).all()
    assert stored == ["20240001"]


def test_extra_fields_are_blamed_on_their_row(with_students, tmp_path):
    text = f"{EVENTS_HEADER}\n20240001,vle,2024-10-01,1,,X\n20240001,vle,2024-10-02,1,,X,extra\n"
    report = load_file(with_students, "events", write(tmp_path, "fields.csv", text))
    assert report.status == "rejected"
    assert "fields.csv, row 3: has 7 fields where the header has 6" in report.as_text()


def test_logstore_text_in_a_number_column_names_row_and_column(with_students, tmp_path):
    users = "id,username,idnumber,email,firstname,lastname\n7,ann,20240001,a@x,Ann,Lee\n"
    assert (
        load_file(with_students, "moodle-users", write(tmp_path, "u.csv", users)).status == "loaded"
    )
    header = (
        "id,eventname,component,action,target,objecttable,objectid,crud,edulevel,contextid,"
        "contextlevel,contextinstanceid,userid,courseid,relateduserid,anonymous,other,"
        "timecreated,origin,ip,realuserid"
    )
    good = "1,\\core\\event\\course_viewed,core,viewed,course,NULL,NULL,r,2,5,50,14,7,14,NULL,0,N;,1727773200,web,1.2.3.4,NULL"
    bad = good.replace(",1727773200,", ",soon" + "x" * 10_000 + ",")
    before = snapshot(with_students)
    path = write(tmp_path, "logstore.csv", "\n".join([header, good, good, bad]) + "\n")
    report = load_file(with_students, "moodle-logstore", path)
    text = report.as_text()
    assert report.status == "rejected"
    assert "logstore.csv, row 4, column 'timecreated': holds 'soonxxx" in text, text
    assert len(text) < 2_000
    assert snapshot(with_students) == before


def test_cli_prints_no_traceback_for_hostile_files(sqlite_url, tmp_path, capsys):
    from lib.cli import main

    students = write(tmp_path, "students.csv", "\n".join([STUDENTS_HEADER, *STUDENT_ROWS]))
    assert main(["ingest", "students", str(students), "--no-compute"]) == 0
    capsys.readouterr()
    bad = write(
        tmp_path, "bad.csv", f"{EVENTS_HEADER}\n20240001,vle,9999-12-31,1e400,,{'M' * 100}\n"
    )
    assert main(["ingest", "events", str(bad), "--no-compute"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (
        "bad.csv, row 2, column 'occurred_at'" in err and "bad.csv, row 2, column 'quantity'" in err
    )


def test_form_dates_obey_the_same_window(any_session):
    from lib.usecases import check_form_dates

    check_form_dates(any_session, date(2024, 10, 1), date(2024, 10, 5))
    for start, end in ((date(1, 1, 1), date(2024, 1, 1)), (date(2024, 1, 1), date(9999, 12, 31))):
        with pytest.raises(ValueError, match="outside the dates the store accepts"):
            check_form_dates(any_session, start, end)


def test_logstore_implausible_times_are_blamed_on_their_rows(with_students, tmp_path):
    users = "id,username,idnumber,email,firstname,lastname\n7,ann,20240001,a@x,Ann,Lee\n"
    assert (
        load_file(with_students, "moodle-users", write(tmp_path, "u.csv", users)).status == "loaded"
    )
    header = (
        "id,eventname,component,action,target,objecttable,objectid,crud,edulevel,contextid,"
        "contextlevel,contextinstanceid,userid,courseid,relateduserid,anonymous,other,"
        "timecreated,origin,ip,realuserid"
    )
    good = "1,\\core\\event\\course_viewed,core,viewed,course,NULL,NULL,r,2,5,50,14,7,14,NULL,0,N;,1727773200,web,1.2.3.4,NULL"
    rows = [good, good.replace("1727773200", "253402300799"), good.replace("1727773200", "0")]
    path = write(tmp_path, "logstore.csv", "\n".join([header, *rows]) + "\n")
    before = snapshot(with_students)
    report = load_file(with_students, "moodle-logstore", path)
    text = report.as_text()
    assert report.status == "rejected"
    assert "logstore.csv, row 3, column 'timecreated': is outside the store's window" in text, text
    assert "logstore.csv, row 4, column 'timecreated'" in text
    assert snapshot(with_students) == before
    report = load_file(with_students, "moodle-logstore", path, quarantine=True)
    assert (report.status, report.rows_loaded, report.rows_rejected) == (
        "loaded_with_quarantine",
        1,
        2,
    )
