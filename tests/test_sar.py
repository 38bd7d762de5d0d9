"""Subject access export: every record about the student, nobody else's, the request recorded."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from sqlalchemy import Integer, select

from lib.sar import UnknownStudent, write_subject_access_export
from lib.store.models import AccessLogEntry, SubjectAccessRequest
from tests.app_fixtures import seed
from tests.planting import filler


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


# --- the schema walk: every table that references a student is in the zip -------------------------


def _student_tables() -> dict[str, str | None]:
    """Table -> the column linking it to a student-keyed table (None: it has `student_id`), found
    from Base.metadata alone, independently of lib.sar."""
    from lib.store.models import Base

    found: dict[str, str | None] = {
        t.name: None for t in Base.metadata.tables.values() if "student_id" in t.c
    }
    grew = True
    while grew:
        grew = False
        for table in Base.metadata.tables.values():
            for fk in table.foreign_keys:
                if table.name not in found and fk.column.table.name in found:
                    found[table.name] = fk.parent.key
                    grew = True
    return found


def _value(session, column, student_id: str, parents: dict):
    """A value for one column of a planted row: the student, the planted parent's key, an
    existing referenced row, or a filler of the column's type unlikely to clash with seeded rows."""
    from datetime import date

    if column.key == "student_id":
        return student_id
    for fk in column.foreign_keys:
        if fk.column.table.name in parents:
            return parents[fk.column.table.name][fk.column.key]
        return session.scalar(select(fk.column).limit(1))
    return filler(column, "planted", date(2001, 2, 3))


def _insert(session, table, student_id: str, planted: dict, linked: dict) -> dict:
    """Insert one row with every required column filled (a referenced row created when none
    exists); returns the row's values with its primary key."""
    values = {}
    for column in table.columns:
        if (
            column.primary_key
            and column.autoincrement in (True, "auto")
            and isinstance(column.type, Integer)
            and not column.foreign_keys
        ):
            continue
        link = column.key == "student_id" or linked.get(table.name) == column.key
        if column.nullable and not column.primary_key and not link:
            continue
        for fk in column.foreign_keys:
            parent = fk.column.table
            if parent.name not in planted and session.scalar(select(fk.column).limit(1)) is None:
                _insert(session, parent, student_id, planted, linked)
        values[column.key] = _value(session, column, student_id, planted)
    result = session.execute(table.insert().values(**values))
    keys = dict(values)
    if result.inserted_primary_key:
        pk = [c.key for c in table.primary_key]
        keys.update(
            {k: v for k, v in zip(pk, result.inserted_primary_key, strict=False) if v is not None}
        )
    return keys


def _plant_everywhere(session, student_id: str) -> dict[str, dict]:
    """One row about the student in every student-referencing table (parents before children)."""
    from lib.store.models import Base

    linked = _student_tables()
    planted: dict[str, dict] = {}
    for table in Base.metadata.sorted_tables:
        if table.name in linked and table.name != "students":
            planted[table.name] = _insert(session, table, student_id, planted, linked)
    session.commit()
    return planted


def test_every_table_referencing_a_student_is_in_the_export(seeded_any, tmp_path):
    from lib.sar import CSV_NAMES

    planted = _plant_everywhere(seeded_any, "S001")
    out = write_subject_access_export(seeded_any, "S001", tmp_path / "all.zip", requested_by="wb")
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        for table in _student_tables():
            name = f"{CSV_NAMES.get(table, table)}.csv"
            assert name in names, f"{table} references a student but is missing from the export"
            assert _csv(archive, name), f"{table}: the planted row is missing from {name}"
        for table in planted:
            rows = _csv(archive, f"{CSV_NAMES.get(table, table)}.csv")
            if "student_id" in rows[0]:
                assert {r["student_id"] for r in rows} == {"S001"}, table
    assert {"moodle_users", "event_expected_students", "case_entries"} <= set(planted)


def test_quarantined_rows_naming_the_student_are_exported(seeded_any, tmp_path):
    from lib.store.models import Load, QuarantinedRow

    load = seeded_any.scalar(select(Load).limit(1))
    for raw in ("S001,Science,bad-date", "S0010,Science,other student"):
        seeded_any.add(QuarantinedRow(load_id=load.id, row_number=2, problem="bad date", raw=raw))
    seeded_any.commit()
    out = write_subject_access_export(seeded_any, "S001", tmp_path / "q.zip", requested_by="wb")
    with zipfile.ZipFile(out) as archive:
        rows = _csv(archive, "quarantined_rows.csv")
    assert [r["raw"] for r in rows] == ["S001,Science,bad-date"]


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
