"""demo-data system exports load through every adapter and the stored activity equals events.csv."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.export import activity_frame
from lib.ingest.pipeline import load_file
from lib.store.models import Attendance

KEYS = ["student_id", "date"]
TEAMS_UNTIL = "2025-10-12"  # Teams reports of the first weeks only: every variant, fewer files


def _variant(path: Path) -> str:
    data = path.read_bytes()
    text = data.decode("utf-16") if data[:2] == b"\xff\xfe" else data.decode("utf-8-sig")
    if text.startswith("Full Name"):
        return "legacy"
    if "Zusammenfassung" in text:
        return "utf16_de"
    if data[:2] == b"\xff\xfe":
        return "utf16_tab"
    return "utf8_semicolon" if ";" in text.split("\n")[1] else "utf8_comma"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """40 students, 2025/26 up to the first coursework deadlines, with every system export."""
    from lib.demo import generate

    out = tmp_path_factory.mktemp("demo_exports")
    generate(
        students=40, seed=11, out=out, academic_year=2025, until=date(2025, 10, 31),
        system_exports=True,
    )  # fmt: skip
    return out


def _load(session: Session, source: str, paths: list[Path], year: int) -> list:
    reports = []
    for path in paths:
        report = load_file(session, source, path, year=year)
        assert report.status == "loaded", report.as_text()
        reports.append(report)
    session.expire_all()
    return reports


def _truth(folder: Path, source: str) -> pd.DataFrame:
    events = pd.read_csv(folder / "events.csv", dtype={"student_id": str, "module_code": str})
    events = events[events["source"] == source].assign(date=events["occurred_at"].str[:10])
    return events


def _daily(frame: pd.DataFrame) -> dict[tuple[str, str], tuple[float, float | None]]:
    grouped = frame.groupby(KEYS).agg(
        quantity=("quantity", "sum"), minutes=("minutes", lambda s: s.sum(min_count=1))
    )
    return {
        key: (float(q), None if pd.isna(m) else float(m))
        for key, q, m in zip(grouped.index, grouped["quantity"], grouped["minutes"], strict=True)
    }


def _stored(session: Session, source: str) -> pd.DataFrame:
    frame = activity_frame(session)
    return frame[frame["source"] == source]


def test_every_system_export_loads_to_the_generators_truth(session: Session, demo: Path):
    planted = json.loads((demo / "planted.json").read_text())
    year = planted["academic_year"]
    notes = planted["system_exports"]
    for source, name in [
        ("students", "students.csv"),
        ("enrolments", "enrolments.csv"),
        ("calendar", "calendar.csv"),
        ("timetable", "timetable/events.csv"),
        ("timetable", "timetable/student_event.csv"),
        ("moodle-users", "moodle_users.csv"),
    ]:
        _load(session, source, [demo / name], year)

    # QR: scans matched inside the window, repeats collapsed, unexpected kept but not counted
    (qr,) = _load(session, "qr", [demo / "qr" / "scans.csv"], year)
    assert _daily(_stored(session, "attendance")) == _daily(_truth(demo, "attendance"))
    assert qr.rows_read == notes["qr"]["rows"]

    # Echo360
    _load(session, "echo360", [demo / "echo360" / "views.csv"], year)
    assert _daily(_stored(session, "lecture_capture")) == _daily(_truth(demo, "lecture_capture"))

    # grading worksheets (due dates from assignments.csv beside them)
    sheets = sorted((demo / "submissions").glob("Grades-*.csv"))
    assert sheets
    _load(session, "submissions", sheets, year)
    assert _daily(_stored(session, "submission")) == _daily(_truth(demo, "submission"))

    # Teams: the reports of the first weeks (every variant), each matched to its planted event
    held = notes["teams"]["report_event_ids"]
    starts = pd.read_csv(demo / "timetable" / "events.csv", dtype=str).set_index("EVENT_ID")
    reports = [
        p
        for p in sorted((demo / "teams").glob("*.csv"))
        if starts.loc[held[p.name], "EVENT_START"][:10] <= TEAMS_UNTIL
    ]
    assert len(reports) >= 20
    loaded = _load(session, "teams", reports, year)
    online = _truth(demo, "online")
    assert _daily(_stored(session, "online")) == _daily(online[online["date"] <= TEAMS_UNTIL])
    for path, report in zip(reports, loaded, strict=True):
        nobody = any(n.startswith("0 student(s)") for n in report.notes)
        assert nobody or f"matched to timetabled event {held[path.name]} " in report.notes[0]
    matched = {
        a.event_id for a in session.scalars(select(Attendance).where(Attendance.source == "online"))
    }
    assert matched <= {held[p.name] for p in reports}
    variants = {_variant(p) for p in reports}
    assert variants == {"utf16_tab", "utf8_comma", "utf8_semicolon", "utf16_de", "legacy"}

    # Moodle course Logs downloads: their modules, over what they cover
    logs = notes["moodle_log"]["files"]
    _load(session, "moodle-log", [demo / f["file"] for f in logs], year)
    vle = _truth(demo, "vle")
    covered = pd.concat(
        [
            vle[
                (vle["module_code"] == f["module"])
                & (vle["date"] >= f["covers"]["from"])
                & (vle["date"] <= f["covers"]["to"])
            ]
            for f in logs
        ]
    )
    assert _daily(_stored(session, "vle")) == _daily(covered)

    # logstore: every student and module over the days it covers (replaces the same counts)
    covers = notes["moodle_logstore"]["covers"]
    assert covers["modules"] == "all"
    _load(
        session, "moodle-logstore", [demo / "moodle_logstore" / "logstore_standard_log.csv"], year
    )
    stored = _stored(session, "vle")
    inside = (stored["date"] >= covers["from"]) & (stored["date"] <= covers["to"])
    window = (vle["date"] >= covers["from"]) & (vle["date"] <= covers["to"])
    assert _daily(stored[inside]) == _daily(vle[window])
    assert len(stored[inside]) > 0
