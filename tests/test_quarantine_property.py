"""Quarantine is correct at any size (issue #13): the good rows loaded under --quarantine are exactly
what loading the good rows alone gives, every bad row is kept aside, and the counts add up."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.export import activity_frame
from lib.ingest.pipeline import load_file
from lib.store.db import get_engine, init_db, session_factory
from lib.store.models import Load, QuarantinedRow
from tests.test_ingest_canonical import EVENTS_HEADER, STUDENT_ROWS, STUDENTS_HEADER, snapshot

STUDENTS = ["20240001", "20240002", "20240003"]
# one bad value per bad row, each a different kind of refusal
BAD_KINDS = [
    lambda r: r.replace(",vle,", ",VLE words,"),  # not a source word
    lambda r: r.replace(",2024-", ",9999-"),  # implausible date
    lambda r: r.replace(",2024-10-", ",2024-13-"),  # impossible date
    lambda r: r.replace(",1,", ",-1,", 1),  # negative quantity
    lambda r: r.replace(",1,", ",inf,", 1),  # infinite quantity
    lambda r: "29999999" + r[8:],  # unknown student
    lambda r: r + "M" * 50,  # module code too long
    lambda r: r[8:],  # no student id
]


def good_rows(rng: random.Random, count: int) -> list[str]:
    """Distinct valid rows (never duplicates: a duplicate of a good row is itself a bad row)."""
    rows: set[str] = set()
    while len(rows) < count:
        student = rng.choice(STUDENTS)
        day = rng.randint(1, 28)
        hour = rng.randint(0, 23)
        minutes = rng.choice(["", str(rng.randint(0, 90))])
        rows.add(
            f"{student},vle,2024-10-{day:02d}T{hour:02d}:00,1,{minutes},MOD{rng.randint(1, 3)}"
        )
    return sorted(rows)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A migrated SQLite store holding the students, copied for every example."""
    folder = tmp_path_factory.mktemp("quarantine")
    path = folder / "template.db"
    url = f"sqlite:///{path}"
    init_db(url)
    students = folder / "students.csv"
    students.write_text("\n".join([STUDENTS_HEADER, *STUDENT_ROWS]) + "\n", encoding="utf-8")
    with session_factory(url)() as session:
        assert load_file(session, "students", students).status == "loaded"
    get_engine(url).dispose()
    return path


def _store(template: Path, folder: Path, name: str) -> Session:
    path = folder / name
    shutil.copy(template, path)
    return session_factory(f"sqlite:///{path}")()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    good=st.integers(0, 60),
    bad=st.one_of(st.integers(0, 40), st.integers(990, 1600)),
    seed=st.integers(0, 2**32 - 1),
)
def test_quarantine_equals_loading_the_good_rows_alone(template, tmp_path_factory, good, bad, seed):
    assume(good + bad > 0)  # a header alone is refused as such
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("example")
    goods = good_rows(rng, good)
    bads = [rng.choice(BAD_KINDS)(rng.choice(good_rows(rng, 1))) for _ in range(bad)]
    lines = [(row, False) for row in goods] + [(row, True) for row in bads]
    rng.shuffle(lines)
    mixed = folder / "mixed.csv"
    mixed.write_text(EVENTS_HEADER + "\n" + "\n".join(r for r, _ in lines) + "\n", encoding="utf-8")
    alone = folder / "alone.csv"
    alone.write_text(EVENTS_HEADER + "\n" + "\n".join(goods) + "\n", encoding="utf-8")
    bad_lines = {n for n, (_, is_bad) in enumerate(lines, start=2) if is_bad}

    with _store(template, folder, "q.db") as quarantined, _store(template, folder, "a.db") as plain:
        report = load_file(quarantined, "events", mixed, quarantine=True)
        if bad and len(bad_lines) <= 100_000:
            assert report.status == "loaded_with_quarantine", report.as_text()
        assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (
            good + bad,
            good,
            bad,
        ), report.as_text()
        load = quarantined.scalar(select(Load).where(Load.id == report.load_id))
        assert (load.rows_read, load.rows_loaded, load.rows_rejected) == (good + bad, good, bad)
        kept = set(quarantined.scalars(select(QuarantinedRow.row_number)))
        assert kept == bad_lines
        if good:
            assert load_file(plain, "events", alone).status == "loaded"
        expected = activity_frame(plain)
        assert activity_frame(quarantined).equals(expected)

        before = snapshot(quarantined)  # the same file refused whole without quarantine
        if bad:
            again = load_file(_store(template, folder, "r.db"), "events", mixed)
            assert again.status == "rejected" and again.rows_rejected == bad
        assert snapshot(quarantined) == before
