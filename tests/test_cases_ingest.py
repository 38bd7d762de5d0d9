"""`ingest contacts` (all-or-nothing, row/column messages, idempotent) and the `cases` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lib.cli import main
from lib.ingest.pipeline import load_file
from lib.store.models import Case, CaseEntry
from tests.test_ingest_canonical import snapshot, with_students, write  # noqa: F401

HEADER = (
    "student_id,occurred_at,staff_username,track,step,channel,outcome,note,next_action,next_due"
)
GOOD = [
    "20240001,2025-10-06T10:00,t.jones,welfare,1,uni_email,no_response,Checked in,,",
    "20240001,2025-10-13T09:30,t.jones,welfare,2,teams_message,no_response,,Call,2025-10-20",
    "20240002,2025-10-07,visa.team,visa,1,phone,replied_fine,Attending again,,",
    "20240003,2025-10-08T12:00,t.jones,welfare,3,phone,no_response,,,",
    "20240003,2025-10-15T12:00,wb.one,welfare,4,sms,no_response,,,",
]


def contacts_file(tmp_path: Path, rows: list[str], name: str = "contacts.csv") -> Path:
    return write(tmp_path, name, "\n".join([HEADER, *rows]) + "\n")


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_contacts_open_cases_and_append(with_students, tmp_path):  # noqa: F811
    s = with_students
    report = load_file(s, "contacts", contacts_file(tmp_path, GOOD))
    assert report.status == "loaded", report.as_text()
    assert (count(s, Case), count(s, CaseEntry)) == (3, 5)
    cases = {(c.student_id, c.track): c for c in s.scalars(select(Case))}
    first = cases[("20240001", "welfare")]
    assert (first.ladder_step, first.owner_username, first.state) == (2, "t.jones", "open")
    assert str(first.next_due) == "2025-10-20"
    escalated = cases[("20240003", "welfare")]
    assert (escalated.state, escalated.owner_username) == ("escalated", "wellbeing")
    assert str(escalated.next_due) == "2025-10-22"  # 5 working days after 15 Oct
    visa = cases[("20240002", "visa")]
    assert visa.owner_username == "visa.team"
    entry = s.scalar(select(CaseEntry).where(CaseEntry.case_id == first.id).limit(1))
    assert entry.load_id == report.load_id and entry.staff_username == "t.jones"

    again = load_file(s, "contacts", contacts_file(tmp_path, GOOD))
    assert again.status == "unchanged"
    # a later export repeating the old rows plus one new: only the new one is added, same case
    more = contacts_file(
        tmp_path,
        [*GOOD, "20240001,2025-10-20T09:00,t.jones,welfare,3,phone,replied_fine,,,"],
        "contacts2.csv",
    )
    assert load_file(s, "contacts", more).status == "loaded"
    assert (count(s, Case), count(s, CaseEntry)) == (3, 6)


@pytest.mark.parametrize(
    "row, column, words",
    [
        ("20249999,2025-10-06,t.jones,welfare,1,uni_email,no_response,,,", "student_id", "unknown"),
        ("20240001,2025-13-06,t.jones,welfare,1,uni_email,no_response,,,", "occurred_at", "valid"),
        ("20240001,2099-10-06,t.jones,welfare,1,uni_email,no_response,,,", "occurred_at", "future"),
        ("20240001,2025-10-06,t.jones,pastoral,1,uni_email,no_response,,,", "track", "one of"),
        ("20240001,2025-10-06,t.jones,welfare,7,uni_email,no_response,,,", "step", "1-6"),
        ("20240001,2025-10-06,t.jones,welfare,1,phone,no_response,,,", "channel", "step"),
        ("20240001,2025-10-06,t.jones,welfare,1,pigeon,no_response,,,", "channel", "one of"),
        ("20240001,2025-10-06,t.jones,welfare,1,uni_email,,,,", "outcome", "one of"),
        (
            "20240001,2025-10-06,t.jones,welfare,1,uni_email,no_response,,,2025-10-01",
            "next_due",
            "before",
        ),
        ("20240002,2025-10-06,v.t,visa,5,phone,no_response,,,", "step", "visa"),
        ("20240001,2025-10-06,v.t,visa,1,phone,no_response,,,", "track", "not on a sponsored"),
        ("20240001,2025-10-06,,welfare,1,uni_email,no_response,,,", "staff_username", "empty"),
    ],
)
def test_bad_rows_reject_the_whole_file(with_students, tmp_path, row, column, words):  # noqa: F811
    s = with_students
    before = snapshot(s)
    report = load_file(s, "contacts", contacts_file(tmp_path, [GOOD[0], row]))
    assert report.status == "rejected"
    assert snapshot(s) == before
    problem = report.problems[0]
    assert (problem.row, problem.column) == (3, column)
    assert words in problem.problem
    assert f"contacts.csv, row 3, column '{column}'" in report.as_text()


def test_missing_column_names_it(with_students, tmp_path):  # noqa: F811
    path = write(tmp_path, "c.csv", "student_id,occurred_at\n20240001,2025-10-06\n")
    report = load_file(with_students, "contacts", path)
    assert report.status == "rejected" and "staff_username" in report.message


def test_cli_ingest_contacts_and_cases(with_students, tmp_path, capsys, monkeypatch):  # noqa: F811
    url = with_students.get_bind().url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    path = contacts_file(tmp_path, GOOD)
    assert main(["ingest", "contacts", str(path), "--json"]) == 0
    loaded = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (loaded["rows_loaded"], loaded["status"]) == (5, "loaded")
    assert main(["cases", "--as-of", "2025-10-21", "--format", "json"]) == 0
    rows = {(r["student_id"], r["track"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows[("20240001", "welfare")]["overdue"] == "yes"  # due 2025-10-20
    assert rows[("20240003", "welfare")]["state"] == "escalated"
    assert rows[("20240003", "welfare")]["overdue"] == "no"
    assert main(["cases", "--as-of", "2025-10-21", "--state", "overdue"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == (
        "case_id,student_id,track,owner,state,step,opened_on,last_entry_on,next_action,"
        "next_due,overdue"
    )
    assert len(lines) == 3  # 20240001 welfare (due 20 Oct), 20240002 visa (due 14 Oct)
    # as of before the later contacts: the case was at step 1, the 20240003 case not yet open
    assert main(["cases", "--as-of", "2025-10-07", "--format", "json"]) == 0
    early = {(r["student_id"], r["track"]): r for r in json.loads(capsys.readouterr().out)}
    assert early[("20240001", "welfare")]["step"] == 1
    assert ("20240003", "welfare") not in early
    # the owner on the day: the tutor before the hand-over (15 Oct), the wellbeing queue after
    assert main(["cases", "--as-of", "2025-10-10", "--format", "json"]) == 0
    before = {(r["student_id"], r["track"]): r for r in json.loads(capsys.readouterr().out)}
    assert before[("20240003", "welfare")]["owner"] == "b.smith"
    assert rows[("20240003", "welfare")]["owner"] == "wellbeing"
    # stalled: no entry for 10 working days
    assert main(["cases", "--as-of", "2025-11-04", "--state", "stalled", "--format", "json"]) == 0
    stalled = json.loads(capsys.readouterr().out)
    assert {r["student_id"] for r in stalled} == {"20240001", "20240002", "20240003"}
    # last entries 13, 7 and 15 October: 10 working days later are 27, 21 and 29 October
    assert main(["cases", "--as-of", "2025-10-28", "--state", "stalled", "--format", "json"]) == 0
    assert {r["student_id"] for r in json.loads(capsys.readouterr().out)} == {
        "20240001",
        "20240002",
    }
