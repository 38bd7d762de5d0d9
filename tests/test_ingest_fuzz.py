"""Fuzz every source (issue #13): a real export with one hostile change either loads or is rejected
with a message naming the file (and the row of each bad row), a rejection leaves the store
unchanged, and compute never fails afterwards. Bounded examples keep the suite fast."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.compute.service import compute
from lib.ingest.pipeline import load_file
from lib.store.db import get_engine, init_db, session_factory
from tests.test_ingest_canonical import snapshot

YEAR = 2025
PREREQUISITES = [
    ("students", "students.csv"),
    ("enrolments", "enrolments.csv"),
    ("calendar", "calendar.csv"),
    ("timetable", "timetable/events.csv"),
    ("timetable", "timetable/student_event.csv"),
    ("moodle-users", "moodle_users.csv"),
]
HOSTILE = [
    "9999-12-31", "0001-01-01", "2030-01-01", "2100-01-01 10:00", "inf", "-inf", "NaN", "1e400",
    "9" * 30, "-1", "", "X" * 5000, "2026.5", '=HYPERLINK("http://evil.example")', "\x00",
    "ñ€😀", '"', "NULL", "31/02/2025", "25:61", "Monday, 45 Smarch 2025", "1h 99999999m",
    "4294967296", "0", "  ", "\t",
]  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    from lib.demo import generate

    out = tmp_path_factory.mktemp("fuzz_demo")
    generate(students=20, seed=5, out=out, academic_year=YEAR, until=date(2025, 10, 24))
    return out


@pytest.fixture(scope="module")
def template(demo, tmp_path_factory) -> Path:
    """A store holding everything other files need (students, enrolments, calendar, timetable,
    Moodle users), copied for every source."""
    path = tmp_path_factory.mktemp("fuzz_store") / "template.db"
    url = f"sqlite:///{path}"
    init_db(url)
    with session_factory(url)() as session:
        for source, name in PREREQUISITES:
            report = load_file(session, source, demo / name, year=YEAR)
            assert report.status == "loaded", report.as_text()
    get_engine(url).dispose()
    return path


def _sample(demo: Path, source: str) -> tuple[Path, list[Path]]:
    """A real export of the source and the side files that must lie beside it."""
    first = lambda folder, pattern: sorted((demo / folder).glob(pattern))[0]  # noqa: E731
    return {
        "students": (demo / "students.csv", []),
        "enrolments": (demo / "enrolments.csv", []),
        "calendar": (demo / "calendar.csv", []),
        "exemptions": (demo / "exemptions.csv", []),
        "timetable": (demo / "timetable" / "events.csv", []),
        "events": (demo / "events.csv", []),
        "submissions": (
            first("submissions", "Grades-*.csv"),
            [demo / "submissions" / "assignments.csv"],
        ),
        "qr": (demo / "qr" / "scans.csv", []),
        "moodle-users": (demo / "moodle_users.csv", []),
        "moodle-log": (first("moodle_log", "logs_*.csv"), []),
        "moodle-logstore": (
            demo / "moodle_logstore" / "logstore_standard_log.csv",
            [demo / "moodle_logstore" / "courses.csv"],
        ),
        "teams": (first("teams", "*.csv"), []),
        "echo360": (demo / "echo360" / "views.csv", []),
    }[source]


def _decode(data: bytes) -> tuple[str, str]:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16"), "utf-16"
    return data.decode("utf-8-sig"), "utf-8-sig" if data[:3] == b"\xef\xbb\xbf" else "utf-8"


def _mutate(text: str, data: st.DataObject) -> str:
    """One hostile change: a cell replaced, the file cut, a line dropped or doubled, a header
    renamed, or junk bytes inserted."""
    lines = text.split("\n")[:120]  # a bounded file keeps each example fast
    kind = data.draw(
        st.sampled_from(["cell", "cell", "cell", "cut", "drop", "double", "header", "junk"])
    )
    if kind in ("cell", "header"):
        i = 0 if kind == "header" else data.draw(st.integers(1, max(len(lines) - 1, 1)))
        i = min(i, len(lines) - 1)
        delimiter = max(("\t", ";", ","), key=lines[i].count) if lines[i] else ","
        cells = lines[i].split(delimiter)
        j = data.draw(st.integers(0, len(cells) - 1))
        cells[j] = data.draw(st.sampled_from(HOSTILE) | st.text(max_size=20))
        lines[i] = delimiter.join(cells)
    elif kind == "cut":
        joined = "\n".join(lines)
        return joined[: data.draw(st.integers(0, len(joined)))]
    elif kind == "drop" and len(lines) > 1:
        del lines[data.draw(st.integers(0, len(lines) - 1))]
    elif kind == "double":
        i = data.draw(st.integers(0, len(lines) - 1))
        lines.insert(i, lines[i])
    elif kind == "junk":
        i = data.draw(st.integers(0, len(lines) - 1))
        lines[i] = lines[i][:5] + data.draw(st.text(min_size=1, max_size=30)) + lines[i][5:]
    return "\n".join(lines)


SOURCES = [
    "students", "enrolments", "calendar", "exemptions", "timetable", "events", "submissions",
    "qr", "moodle-users", "moodle-log", "moodle-logstore", "teams", "echo360",
]  # fmt: skip


@pytest.mark.parametrize("source", SOURCES)
def test_fuzzed_exports_load_or_are_refused_cleanly(source, demo, template, tmp_path):
    store = tmp_path / "store.db"
    shutil.copy(template, store)
    url = f"sqlite:///{store}"
    sample, side_files = _sample(demo, source)
    original, encoding = _decode(sample.read_bytes())
    session = session_factory(url)()
    examples = iter(range(10_000))

    @settings(
        max_examples=int(os.environ.get("FUZZ_EXAMPLES", "8")),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def one_file(data):
        folder = tmp_path / f"example{next(examples)}"
        folder.mkdir()
        for side in side_files:
            shutil.copy(side, folder / side.name)
        path = folder / sample.name
        try:
            path.write_bytes(_mutate(original, data).encode(encoding, errors="surrogatepass"))
        except UnicodeEncodeError:
            return
        before = snapshot(session)
        report = load_file(session, source, path, year=YEAR)
        session.expire_all()
        assert report.status in ("loaded", "loaded_with_quarantine", "unchanged", "rejected")
        text = report.as_text()
        assert sample.name in text
        if report.status == "rejected":
            assert report.message or report.problems, text
            assert "Traceback" not in text and len(text) < 20_000
            for problem in report.problems[:20]:
                where = f"{sample.name}, row {problem.row}" if problem.row else sample.name
                assert where in text
            assert snapshot(session) == before

    try:
        one_file()
        compute(session)  # whatever was loaded, compute does not fail
        compute(session, full=True)
    finally:
        session.close()
        get_engine(url).dispose()


def test_one_bad_teams_time_is_blamed_on_its_row_only(demo, template, tmp_path):
    """A day-first time among month-first ones: that participant's line is reported, the rest load."""
    store = tmp_path / "store.db"
    shutil.copy(template, store)
    url = f"sqlite:///{store}"
    sample = sorted((demo / "teams").glob("*.csv"))
    sample = next(
        p
        for p in sample
        if "PM" in _decode(p.read_bytes())[0].split("\n")[3]
        and _decode(p.read_bytes())[0].count("\tAttendee") >= 4
    )
    text, encoding = _decode(sample.read_bytes())
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if "Attendee" in line)
    cells = lines[at].split("\t" if "\t" in lines[at] else (";" if ";" in lines[at] else ","))
    month, day, rest = cells[1].split("/", 2)
    lines[at] = lines[at].replace(cells[1], f"{day}/{month}/{rest}".replace(day, "29", 1), 1)
    path = tmp_path / sample.name
    path.write_bytes("\n".join(lines).encode(encoding))
    with session_factory(url)() as session:
        report = load_file(session, "teams", path, year=YEAR)
        assert report.status == "rejected"
        assert len(report.problems) == 1, report.as_text()
        assert f"{sample.name}, row {at + 1}, column 'First Join'" in report.as_text()
        again = load_file(session, "teams", path, year=YEAR, quarantine=True)
        assert again.status == "loaded_with_quarantine", again.as_text()
    get_engine(url).dispose()
