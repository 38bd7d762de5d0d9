"""A subject access export holds what the loads keep about the student (issue #13): their Moodle
account, their explicit timetable lists and their quarantined bad rows."""

from __future__ import annotations

from sqlalchemy import select

from lib.ingest.pipeline import load_file
from lib.sar import collect
from lib.store.models import QuarantinedRow
from tests.test_ingest_canonical import EVENTS_HEADER, STUDENT_ROWS, STUDENTS_HEADER, write


def test_sar_includes_moodle_account_event_lists_and_quarantined_rows(any_session, tmp_path):
    session = any_session
    students = "\n".join([STUDENTS_HEADER, *STUDENT_ROWS]) + "\n"
    assert (
        load_file(session, "students", write(tmp_path, "students.csv", students)).status == "loaded"
    )
    users = "id,username,idnumber,email,firstname,lastname\n7,ann,20240001,a@x,Ann,Lee\n8,bo,20240002,b@x,Bo,Chan\n"
    assert load_file(session, "moodle-users", write(tmp_path, "u.csv", users)).status == "loaded"
    events = (
        "event_id,event_type,start_at,end_at,module_code,room\n"
        "E1,lecture,2024-10-01T10:00,2024-10-01T11:00,COMP1001,R1\n"
    )
    assert load_file(session, "timetable", write(tmp_path, "ev.csv", events)).status == "loaded"
    lists = "event_id,student_id\nE1,20240001\nE1,20240002\n"
    assert load_file(session, "timetable", write(tmp_path, "se.csv", lists)).status == "loaded"
    bad = f"{EVENTS_HEADER}\n20240001,vle,2024-10-01,-4,,X\n20240002,vle,2024-10-01,1,,X\n"
    report = load_file(session, "events", write(tmp_path, "e.csv", bad), quarantine=True)
    assert report.status == "loaded_with_quarantine"
    kept = session.scalars(select(QuarantinedRow)).all()
    assert [(q.row_number, q.student_id) for q in kept] == [(2, "20240001")]

    tables = collect(session, "20240001")
    assert tables["moodle_users"]["moodle_id"].tolist() == [7]
    assert tables["event_expected"]["event_id"].tolist() == ["E1"]
    assert tables["quarantined_rows"]["row_number"].tolist() == [2]
    assert "below 0" in tables["quarantined_rows"]["problem"].iloc[0]
    other = collect(session, "20240003")
    assert other["moodle_users"].empty and other["quarantined_rows"].empty
