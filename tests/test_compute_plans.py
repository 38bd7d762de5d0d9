"""On SQLite a compute after a small load never walks the whole daily activity table: the
changed students and days are found through the (load_id, day) index."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select

from lib.compute.service import compute
from lib.ingest.pipeline import load_files
from lib.store.models import DailyActivity
from tests.query_plans import table_scans


def test_a_correction_long_ago_is_computed_without_reading_every_daily_row(
    sample_session, demo_dir, tmp_path
):
    session = sample_session
    first = session.scalar(select(func.min(DailyActivity.day)))
    ids = pd.read_csv(demo_dir / "students.csv", dtype=str)["student_id"].head(3).tolist()
    path = tmp_path / "correction.csv"
    rows = [f"{sid},vle,{first},7,,\n" for sid in ids]
    path.write_text("student_id,source,occurred_at,quantity,minutes,module_code\n" + "".join(rows))
    (report,) = load_files(session, "events", [path], loaded_by="test")
    assert report.status == "loaded", report.message
    result: dict = {}
    scans = table_scans(
        session, "daily_activity", lambda: result.update(compute(session).as_dict())
    )
    # too far back to resume from a kept state: every week passed over, the 3 students rewritten
    assert result["mode"] == "incremental", result
    assert result["students"] == 3, result
    assert not scans, scans
