"""Use cases spanning wings: an uploaded file previewed, loaded and its temporary file deleted;
threshold form values parsed; load then recompute."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from lib import usecases
from lib.access import User
from lib.compute.service import load_engine_config
from lib.store.models import Setting, Student

FIX = Path(__file__).parent / "fixtures" / "adapters"
ADMIN = User("admin1", "admin")


def test_upload_is_previewed_then_loaded_and_its_temporary_file_deleted(session):
    data = (FIX / "students.csv").read_bytes()
    preview = usecases.preview_upload(session, ADMIN, "students", "students.csv", data, year=None)
    assert preview.path.read_bytes() == data
    assert preview.report.status != "rejected"
    assert preview.head.splitlines()[1].startswith("student_id")
    assert session.scalar(select(func.count()).select_from(Student)) == 0  # nothing stored yet
    outcome = usecases.load_upload(session, ADMIN, preview, year=None, quarantine=False)
    assert [r.status for r in outcome.reports] == ["loaded"]
    assert session.scalar(select(func.count()).select_from(Student)) > 0
    assert outcome.summary is not None and outcome.summary.mode == "full"
    assert not preview.path.exists() and not preview.path.parent.exists()


def test_a_rejected_upload_is_deleted_too(session):
    preview = usecases.preview_upload(
        session, ADMIN, "students", "bad.csv", b"no,such,columns\n1,2,3\n", year=None
    )
    assert preview.report.status == "rejected"
    outcome = usecases.load_upload(session, ADMIN, preview, year=None, quarantine=False)
    assert outcome.failed and outcome.summary is None
    assert not preview.path.parent.exists()


def test_threshold_form_values_are_parsed_and_bad_json_names_the_setting(session):
    config = load_engine_config(session)
    values = usecases.parse_thresholds(
        config, {"zero_weeks": 3, "detector": "ewma", "index_weights": '{"vle": 2}'}
    )
    assert values == {"zero_weeks": 3, "detector": "ewma", "index_weights": {"vle": 2}}
    with pytest.raises(ValueError, match="min_baseline"):
        usecases.parse_thresholds(config, {"min_baseline": "{vle: 1"})


def test_saving_thresholds_stores_them_and_recomputes(session):
    summary = usecases.save_thresholds(session, ADMIN, {"zero_weeks": 3})
    assert summary.mode == "full"  # a configuration change recomputes everything
    assert session.get(Setting, "engine_config").value == {"zero_weeks": 3}
