"""Subject access export: every record about the student, nobody else's, the request recorded."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from sqlalchemy import select

from lib.sar import UnknownStudent, write_subject_access_export
from lib.store.models import AccessLogEntry, SubjectAccessRequest
from tests.app_fixtures import seed


@pytest.fixture
def seeded_any(any_session):
    seed(any_session)
    any_session.commit()
    return any_session


def _csv(archive: zipfile.ZipFile, name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8"))))


def test_export_holds_only_this_student_and_records_the_request(seeded_any, tmp_path):
    out = write_subject_access_export(
        seeded_any, "S001", tmp_path / "s001.zip", requested_by="admin1"
    )
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        assert {"README.txt", "profile.csv", "weekly_measures.csv", "flags.csv"} <= names
        assert {"exemptions.csv", "cases.csv", "case_entries.csv", "access_log.csv"} <= names
        profile = _csv(archive, "profile.csv")
        assert [row["student_id"] for row in profile] == ["S001"]
        measures = _csv(archive, "weekly_measures.csv")
        assert measures and {row["student_id"] for row in measures} == {"S001"}
        flags = _csv(archive, "flags.csv")
        assert [row["kind"] for row in flags] == ["index_drop"]
        readme = archive.read("README.txt").decode()
        assert "S001" in readme and "holds no grades" in readme
    request = seeded_any.scalars(select(SubjectAccessRequest)).one()
    assert request.student_id == "S001" and request.fulfilled_by == "admin1"
    assert request.tutor_copy_to == "tut_a"
    log = seeded_any.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "sar")).one()
    assert log.student_ids == ["S001"] and log.username == "admin1"


def test_second_export_lists_the_first_in_its_access_log(seeded_any, tmp_path):
    write_subject_access_export(seeded_any, "S001", tmp_path / "a.zip", requested_by="admin1")
    out = write_subject_access_export(seeded_any, "S001", tmp_path / "b.zip", requested_by="admin1")
    with zipfile.ZipFile(out) as archive:
        viewers = _csv(archive, "access_log.csv")
        requests = _csv(archive, "subject_access_requests.csv")
    assert [v["action"] for v in viewers] == ["sar"]
    assert len(requests) == 1


def test_unknown_student_is_refused(seeded_any, tmp_path):
    with pytest.raises(UnknownStudent, match="S999"):
        write_subject_access_export(seeded_any, "S999", tmp_path / "x.zip", requested_by="admin1")
    assert not (tmp_path / "x.zip").exists()


@pytest.mark.parametrize("by", ["anyname", "", "cli"])
def test_the_actor_must_be_a_real_active_user(seeded_any, tmp_path, by):
    with pytest.raises(LookupError, match="not an active staff user"):
        write_subject_access_export(seeded_any, "S001", tmp_path / "x.zip", requested_by=by)
    assert not (tmp_path / "x.zip").exists()
    assert (
        seeded_any.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "sar")).all() == []
    )


def test_a_disabled_user_cannot_be_the_actor(seeded_any, tmp_path, capsys):
    from lib.auth import set_active
    from lib.cli import main

    set_active(seeded_any, "admin1", False)
    seeded_any.commit()
    code = main(["sar", "S001", "--out", str(tmp_path / "y.zip"), "--by", "admin1"])
    assert code == 2
    assert "'admin1' is not an active staff user" in capsys.readouterr().err
    assert not (tmp_path / "y.zip").exists()
