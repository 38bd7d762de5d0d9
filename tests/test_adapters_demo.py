"""demo-data system exports load through every adapter and the stored activity equals events.csv
(one test per system, each on a copy of one store holding the reference exports)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.export import activity_frame
from lib.ingest.pipeline import load_file
from lib.store.db import get_engine, session_factory
from lib.store.models import Attendance
from tests.conftest import _checkpoint, _once_per_run
from tests.test_ingest_fuzz import PREREQUISITES

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


REFERENCE = PREREQUISITES  # what every system's export needs loaded first


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """40 students, 2025/26 up to the first coursework deadlines, with every system export."""
    from lib.demo import generate

    def build(out: Path) -> None:
        generate(
            students=40, seed=11, out=out, academic_year=2025, until=date(2025, 10, 31),
            system_exports=True,
        )  # fmt: skip

    return _once_per_run(tmp_path_factory, "demo_exports", build)


def _year(demo: Path) -> int:
    return json.loads((demo / "planted.json").read_text())["academic_year"]


@pytest.fixture(scope="session")
def reference_store(demo, sqlite_template, tmp_path_factory) -> Path:
    """The migrated store with the demo's reference exports loaded (students, enrolments,
    calendar, timetable, Moodle users), once per run; each test below loads one system's exports
    into a copy, so the systems are tested side by side (pytest-xdist) rather than in one test."""

    def build(folder: Path) -> None:
        shutil.copyfile(sqlite_template, folder / "store.db")
        url = f"sqlite:///{folder / 'store.db'}"
        with session_factory(url)() as session:
            for source, name in REFERENCE:
                _load(session, source, [demo / name], _year(demo))
        _checkpoint(url)

    return _once_per_run(tmp_path_factory, "demo_reference_store", build) / "store.db"


@pytest.fixture
def referenced(reference_store, tmp_path, monkeypatch) -> Iterator[Session]:
    """A session on a copy of the reference store; DATABASE_URL points at it."""
    shutil.copyfile(reference_store, tmp_path / "store.db")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    with session_factory(url)() as session:
        yield session
    get_engine(url).dispose()


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


def _notes(demo: Path) -> dict:
    return json.loads((demo / "planted.json").read_text())["system_exports"]


def test_qr_scans_load_to_the_generators_truth(referenced: Session, demo: Path):
    """Scans matched inside the window, repeats collapsed, unexpected kept but not counted."""
    (qr,) = _load(referenced, "qr", [demo / "qr" / "scans.csv"], _year(demo))
    assert _daily(_stored(referenced, "attendance")) == _daily(_truth(demo, "attendance"))
    assert qr.rows_read == _notes(demo)["qr"]["rows"]


def test_echo360_views_load_to_the_generators_truth(referenced: Session, demo: Path):
    _load(referenced, "echo360", [demo / "echo360" / "views.csv"], _year(demo))
    assert _daily(_stored(referenced, "lecture_capture")) == _daily(_truth(demo, "lecture_capture"))


def test_grading_worksheets_load_to_the_generators_truth(referenced: Session, demo: Path):
    """Due dates come from assignments.csv beside the worksheets."""
    sheets = sorted((demo / "submissions").glob("Grades-*.csv"))
    assert sheets
    _load(referenced, "submissions", sheets, _year(demo))
    assert _daily(_stored(referenced, "submission")) == _daily(_truth(demo, "submission"))


def test_teams_reports_load_to_the_generators_truth(referenced: Session, demo: Path):
    """The reports of the first weeks (every variant), each matched to its planted event."""
    session = referenced
    held = _notes(demo)["teams"]["report_event_ids"]
    starts = pd.read_csv(demo / "timetable" / "events.csv", dtype=str).set_index("EVENT_ID")
    reports = [
        p
        for p in sorted((demo / "teams").glob("*.csv"))
        if starts.loc[held[p.name], "EVENT_START"][:10] <= TEAMS_UNTIL
    ]
    assert len(reports) >= 20
    loaded = _load(session, "teams", reports, _year(demo))
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


def test_moodle_logs_then_logstore_load_to_the_generators_truth(referenced: Session, demo: Path):
    """Course Logs downloads: their modules, over what they cover; then the logstore: every
    student and module over the days it covers (replaces the same counts)."""
    session, year, notes = referenced, _year(demo), _notes(demo)
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
