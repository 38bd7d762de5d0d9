"""Demo history: earlier complete years of other students with their outcomes, deterministic, leaving
the current year's files unchanged, loaded by the sample loader, which then trains the risk model."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from lib.demo import generate
from lib.risk import show
from lib.store.db import init_db, session_scope
from lib.usecases import load_sample_folder

ARGS = dict(students=60, seed=5, academic_year=2025, until=date(2025, 11, 14), system_exports=False)


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("history")
    out = {name: root / name for name in ("a", "b", "plain")}
    for name in ("a", "b"):
        generate(out=out[name], past_years=2, past_students=80, **ARGS)
    generate(out=out["plain"], **ARGS)
    return out


def test_same_seed_same_bytes_and_the_current_year_unchanged(folders):
    a, b, plain = (_digests(folders[k]) for k in ("a", "b", "plain"))
    assert a == b
    history = {k for k in a if k.startswith("history/")}
    assert {k.split("/")[1] for k in history} == {"2023", "2024"}
    current = {k: v for k, v in a.items() if k not in history and k != "planted.json"}
    assert current == {k: v for k, v in plain.items() if k != "planted.json"}


def test_past_years_carry_outcomes_with_dates_and_stop_at_them(folders):
    current = pd.read_csv(folders["a"] / "students.csv", dtype=str)
    seen = set(current["student_id"])
    for year in (2023, 2024):
        part = folders["a"] / "history" / str(year)
        st = pd.read_csv(part / "students.csv", dtype=str)
        assert len(st) == 80 and not set(st["student_id"]) & seen
        seen |= set(st["student_id"])
        assert set(st["status"]) == {"withdrawn", "completed"}
        assert st["status_date"].notna().all()
        assert (st["tutor_username"].isna()).all() and (st["visa_sponsored"] == "no").all()
        left = st[st["status"] == "withdrawn"].set_index("student_id")["status_date"]
        assert f"{year}-09-01" < left.min() and left.max() < f"{year + 1}-09-01"
        ev = pd.read_csv(part / "events.csv", dtype=str)
        gone = ev[ev["student_id"].isin(left.index)]
        assert (gone["occurred_at"].str[:10] < gone["student_id"].map(left)).all()
        assert ev["occurred_at"].str[:10].max() < f"{year + 1}-09-01"
        cal = pd.read_csv(part / "calendar.csv")
        assert (cal["kind"] == "term").sum() == 3


def test_the_sample_loader_loads_history_and_trains_the_model(folders, tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    init_db(url)
    with session_scope(url) as session:
        text = load_sample_folder(session, folders["a"], force=True)
        shown = show(session)
    assert "withdrawal-risk model v1 trained on 2023, tested on 2024" in text
    assert shown["version"] == 1 and shown["train_years"] == "2023"
    assert shown["scores"]["test_withdrawals"] > 0
    assert ("in use" if shown["in_use"] else "not in use") in text
