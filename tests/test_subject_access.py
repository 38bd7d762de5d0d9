"""Subject access requests: due dates within the statutory month, the open list, fulfilment."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest
from sqlalchemy import select

from lib.access import User
from lib.safe_markdown import escape_markdown
from lib.sar import UnknownStudent, fulfil, log_request, open_requests, statutory_due
from lib.store.models import AccessLogEntry, SubjectAccessRequest
from tests import app_fixtures
from tests.app_fixtures import open_page

seeded = app_fixtures.seeded
WB = User("wb", "wellbeing")


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 1, 31), date(2026, 2, 28)),  # no 31 Feb: the month's last day
        (date(2024, 1, 31), date(2024, 2, 29)),
        (date(2025, 12, 15), date(2026, 1, 15)),
        (date(2026, 3, 10), date(2026, 4, 10)),
    ],
)
def test_statutory_month(received, due):
    assert statutory_due(received) == due


def test_log_open_and_fulfil(seeded):
    today = date(2026, 2, 10)
    late = log_request(seeded, WB, "S003", date(2026, 1, 31), today=today)
    assert late.due_on == date(2026, 2, 14)  # 14 days by default
    with pytest.raises(ValueError, match="statutory limit \\(2026-02-28\\)"):
        log_request(seeded, WB, "S001", date(2026, 1, 31), date(2026, 3, 1), today=today)
    with pytest.raises(ValueError, match="future"):
        log_request(seeded, WB, "S001", date(2026, 2, 11), today=today)
    with pytest.raises(UnknownStudent):
        log_request(seeded, WB, "S999", date(2026, 2, 1), today=today)
    with pytest.raises(PermissionError):
        log_request(seeded, User("visa_team", "visa"), "S001", date(2026, 2, 1), today=today)
    log_request(seeded, WB, "S001", date(2026, 2, 9), date(2026, 2, 12), today=today)
    assert list(open_requests(seeded, WB)["student_id"]) == ["S001", "S003"]  # by due date

    data = fulfil(seeded, WB, "S001", today=today)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "profile.csv" in archive.namelist()
        assert "personal tutor" in archive.read("README.txt").decode()
    done = seeded.scalar(
        select(SubjectAccessRequest).where(SubjectAccessRequest.student_id == "S001")
    )
    assert (done.fulfilled_on, done.fulfilled_by, done.tutor_copy_to) == (today, "wb", "tut_a")
    assert list(open_requests(seeded, WB)["student_id"]) == ["S003"]
    log = seeded.scalar(select(AccessLogEntry).where(AccessLogEntry.action == "sar"))
    assert (log.username, log.student_ids) == ("wb", ["S001"])


def test_page_logs_a_request(seeded):
    at = open_page("wellbeing", "subject_access")
    at.text_input(key="sar_student").input("S002")
    at.button(key="FormSubmitter:sar_log_form-Log request").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Request logged for S002" in at.success[0].value
    assert list(at.dataframe[0].value["student_id"]) == ["S002"]
    at.text_input(key="sar_student").input("S999")
    at.button(key="FormSubmitter:sar_log_form-Log request").click().run()
    assert escape_markdown("no student with id 'S999'") in at.error[0].value
